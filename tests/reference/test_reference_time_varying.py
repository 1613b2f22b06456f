"""The numpy reference interpreter takes inputs that change every step (issue 11 §4:
it failed with a broadcast error), with the backends' convention: the init ops read
row 0, step ``k`` reads row ``k - 1``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurosim
from neurosim.backends.torch import TorchSimulator
from neurosim.ir.reference import simulate
from neurosim.testing import assert_allclose

STEPS = 30


def _model() -> neurosim.ir.Model:
    net = neurosim.Network("time_varying", seed=1)
    net.add(neurosim.Input("x", 3, time_varying=True), neurosim.Population("p", 4, tau=0.5))
    net.add(neurosim.Projection("x", "p", "soma", name="W"))
    return neurosim.build(net, dt=0.05)


def test_reference_matches_torch_on_a_time_varying_input() -> None:
    model = _model()
    x = np.random.default_rng(0).normal(size=(STEPS, 2, 3))
    ref, _, _ = simulate(model, {"x.r": x}, STEPS)
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset({"x.r": x})
    res = sim.run(STEPS, record=["p.v", "W.I"])
    assert_allclose(res.traces["p.v"], ref["p.v"])
    assert_allclose(res.traces["W.I"][1:], ref["W.I"][1:])
    # step k used row k - 1: the drive of step 1 is W x[0], of the last step W x[-1]
    W = model.variables["W.W"].value
    assert_allclose(ref["W.I"][1], x[0] @ W.T)
    assert_allclose(ref["W.I"][-1], x[-1] @ W.T)


def test_reference_refuses_too_few_rows() -> None:
    x = np.zeros((STEPS - 1, 2, 3))
    with pytest.raises(ValueError, match=r"time-varying input .x.r. .*rows >= 30"):
        simulate(_model(), {"x.r": x}, STEPS)
