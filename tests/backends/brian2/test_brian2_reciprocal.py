"""The ReciprocalPair on brian2: its two rules as clock-driven synaptic ODEs agree with
the torch backend and the numpy reference interpreter (noise-free data drive, batch 1,
float64, ``neurosim.testing`` tolerance); the noise-driven pair learns on brian2 too."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurosim
from neurosim import Network, Normal
from neurosim.backends.brian2 import Brian2Simulator
from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import ReciprocalPair
from neurosim.ir import reference
from neurosim.models.rf.penrose import penrose_residuals
from neurosim.testing import assert_allclose

RECORD = ["p.x", "p.h", "p.xhat", "p.hhat"]
STEPS = 40


def _model(**kw) -> neurosim.ir.Model:
    net = Network("pair", seed=3)
    net.add(ReciprocalPair("p", 6, hidden=3, drive="data", sigma=0.0, eta_A=0.05, eta_B=0.2, **kw))
    return neurosim.build(net, dt=1.0)


@pytest.mark.parametrize(
    "kw",
    [{}, {"variant": "recirculation", "bias": True, "init_B": Normal(0.3)}],
    ids=["linear", "recirculation"],
)
def test_pair_online_learning_agrees_across_backends(kw: dict) -> None:
    model = _model(**kw)
    data = np.random.default_rng(0).normal(size=(STEPS, 1, 6))
    b2 = Brian2Simulator(model, "numpy")
    b2.reset({"p.data": data})
    b2res = b2.run(STEPS, record=RECORD, plasticity="online", lr=1.0)
    ref, ref_updates, ref_params = reference.simulate(model, {"p.data": data}, STEPS, "online", 1.0)
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset({"p.data": torch.tensor(data)})
    tres = sim.run(STEPS, record=RECORD, plasticity="online", lr=1.0)
    for k in RECORD:
        assert_allclose(b2res.traces[k], tres.traces[k], msg=f"brian2 vs torch trace {k}")
        assert_allclose(b2res.traces[k], ref[k], msg=f"brian2 vs reference trace {k}")
    assert set(b2res.updates) == set(tres.updates) == set(ref_updates)
    for k, u in b2res.updates.items():
        assert np.abs(u).max() > 1e-3, k  # the rules did change every parameter
        assert_allclose(u, tres.updates[k], msg=f"brian2 vs torch update {k}")
        assert_allclose(u, ref_updates[k], msg=f"brian2 vs reference update {k}")
        assert_allclose(b2.parameters[k], ref_params[k], msg=f"final {k}")


def test_noise_driven_pair_learns_on_brian2() -> None:
    """White noise at the visible layer (brian2's ``randn``), batch 1: r1-r3 vanish and
    B moves from 0 toward A⁺ (to its batch-1 stochastic floor)."""
    net = Network("pair", seed=3)
    net.add(ReciprocalPair("p", 6, hidden=3, eta_A=0.01, eta_B=0.03))
    sim = Brian2Simulator(neurosim.build(net, dt=1.0), "numpy")
    sim.reset({})
    sim.run(3000, plasticity="online", lr=1.0)
    res = penrose_residuals(sim.parameters["p.A"], sim.parameters["p.B"])
    for key in ("r1", "r2", "r3"):
        assert res[key] < 1e-10, key
    assert res["pinv_dist"] < 0.5


@pytest.mark.slow
@pytest.mark.brian2_compile
def test_pair_on_the_cython_target_matches_numpy() -> None:
    model = _model(variant="recirculation", bias=True)
    data = np.random.default_rng(1).normal(size=(STEPS, 1, 6))
    runs = {}
    for target in ("numpy", "cython"):
        sim = Brian2Simulator(model, target)
        sim.reset({"p.data": data})
        runs[target] = sim.run(STEPS, record=RECORD, plasticity="online", lr=1.0)
    for k in RECORD:
        assert_allclose(runs["cython"].traces[k], runs["numpy"].traces[k], msg=k)
    for k, u in runs["numpy"].updates.items():
        assert_allclose(runs["cython"].updates[k], u, msg=k)
