"""TorchSimulator on the IR of a DFC network against the literal DFC.md §1.2 loop.

Traces (v, v_B, v_A, u), the time-integrated and last-step forward updates (eq. 5,
DFC.md §1.4) and the feedback update (eq. 13, §1.5) must agree to float64 rounding.
"""

from __future__ import annotations

import pytest
import torch
from dfc_reference_loop import (
    controller_loop,
    feedback_gradients,
    last_step_gradients,
    time_integrated_gradients,
)

from neurosim.backends.torch import TorchSimulator
from neurosim.backends.torch.kernels import make_generator
from neurosim.testing import assert_allclose, dfc_model

SIZES = [7, 6, 5, 3]
ACTS = ["tanh", "tanh", "linear"]
DT = torch.float64


def _setup(T: int, **kw):
    model = dfc_model(SIZES, lam=0.5, seed=3, **kw)
    sim = TorchSimulator(model, dtype=DT)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, SIZES[0], generator=g, dtype=DT)
    y = torch.nn.functional.one_hot(torch.arange(5) % 3, 3).to(DT)
    sim.reset({"x.r": x, "ctrl.label": y})
    p = sim.params
    pre = ["x"] + [f"h{i}" for i in range(1, len(SIZES) - 1)]
    W = [p[f"{pre[i]}_to_h{i + 1}_basal.W"] for i in range(3)]
    b = [p[f"{pre[i]}_to_h{i + 1}_basal.b"] for i in range(3)]
    Q = [p[f"ctrl_to_h{i + 1}_apical.W"] for i in range(3)]
    r_star = sim.state["ctrl.target"].clone()
    return sim, x, W, b, Q, r_star


def _record():
    return [f"h{i}.{c}" for i in (1, 2, 3) for c in ("v", "v_basal", "v_apical")] + ["ctrl.u"]


@pytest.mark.parametrize("proactive", [True, False])
@pytest.mark.parametrize("tau_a", [None, 0.05])
def test_traces_and_time_integrated_rule(proactive: bool, tau_a: float | None) -> None:
    T, dt = 120, 0.02
    kw = dict(proactive=proactive, tau_a=tau_a, alpha=0.01, k_p=1.5, dt=dt, tau_v=0.2)
    sim, x, W, b, Q, r_star = _setup(T, **kw)
    res = sim.run(T - 1, record=_record())
    tr = controller_loop(
        x,
        W,
        b,
        Q,
        ACTS,
        r_star,
        alpha=0.01,
        k_p=1.5,
        dt=dt,
        T=T,
        tau_v=0.2,
        tau_A=tau_a or dt,
        proactive=proactive,
    )
    for i in range(3):
        h = f"h{i + 1}"
        assert_allclose(res.traces[f"{h}.v"], tr.v[i], msg=f"{h}.v")
        assert_allclose(res.traces[f"{h}.v_apical"], tr.v_apical[i], msg=f"{h}.v_apical")
        # v_basal of the hoisted first layer holds W x + b from row 0 on (documented)
        assert_allclose(res.traces[f"{h}.v_basal"][1:], tr.v_basal[i][1:], msg=f"{h}.v_basal")
    assert_allclose(res.traces["ctrl.u"], tr.u, msg="u")
    for i, (gW, gb) in enumerate(time_integrated_gradients(x, tr, ACTS)):
        pre = "x" if i == 0 else f"h{i}"
        assert_allclose(res.updates[f"{pre}_to_h{i + 1}_basal.W"], -gW / 2, msg=f"dW{i + 1}")
        assert_allclose(res.updates[f"{pre}_to_h{i + 1}_basal.b"], -gb / 2, msg=f"db{i + 1}")


def test_last_step_rule() -> None:
    T = 80
    sim, x, W, b, Q, r_star = _setup(T, window="last", alpha=0.01)
    res = sim.run(T - 1, record=_record())
    tr = controller_loop(
        x,
        W,
        b,
        Q,
        ACTS,
        r_star,
        alpha=0.01,
        k_p=2.0,
        dt=0.02,
        T=T,
        tau_v=0.2,
        tau_A=0.02,
        proactive=True,
    )
    assert "[final]" in sim.describe_plan()
    for i, (gW, gb) in enumerate(last_step_gradients(x, tr, ACTS)):
        pre = "x" if i == 0 else f"h{i}"
        assert_allclose(res.updates[f"{pre}_to_h{i + 1}_basal.W"], -gW / 2)
        assert_allclose(res.updates[f"{pre}_to_h{i + 1}_basal.b"], -gb / 2)


@pytest.mark.parametrize("fast_noise", [True, False])
def test_noisy_sleep_phase_feedback_rule(fast_noise: bool) -> None:
    """Sleep phase: noise on every apical compartment (Euler-Maruyama, sigma sqrt(dt)/tau_A),
    non-proactive, feedback rule -<v_A[k] u[k+1]^T> over the steps (eq. 13). The
    reference loop draws the same normals: float64, or float32 widened (``fast_noise``)."""
    T, dt, tau_a, sigma = 40, 0.005, 0.3, 0.05
    kw = dict(
        proactive=False,
        tau_a=tau_a,
        alpha=0.5,
        k_p=0.2,
        dt=dt,
        tau_v=0.01,
        sigma=sigma,
        feedback_rule=True,
        loss="given",
    )
    model = dfc_model(SIZES, lam=0.5, seed=3, **kw)
    sim = TorchSimulator(model, dtype=DT, fast_noise=fast_noise)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, SIZES[0], generator=g, dtype=DT)
    draw_dtype = torch.float32 if fast_noise else DT
    # target = feedforward output: run the init sweep once to get it
    sim.reset({"x.r": x, "ctrl.label": torch.zeros(5, 3, dtype=DT)})
    sim.reset({"x.r": x, "ctrl.label": sim.state["h3.r"].clone()})
    p = sim.params
    W = [p[f"{a}_to_h{i + 1}_basal.W"] for i, a in enumerate(["x", "h1", "h2"])]
    b = [p[f"{a}_to_h{i + 1}_basal.b"] for i, a in enumerate(["x", "h1", "h2"])]
    Q = [p[f"ctrl_to_h{i + 1}_apical.W"] for i in range(3)]
    noise = []
    for i in range(3):
        gen = make_generator(3 * 1000 + i + 1, torch.device("cpu"))
        noise.append(
            torch.stack(
                [
                    torch.randn(5, SIZES[i + 1], generator=gen, dtype=draw_dtype).to(DT)
                    for _ in range(T - 1)
                ]
            )
        )
    res = sim.run(T - 1, record=_record())
    tr = controller_loop(
        x,
        W,
        b,
        Q,
        ACTS,
        sim.state["ctrl.target"],
        alpha=0.5,
        k_p=0.2,
        dt=dt,
        T=T,
        tau_v=0.01,
        tau_A=tau_a,
        proactive=False,
        sigma=[sigma] * 3,
        noise=noise,
    )
    for i in range(3):
        assert_allclose(res.traces[f"h{i + 1}.v_apical"], tr.v_apical[i])
    for i, gQ in enumerate(feedback_gradients(tr, 1.0)):
        assert_allclose(res.updates[f"ctrl_to_h{i + 1}_apical.W"], -gQ, msg=f"dQ{i + 1}")
