"""The hand-written reference loop of DFC.md §1.2 against the closed forms."""

from __future__ import annotations

import torch
from dfc_reference_loop import controller_loop, last_step_gradients

from neurosim.models import diagnostics as diag
from neurosim.models.dfc.network import feedforward, weight_product_feedback
from neurosim.models.dfc.steady_state import output_target, ssa_steady_state, steady_state_gradients

DT = torch.float64


def _setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = [6, 5, 4, 3]
    W = [
        torch.randn(sizes[i + 1], sizes[i], generator=g, dtype=DT) / sizes[i] ** 0.5
        for i in range(3)
    ]
    b = [0.1 * torch.randn(n, generator=g, dtype=DT) for n in sizes[1:]]
    x = torch.randn(5, 6, generator=g, dtype=DT)
    y = torch.randint(0, 3, (5,), generator=g)
    return x, y, W, b, ["tanh", "tanh", "linear"]


def _ss_vs_ssa_angle(lam: float) -> float:
    x, y, W, b, acts = _setup()
    Q = weight_product_feedback(W)
    vs, rs = feedforward(x, W, b, acts)
    r_star = output_target(rs[-1], y, "classification", lam)
    kw = dict(alpha=1e-3, k_p=2.0, dt=0.02, T=1500, tau_v=0.2, tau_A=0.02, proactive=True)
    tr = controller_loop(x, W, b, Q, acts, r_star, **kw)
    ss = [(-a, -c) for a, c in last_step_gradients(x, tr, acts)]
    dv, r_ss, _ = ssa_steady_state(x, vs, rs, r_star - rs[-1], W, b, Q, acts, 1e-3)
    ssa = [(-a, -c) for a, c in steady_state_gradients(x, dv, r_ss, W, b, acts)]
    return max(diag.layer_angles(ss, ssa))


def test_ssa_matches_simulated_steady_state_in_small_lambda_limit():
    """DFC-SSA linearises the steady state (DFC.md §1.4): its update approaches
    the simulated DFC-SS update as lambda -> 0."""
    angles = [_ss_vs_ssa_angle(lam) for lam in (1.0, 0.1, 0.01)]
    assert angles[2] < angles[1] < angles[0]
    assert angles[2] < 0.1
