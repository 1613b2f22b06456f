"""The backend-based DFC phases against the hand-written loop of DFC.md §1.2–1.5.

float64; the forward phase without noise; the sleep phase with the backend's own
noise, recovered from its recorded apical traces and replayed in the reference loop.
"""

from __future__ import annotations

import pytest
import torch
from dfc_reference_loop import (
    controller_loop,
    converged_mask,
    feedback_gradients,
    last_step_gradients,
    time_integrated_gradients,
)

from neurosim.models import registry
from neurosim.models.base import Task
from neurosim.models.dfc.network import feedforward
from neurosim.models.dfc.simulation import (
    _simulator,
    forward_phase_gradients,
    sleep_phase_gradients,
)
from neurosim.models.dfc.steady_state import output_target
from neurosim.testing import assert_allclose

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


TASK = Task("classification", 7, 3)
BASE = {
    "size_hidden": [6, 5],
    "tmax_di": 60,
    "dt_di": 0.02,
    "alpha_di": 0.05,
    "k_p": 1.5,
    "time_constant_ratio": 0.2,
    "target_stepsize": 0.5,
}


def _setup(name, **params):
    m = registry.create(name, TASK, {**BASE, **params}, seed=7)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 7, generator=g, dtype=DT)
    y = torch.randint(0, 3, (9,), generator=g)
    return m, x, y


def _reference(m, x, y, proactive=True):
    cfg = m.cfg
    W, b, Q = m._tensors()
    vs, rs = feedforward(x, W, b, cfg.activations)
    r_star = output_target(rs[-1], y, "classification", cfg.target_stepsize)
    tr = controller_loop(
        x,
        W,
        b,
        Q,
        list(cfg.activations),
        r_star,
        alpha=cfg.alpha_di,
        k_p=cfg.k_p,
        dt=cfg.dt_di,
        T=cfg.tmax_di,
        tau_v=cfg.tau_v,
        tau_A=cfg.tau_A,
        proactive=proactive,
    )
    return vs, rs, r_star, tr


@pytest.mark.parametrize("proactive", [True, False])
@pytest.mark.parametrize("name", ["dfc", "dfc-ss"])
def test_forward_phase_matches_reference_loop(name, proactive):
    m, x, y = _setup(name, include_non_converged_samples=True, proactive_controller=proactive)
    vs, rs, r_star, tr = _reference(m, x, y, proactive)
    grads, _ = forward_phase_gradients(m, x, vs, rs, r_star - rs[-1])
    rule = time_integrated_gradients if name == "dfc" else last_step_gradients
    ref = rule(x, tr, list(m.cfg.activations))
    for (gw, gb), (rw, rb) in zip(grads, ref, strict=True):
        assert_allclose(gw, rw, rtol_scale=10)
        assert_allclose(gb, rb, rtol_scale=10)
    assert float(torch.linalg.vector_norm(ref[0][0])) > 1e-4  # a non-trivial update


def test_forward_phase_final_state_matches_reference_loop():
    m, x, y = _setup("dfc")
    vs, rs, r_star, tr = _reference(m, x, y)
    forward_phase_gradients(m, x, vs, rs, r_star - rs[-1])
    pc = _simulator(m, "forward")
    L = len(m.weights)
    for i in range(1, L + 1):
        for comp, trace in (("v", tr.v), ("v_basal", tr.v_basal), ("r", tr.r)):
            state = pc.absolute(pc.names.compartment(i, comp))
            assert_allclose(state, trace[i - 1][-1], rtol_scale=10)
    assert_allclose(pc.sim.state[pc.names.control], tr.u[-1], rtol_scale=10)


@pytest.mark.parametrize("tmax", [800, 900])  # 4 / 6 of 9 converge: either group rerun
def test_convergence_filter_drops_non_converged_samples(tmax):
    """DFC.md §1.3: non-converged samples give no update, normalisation stays 1/B."""
    m, x, y = _setup("dfc-fixed", tmax_di=tmax)
    vs, rs, r_star, tr = _reference(m, x, y)
    keep = converged_mask(tr, r_star, rs[-1], m.cfg.alpha_di, m.cfg.epsilon_di)
    assert 0 < int(keep.sum()) < len(keep), "test needs a mix of converged samples"
    grads, metrics = forward_phase_gradients(m, x, vs, rs, r_star - rs[-1])
    assert metrics["converged"] == pytest.approx(float(keep.double().mean()))
    ref = time_integrated_gradients(x, tr, list(m.cfg.activations), keep=keep)
    for (gw, gb), (rw, rb) in zip(grads, ref, strict=True):
        assert_allclose(gw, rw, rtol_scale=10)
        assert_allclose(gb, rb, rtol_scale=10)


def test_sleep_phase_matches_reference_loop_with_replayed_noise():
    m, x, _ = _setup("dfc-ssa", sigma=0.05, tmax_di_fb=30)
    cfg = m.cfg
    pc = _simulator(m, "sleep")
    n = pc.names
    L = len(m.weights)
    r_ff = m(x)
    pc.sim.manual_seed(3)
    pc.sim.reset({n.input: x, n.label: r_ff})
    rec = [n.compartment(i, "v_apical") for i in range(1, L + 1)] + [n.control]
    res = pc.sim.run(cfg.tmax_di_fb - 1, record=rec, plasticity="accumulate")
    W, b, Q = m._tensors()
    # recover xi from the recorded apical traces (non-proactive: Q u[k] drives step k)
    u = res.traces[n.control]
    dt, tau = cfg.dt_di_fb, cfg.tau_A_fb
    sig = [cfg.sigma_hidden_fb] * (L - 1) + [cfg.sigma_out_fb]
    noise = []
    for i in range(L):
        vA = res.traces[rec[i]]
        drift = vA[:-1] + dt / tau * (-vA[:-1] + u[:-1] @ Q[i].t())
        noise.append((vA[1:] - drift) / (sig[i] * dt**0.5 / tau))
    tr = controller_loop(
        x,
        W,
        b,
        Q,
        list(cfg.activations),
        r_ff,
        alpha=cfg.alpha_fb,
        k_p=cfg.k_p_fb,
        dt=dt,
        T=cfg.tmax_di_fb,
        tau_v=cfg.tau_v_fb,
        tau_A=tau,
        proactive=False,
        sigma=sig,
        noise=noise,
    )
    assert_allclose(u, tr.u, rtol_scale=1e3)
    for i in range(L):
        assert_allclose(res.traces[rec[i]], tr.v_apical[i], rtol_scale=1e3)
    assert float(noise[0].std()) == pytest.approx(1.0, abs=0.15)  # it really is N(0, 1)
    ref = feedback_gradients(tr, cfg.fb_scale)
    pc.sim.manual_seed(3)
    grads, _ = sleep_phase_gradients(m, x)
    for g, r in zip(grads, ref, strict=True):
        assert_allclose(g, r, rtol_scale=1e3)
    assert float(torch.linalg.vector_norm(ref[0])) > 0
