"""brian2 backend vs a plain numpy interpreter of the IR (and vs torch when available).

Batch 1 (and batch 3 for accumulated updates), float64, noise off: trajectories and
weight changes agree to rounding; the criterion of the brief is 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from b2_models import autapse_model, dfc_model, random_inputs

from neurosim.backends.brian2 import Brian2Simulator
from neurosim.ir import reference

RTOL = 1e-9


def assert_rel(actual: dict, desired: dict, what: str) -> None:
    """``max|a - d| <= RTOL * max|d|`` per key (the brief's relative criterion)."""
    assert actual.keys() <= desired.keys(), sorted(set(actual) - set(desired))
    for k, a in actual.items():
        d = np.asarray(desired[k])
        scale = max(np.max(np.abs(d)), 1e-300)
        err = np.max(np.abs(np.asarray(a) - d)) / scale
        assert err <= RTOL, f"{what} '{k}': relative error {err:.3g} > {RTOL}"


@pytest.mark.parametrize("plasticity", ["online", "accumulate"])
def test_dfc_forward_phase_matches_reference(plasticity: str) -> None:
    model = dfc_model()
    inputs = random_inputs(model)
    sim = Brian2Simulator(model, "numpy")
    sim.reset(inputs)
    res = sim.run(60, plasticity=plasticity, lr=0.5)
    ref, updates, _ = reference.simulate(model, inputs, 60, plasticity, 0.5)
    assert res.traces["out.r"].shape == (61, 1, 5)
    assert_rel(res.traces, ref, "trace")
    assert_rel(res.updates, updates, "update")
    assert all(np.abs(u).max() > 0 for u in res.updates.values())


def test_cross_entropy_target_and_batch_copies() -> None:
    model = dfc_model(loss="cross_entropy")
    inputs = random_inputs(model, batch=3)
    sim = Brian2Simulator(model, "numpy", batch_size=3)
    sim.reset(inputs)
    res = sim.run(25, plasticity="accumulate")
    ref, updates, _ = reference.simulate(model, inputs, 25, "accumulate")
    assert res.traces["h1.v"].shape == (26, 3, 10)
    assert_rel(res.traces, ref, "trace")
    assert_rel(res.updates, updates, "update")


def test_feedback_phase_rule_matches_reference() -> None:
    """Sleep phase: non-proactive order, v_apical_prev snapshot, anti-Hebbian Q rule."""
    model = dfc_model(sleep=True, sleep_target="label", dt=0.002, tau_v=0.01, tau_a=0.3,
                      k_p=0.1, alpha=0.25)  # fmt: skip
    inputs = random_inputs(model)
    sim = Brian2Simulator(model, "numpy")
    sim.reset(inputs)
    res = sim.run(40, record=["h1.v_apical_prev"], plasticity="online", lr=3.0)
    ref, updates, params = reference.simulate(model, inputs, 40, "online", 3.0)
    assert_rel(res.traces, ref, "trace")
    assert_rel(res.updates, updates, "update")
    assert np.abs(res.updates["ctrl_to_h1_apical.W"]).max() > 0
    assert_rel({k: sim.parameters[k] for k in params}, params, "parameter")


def test_autapse_integrator_alone() -> None:
    model = autapse_model()
    inputs = random_inputs(model)
    sim = Brian2Simulator(model, "numpy")
    sim.reset(inputs)
    res = sim.run(200)
    ref, _, _ = reference.simulate(model, inputs, 200)
    assert_rel(res.traces, ref, "trace")
    # and the analytic solution of the linear recursion x_k = a x_{k-1} + c
    a, c = 1 - 0.01 / 0.5 * 0.1, 0.01 / 0.5 * inputs["s.r"]
    k = np.arange(201)[:, None, None]
    assert_rel({"ai.x": res.traces["ai.x"]}, {"ai.x": c * (1 - a**k) / (1 - a)}, "analytic")


def test_block_of_samples_in_one_run_carries_online_learning() -> None:
    """One brian2 run, 2-D TimedArray inputs (a row per sample), weights carried over."""
    model = dfc_model()
    rng = np.random.default_rng(3)
    block = {v.name: rng.normal(size=(3, 1, v.size)) for v in model.of_kind("input")}
    sim = Brian2Simulator(model, "numpy")
    res = sim.run_samples(block, 15, plasticity="online", lr=0.5)
    params = None
    for s in range(3):
        one = {k: v[s] for k, v in block.items()}
        ref, _, params = reference.simulate(model, one, 15, "online", 0.5, params=params)
        assert_rel({k: v[s] for k, v in res.traces.items()}, ref, f"sample {s}")
    assert_rel({k: sim.parameters[k] for k in params}, params, "parameter")


def test_time_varying_input_rows_drive_steps() -> None:
    """Row k-1 of a time-varying input drives step k; the init ops read row 0."""
    from neurosim.ir import Integrate, Model, Probe, Variable

    V = {
        "s.r": Variable("s.r", "input", (1, 2), time_varying=True),
        "a.x": Variable("a.x", "state", (1, 2)),
    }
    init = [Integrate("x0", var="a.x", inputs=((1.0, "s.r"),))]
    step = [Integrate("x", var="a.x", inputs=((1.0, "s.r"),))]
    model = Model(V, init, step, 0.1, [Probe("a.x")])
    rows = np.arange(10.0).reshape(5, 1, 2)
    sim = Brian2Simulator(model, "numpy")
    sim.reset({"s.r": rows})
    x = sim.run(5).traces["a.x"]
    np.testing.assert_array_equal(x[0], rows[0])
    np.testing.assert_array_equal(x[1:], rows)


def test_probe_every_subsamples_like_torch() -> None:
    """``Probe(var, every=k)`` keeps rows 0, k, 2k, ... (``steps // k + 1`` rows)."""
    from neurosim.ir import Probe

    base = autapse_model()
    model = type(base)(base.variables, base.init_ops, base.step_ops, base.dt,
                       [Probe("ai.x", every=3)])  # fmt: skip
    inputs = random_inputs(model)
    sim = Brian2Simulator(model, "numpy")
    sim.reset(inputs)
    x = sim.run(10).traces["ai.x"]
    ref, _, _ = reference.simulate(model, inputs, 10)
    assert x.shape == (10 // 3 + 1, 1, 4)
    assert_rel({"ai.x": x}, {"ai.x": ref["ai.x"][::3]}, "trace")


def test_accumulated_updates_over_a_block_of_samples() -> None:
    """Accumulation over a block: the sum over samples of each sample's update (the W1
    accumulation with its static input x is factorised, (sum_k d_k) x^T, and folded in
    at each sample boundary; the last sample when the updates are read)."""
    model = dfc_model()
    plan = __import__("neurosim.backends.brian2", fromlist=["lower"]).lower(model, "accumulate")
    assert [p.fold is not None for p in plan.plasticity] == [True, False, False]
    rng = np.random.default_rng(4)
    block = {v.name: rng.normal(size=(3, 1, v.size)) for v in model.of_kind("input")}
    sim = Brian2Simulator(model, "numpy")
    res = sim.run_samples(block, 20, plasticity="accumulate")
    total: dict[str, np.ndarray] = {}
    for s in range(3):
        _, updates, _ = reference.simulate(model, {k: v[s] for k, v in block.items()}, 20,
                                              "accumulate")  # fmt: skip
        for k, u in updates.items():
            total[k] = total.get(k, 0.0) + u / 3
    assert_rel(res.updates, total, "block update")
