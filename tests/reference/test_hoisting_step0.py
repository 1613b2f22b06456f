"""Hoisting never changes step 0 (issue 11 §4): a circuit whose *state* ops are loop
invariant (an instantaneous soma and a dendrite fed only by constant inputs) gives the
same traces (row 0 included) and the same window-"all" update on torch, on the numpy
reference interpreter and on brian2 (numpy target), which hoists projections only.

Before the fix the torch backend hoisted ``p.v``, ``p.r`` and ``l1.v_apical`` before
recording row 0: those rows were non-zero and the DendriticPredictionRule update of
``W1`` was 14% off.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurosim
from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import PyramidalLayer
from neurosim.ir.reference import simulate
from neurosim.testing import assert_allclose

STEPS = 40
RECORD = ["p.v", "p.r", "l1.v_basal", "l1.v_apical", "l1.v"]


def _model(window: str = "all") -> neurosim.ir.Model:
    net = neurosim.Network("hoisted_state", seed=3)
    net.add(neurosim.Input("x", 4), neurosim.Input("c", 2))
    net.add(neurosim.Population("p", 5, nonlinearity="tanh", tau=None))  # instantaneous soma
    net.add(PyramidalLayer("l1", 3, tau_v=0.2))
    net.add(neurosim.Projection("x", "p", "soma", name="Wp"))
    rule = neurosim.DendriticPredictionRule(window)
    net.add(neurosim.Projection("p", "l1", "basal", bias=True, rule=rule, name="W1"))
    net.add(neurosim.Projection("c", "l1", "apical", role="feedback", name="A1"))  # constant
    return neurosim.build(net, dt=0.02)


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x.r": rng.normal(size=(3, 4)), "c.r": rng.normal(size=(3, 2))}


def test_state_ops_are_hoisted_here() -> None:
    """The premise: these state ops are loop invariant and the torch plan hoists them."""
    sim = TorchSimulator(_model(), dtype=torch.float64)
    hoisted = {w for op in sim._program("accumulate").hoisted for w in op.writes}
    assert {"p.v", "p.r", "l1.v_apical", "l1.v_basal"} <= hoisted


@pytest.mark.parametrize("window", ["all", "last"])
def test_torch_matches_reference_from_step_0(window: str) -> None:
    model, ins = _model(window), _inputs()
    ref, ref_updates, _ = simulate(model, ins, STEPS, plasticity="accumulate")
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(ins)
    res = sim.run(STEPS, record=RECORD)
    for var in RECORD:
        assert_allclose(res.traces[var][0], ref[var][0], msg=f"{var} row 0")
        assert_allclose(res.traces[var], ref[var], msg=var)
    assert not res.traces["p.r"][0].any(), "p has no init op: it starts at 0"
    for name, want in ref_updates.items():
        assert_allclose(res.updates[name], want, msg=name)


def test_torch_second_run_continues_exactly() -> None:
    """A second run's row 0 is the first run's last row (hoisted values included)."""
    model, ins = _model(), _inputs()
    ref, _, _ = simulate(model, ins, 2 * STEPS)
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(ins)
    sim.run(STEPS)
    res = sim.run(STEPS, record=RECORD)
    for var in RECORD:
        assert_allclose(res.traces[var], ref[var][STEPS:], msg=var)


def test_brian2_numpy_matches_reference_from_step_0() -> None:
    pytest.importorskip("brian2")
    from neurosim.backends.brian2 import Brian2Simulator

    model, ins = _model(), _inputs()
    ref, ref_updates, _ = simulate(model, ins, STEPS, plasticity="accumulate")
    sim = Brian2Simulator(model, "numpy", batch_size=3)
    sim.reset(ins)
    res = sim.run(STEPS, record=RECORD, plasticity="accumulate")
    for var in RECORD:
        assert_allclose(res.traces[var], ref[var], rtol_scale=10, msg=var)
    for name, want in ref_updates.items():
        assert_allclose(res.updates[name], want, rtol_scale=10, msg=name)
