"""One Poisson spike probability on both backends (issue 11 §4), tested statistically.

:class:`~neurosim.ir.ops.SpikeSoma`: ``p = min(1, max_rate*dt*clip(rho, 0, 1))`` with
``rho = (phi(v) + offset)/span``. For an unbounded ``phi`` (relu) the rate saturates
at ``max_rate``: with ``max_rate*dt = 0.5`` a unit at ``rho = 3`` spikes with p = 0.5.
The torch backend used ``clamp(rho*max_rate*dt, 0, 1)`` (p = 1 there), brian2 crashed
on relu and leaky_relu somata. The spike frequencies are compared with the definition
within 6 standard errors (a false failure has probability ~1e-9 per unit) while the
old torch definition lies >= 100 standard errors away, so the test cannot pass by
chance with the wrong definition.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurosim
from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import PyramidalLayer

DT, MAX_RATE, TAU_SYN = 0.02, 25.0, 0.05  # max_rate * dt = 0.5
RHO = np.array([0.2, 0.6, 1.5, 3.0])  # relu(v) with v = RHO: two of them above 1
P_DOC = np.minimum(1.0, MAX_RATE * DT * np.clip(RHO, 0.0, 1.0))  # [0.1, 0.3, 0.5, 0.5]
P_OLD_TORCH = np.clip(RHO * MAX_RATE * DT, 0.0, 1.0)  # [0.1, 0.3, 0.75, 1.0]


def _model(fn: str = "relu") -> neurosim.ir.Model:
    net = neurosim.Network("poisson", seed=5)
    net.add(neurosim.Input("x", len(RHO)))
    layer = PyramidalLayer(
        "l1", len(RHO), nonlinearity=fn, spiking="poisson", max_rate=MAX_RATE, tau_syn=TAU_SYN
    )
    net.add(layer)
    net.add(neurosim.Projection("x", "l1", "basal", weight=neurosim.Identity(1.0), name="W1"))
    return neurosim.build(net, dt=DT)


def _inputs(batch: int) -> dict[str, np.ndarray]:
    return {"x.r": np.repeat(RHO[None], batch, axis=0)}  # v = v_B = RHO, constant


def _assert_frequencies(spikes: np.ndarray) -> None:
    """``spikes``: (steps, batch, units) of 0/1, compared with P_DOC unit by unit."""
    n = spikes.shape[0] * spikes.shape[1]
    freq = spikes.reshape(n, -1).mean(0)
    se = np.sqrt(P_DOC * (1 - P_DOC) / n)
    assert np.all(np.abs(P_OLD_TORCH - P_DOC)[2:] >= 100 * se[2:]), "test lost its power"
    assert np.all(np.abs(freq - P_DOC) <= 6 * se), (freq, P_DOC, se)


def test_torch_spike_probability_is_the_documented_one() -> None:
    model, steps, batch = _model(), 400, 500
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(_inputs(batch))
    z = sim.run(steps, record=["l1.r"]).traces["l1.r"].numpy()  # relu: span 1, offset 0
    decay = np.exp(-DT / TAU_SYN)
    jump = (1 - decay) / (MAX_RATE * DT)
    spikes = (z[1:] - decay * z[:-1]) / jump  # the trace's recursion, solved for spikes
    assert np.allclose(spikes, np.round(spikes), atol=1e-6)
    _assert_frequencies(np.round(spikes))
    # the filtered train's mean is the clipped rate: relu output saturates at 1
    assert np.allclose(z[100:].mean((0, 1)), np.clip(RHO, 0, 1), atol=0.03)


@pytest.mark.parametrize("fn", ["relu", "leaky_relu"])
def test_brian2_poisson_with_unbounded_nonlinearity_runs(fn: str) -> None:
    pytest.importorskip("brian2")
    from neurosim.backends.brian2 import Brian2Simulator

    sim = Brian2Simulator(_model(fn), "numpy", batch_size=2)
    sim.reset(_inputs(2))
    res = sim.run(20, record=["l1.r"], spikes=True)
    assert res.traces["l1.r.spikes"].shape == (21, 2, len(RHO))


def test_brian2_spike_probability_is_the_documented_one() -> None:
    pytest.importorskip("brian2")
    from neurosim.backends.brian2 import Brian2Simulator

    steps, batch = 400, 100
    sim = Brian2Simulator(_model(), "numpy", batch_size=batch)
    sim.reset(_inputs(batch))
    spikes = sim.run(steps, record=["l1.r"], spikes=True).traces["l1.r.spikes"]
    _assert_frequencies(np.asarray(spikes)[1:])
