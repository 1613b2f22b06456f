"""The built IR, executed literally with numpy, reproduces the Euler loop of DFC.md §1.2
(and the rule pairings of §1.4-1.5) written out by hand, on a small 2-layer net."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.circuits import PIController
from neurosim.ir.reference import simulate

SIZES, T, DT, TAU_V, K_P, ALPHA, LAM = (3, 4, 2), 60, 0.05, 0.2, 1.5, 0.05, 0.4


def _model(
    acts,
    proactive=True,
    transmission="instantaneous",
    plasticity="forward",
    loss="mse",
    tau_apical=None,
):
    ctrl = PIController(k_p=K_P, alpha=ALPHA, lam=LAM, loss=loss, proactive=proactive)
    net = neurosim.HierarchyBuilder(
        SIZES,
        nonlinearities=acts,
        controller=ctrl,
        tau_v=TAU_V,
        transmission=transmission,
        plasticity=plasticity,
        tau_apical=tau_apical,
        seed=1,  # J Q stable for seed 1
    ).build()
    return neurosim.build(net, dt=DT)


def _hand_loop(model, x, y, acts, proactive, inst, loss="mse", tau_a=None):
    """DFC.md §1.2, written from the fact sheet (not from the IR)."""
    p = {k: v.value for k, v in model.variables.items() if v.kind == "parameter"}
    W = [p["W1.W"], p["W2.W"]]
    b = [p["W1.b"], p["W2.b"]]
    Q = [p["Q1.W"], p["Q2.W"]]
    phi = [{"tanh": np.tanh, "linear": lambda v: v}[a] for a in acts]
    tau_a = DT if tau_a is None else tau_a
    # feedforward pass and target
    vB, v, r = [], [], []
    pre = x
    for i in range(2):
        vB.append(pre @ W[i].T + b[i])
        v.append(vB[i].copy())
        r.append(phi[i](v[i]))
        pre = r[i]
    target = r[1] - LAM * 2 * (r[1] - y) / SIZES[-1] if loss == "mse" else y
    vA = [np.zeros_like(vB[0]), np.zeros_like(vB[1])]
    u_int = np.zeros_like(r[1])
    u = np.zeros_like(r[1])
    tr = {"u": [u], "v1": [v[0]], "v2": [v[1]], "vA1": [vA[0]]}
    dW = [0.0, 0.0]
    dQ = [0.0, 0.0]

    def sample_w():
        pres = [x, r[0]]
        for i in range(2):
            dW[i] = dW[i] + (phi[i](v[i]) - phi[i](vB[i])).T @ pres[i] / x.shape[0]

    sample_w()
    for _k in range(T - 1):
        e = target - r[1]
        u_new_int = u_int + DT * (e - ALPHA * u)
        u_new = u_new_int + K_P * e
        u_drive = u_new if proactive else u
        vA_prev = [a.copy() for a in vA]
        rates_prev = [a.copy() for a in r]
        for i in range(2) if inst else range(1, -1, -1):
            below = x if i == 0 else (r[0] if inst else rates_prev[0])
            vB[i] = below @ W[i].T + b[i]
            vA[i] = vA[i] + DT / tau_a * (-vA[i] + u_drive @ Q[i].T)
            v[i] = v[i] + DT / TAU_V * (-v[i] + vA[i] + vB[i])
            r[i] = phi[i](v[i])
        u_int, u = u_new_int, u_new
        for i in range(2):
            dQ[i] = dQ[i] - vA_prev[i].T @ u / x.shape[0]
        sample_w()
        tr["u"].append(u)
        tr["v1"].append(v[0])
        tr["v2"].append(v[1])
        tr["vA1"].append(vA[0])
    return ({k: np.stack(a) for k, a in tr.items()}, [d / T for d in dW], [d / (T - 1) for d in dQ])


@pytest.mark.parametrize(
    ("acts", "proactive", "transmission"),
    [
        (("linear", "linear"), True, "instantaneous"),
        (("linear", "linear"), False, "instantaneous"),
        (("tanh", "linear"), True, "delayed"),
        (("tanh", "linear"), False, "delayed"),
    ],
)
def test_forward_phase_matches_hand_loop(acts, proactive, transmission):
    model = _model(acts, proactive, transmission)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, SIZES[0])), rng.normal(size=(3, SIZES[-1]))
    traces, updates, _ = simulate(model, {"x.r": x, "ctrl.label": y}, T - 1, "accumulate")
    ref, dW, _ = _hand_loop(model, x, y, acts, proactive, transmission == "instantaneous")
    for ours, theirs in (("ctrl.u", "u"), ("l1.v", "v1"), ("l2.v", "v2")):
        np.testing.assert_allclose(traces[ours], ref[theirs], rtol=1e-12, atol=1e-12)
    assert np.abs(ref["u"][-1]).max() > 1e-3  # the controller actually acts
    np.testing.assert_allclose(updates["W1.W"], dW[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(updates["W2.W"], dW[1], rtol=1e-12, atol=1e-14)


def test_sleep_phase_feedback_rule_pairs_previous_apical_with_new_control():
    acts = ("tanh", "linear")
    model = _model(acts, proactive=False, plasticity="feedback", loss="given", tau_apical=0.3)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, SIZES[0])), rng.normal(size=(2, SIZES[-1]))
    traces, updates, _ = simulate(model, {"x.r": x, "ctrl.label": y}, T - 1, "accumulate")
    ref, _, dQ = _hand_loop(model, x, y, acts, False, True, loss="given", tau_a=0.3)
    np.testing.assert_allclose(traces["l1.v_apical"], ref["vA1"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(updates["Q1.W"], dQ[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(updates["Q2.W"], dQ[1], rtol=1e-12, atol=1e-14)
    assert np.abs(dQ[0]).max() > 1e-4
