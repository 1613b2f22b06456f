"""Analytic checks of the torch backend: leaky integration, autapse fixed point, and
the steady state of DFC Lemma 1 (eq. 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.backends.torch import TorchSimulator
from neurosim.ir import Integrate, Model, Probe, Variable
from neurosim.testing import assert_allclose, dfc_model

F64 = torch.float64


def _integrator(tau: float, dt: float, w: float, x0: float, drive: float, n: int = 3) -> Model:
    """``tau dx/dt = -(1 - w) x + I`` (autapse with self-weight ``w``), ``x(0) = x0``."""
    V = {
        "p.x": Variable("p.x", "state", (1, n)),
        "p.x0": Variable("p.x0", "input", (1, n), value=np.full(n, x0)),
        "p.I": Variable("p.I", "input", (1, n), value=np.full(n, drive)),
    }
    init = [Integrate("p_init", var="p.x", tau=None, inputs=((1.0, "p.x0"),))]
    step = [Integrate("p_int", var="p.x", tau=tau, leak=1.0 - w, inputs=((1.0, "p.I"),))]
    return Model(V, init, step, dt=dt, probes=[Probe("p.x")])


def _trace(model: Model, steps: int, dtype=F64) -> torch.Tensor:
    sim = TorchSimulator(model, dtype=dtype)
    sim.reset({}, batch=2)
    return sim.run(steps).traces["p.x"][:, 0, 0].double()


def test_leaky_integrator_euler_exact(dtype: torch.dtype = F64) -> None:
    """x_k = x0 (1 - dt/tau)^k exactly (forward Euler of tau dx/dt = -x)."""
    tau, dt, k = 0.5, 0.01, 300
    x = _trace(_integrator(tau, dt, 0.0, 1.5, 0.0), k)
    exact = 1.5 * (1 - dt / tau) ** torch.arange(k + 1, dtype=F64)
    assert_allclose(x, exact)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_leaky_integrator_relaxes_exponentially(dtype: torch.dtype) -> None:
    """|x_k - x0 exp(-t/tau)| = O(dt): halving dt halves the error."""
    tau, t_end = 0.5, 1.0
    errs = []
    for dt in (0.01, 0.005):
        k = round(t_end / dt)
        x = _trace(_integrator(tau, dt, 0.0, 1.0, 0.0), k, dtype)
        t = torch.arange(k + 1, dtype=F64) * dt
        errs.append(float((x - torch.exp(-t / tau)).abs().max()))
    assert errs[0] < 0.01
    assert errs[1] / errs[0] == pytest.approx(0.5, abs=0.02)


def test_autapse_reaches_input_over_one_minus_w() -> None:
    w, drive, tau, dt = 0.6, 0.8, 0.1, 0.01
    x = _trace(_integrator(tau, dt, w, 0.0, drive), 2000)
    assert_allclose(x[-1], drive / (1 - w))


def _jacobian_Q(sim: TorchSimulator, L: int, acts: list[str]) -> torch.Tensor:
    """``J Q = sum_i J_i Q_i`` at the feedforward point (DFC eq. 6), per sample (B, n_L, n_L).
    ``J_L = diag phi'(v_L)``, ``J_i = J_{i+1} W_{i+1} diag phi'(v_i)``."""
    p, s = sim.params, sim.state
    d = {"tanh": lambda v: 1 - torch.tanh(v) ** 2, "linear": torch.ones_like}
    dphi = [d[a](s[f"h{i}.v_basal"]) for i, a in zip(range(1, L + 1), acts, strict=True)]
    J = torch.diag_embed(dphi[-1])
    JQ = J @ p[f"ctrl_to_h{L}_apical.W"]
    for i in range(L - 1, 0, -1):
        J = (J @ p[f"h{i}_to_h{i + 1}_basal.W"]) * dphi[i - 1][:, None, :]
        JQ = JQ + J @ p[f"ctrl_to_h{i}_apical.W"]
    return JQ


def _lemma1_error(lam: float, acts: list[str], alpha: float = 0.1) -> tuple[float, float]:
    """Relative error of the simulated u_ss against (J Q + alpha I)^{-1} delta, and the
    ratio |e_end| / |e_start| of the output error."""
    sizes = [6, 8, 7, 4]
    model = dfc_model(sizes, lam=lam, alpha=alpha, k_p=1.5, activations=acts, seed=5, loss="mse")
    sim = TorchSimulator(model, dtype=F64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, sizes[0], generator=g, dtype=F64)
    y = torch.randn(3, sizes[-1], generator=g, dtype=F64)
    sim.reset({"x.r": x, "ctrl.label": y})
    delta = sim.state["ctrl.target"] - sim.state["h3.r"]
    JQ = _jacobian_Q(sim, 3, acts)
    u_pred = torch.linalg.solve(JQ + alpha * torch.eye(4, dtype=F64), delta.unsqueeze(-1))[..., 0]
    res = sim.run_until_steady(
        tol=1e-13, max_steps=200_000, check_every=200, record=["ctrl.e"], plasticity="off"
    )
    assert (res.converged_at > 0).all()
    u = sim.state["ctrl.u"]
    err = float((u - u_pred).norm() / u_pred.norm())
    e = res.traces["ctrl.e"]
    return err, float(e[-1].norm() / e[1].norm())


def test_lemma1_exact_for_linear_network() -> None:
    err, _ = _lemma1_error(0.5, ["linear"] * 3)
    assert err < 1e-9


def test_lemma1_steady_state_error_shrinks_with_lambda() -> None:
    """tanh network: u_ss = (JQ + alpha I)^{-1} delta + O(lambda^2) (the linearisation of
    Lemma 1): the relative error is small and falls ~10x when lambda falls 10x."""
    acts = ["tanh", "tanh", "linear"]
    err_big, _ = _lemma1_error(5e-3, acts)
    err_small, _ = _lemma1_error(5e-4, acts)
    assert err_big < 0.05
    assert err_small < err_big / 5


def test_controller_drives_output_to_target() -> None:
    """With a small leak alpha the PI controller removes the output error:
    e_ss = alpha u_ss, so |e_end| << |e_start|."""
    _, ratio = _lemma1_error(0.05, ["tanh", "tanh", "linear"], alpha=1e-3)
    assert ratio < 0.02
