"""Noise and spikes: statistics against analytic values (and torch with the same seed)."""

from __future__ import annotations

import dataclasses

import numpy as np

from neurosim.backends.brian2 import Brian2Simulator
from neurosim.ir import Integrate, Model, Nonlinearity, Probe, SpikeSoma, Variable


def _ou_model(sigma: float, tau: float, dt: float, n: int = 1) -> Model:
    V = {"a.x": Variable("a.x", "state", (1, n)), "s.r": Variable("s.r", "input", (1, n))}
    step = [Integrate("x", var="a.x", tau=tau, inputs=((1.0, "s.r"),), noise_sigma=sigma,
                      noise_seed=7)]  # fmt: skip
    return Model(V, [], step, dt, [Probe("a.x")])


def test_euler_maruyama_noise_has_the_stationary_moments() -> None:
    """x_k = a x_{k-1} + (dt/tau) s + b xi, a = 1 - dt/tau, b = sigma sqrt(dt)/tau:
    stationary mean s, variance b^2 / (1 - a^2) (App. E.1 noise scaling)."""
    sigma, tau, dt, batch = 0.3, 0.2, 0.02, 400
    model = _ou_model(sigma, tau, dt)
    sim = Brian2Simulator(model, "numpy", batch_size=batch)
    sim.reset({"s.r": np.full((batch, 1), 0.5)})
    x = sim.run(200).traces["a.x"][100:, :, 0]  # (101, batch), past the transient
    a, b = 1 - dt / tau, sigma * np.sqrt(dt) / tau
    var = b**2 / (1 - a**2)
    n_eff = batch  # samples per time point are independent across the batch
    assert abs(x[-1].mean() - 0.5) < 5 * np.sqrt(var / n_eff)
    pooled = x.var(axis=1).mean()
    assert abs(pooled / var - 1) < 5 * np.sqrt(2 / n_eff)


def test_noise_is_reproducible_with_the_seed() -> None:
    model = _ou_model(0.3, 0.2, 0.02)
    runs = []
    for _ in range(2):
        sim = Brian2Simulator(model, "numpy")
        sim.reset({"s.r": np.zeros((1, 1))})
        runs.append(sim.run(20).traces["a.x"])
    np.testing.assert_array_equal(runs[0], runs[1])


def _spiking(model_kind: str) -> Model:
    V = {
        "s.r": Variable("s.r", "input", (1, 3)),
        "p.v": Variable("p.v", "state", (1, 3)),
        "p.r": Variable("p.r", "state", (1, 3)),
    }
    init = [Integrate("v0", var="p.v", inputs=((1.0, "s.r"),)),
            Nonlinearity("r0", src="p.v", dst="p.r")]  # fmt: skip
    spike = SpikeSoma("spk", src="p.v", dst="p.r", fn="tanh", model=model_kind, max_rate=100.0,
                      tau_syn=0.05, tau_ref=0.002, threshold=0.5, seed=3,
                      extra={"tau_m": 0.01})  # fmt: skip
    step = [Integrate("v", var="p.v", tau=0.1, inputs=((1.0, "s.r"),)), spike]
    init_spike = dataclasses.replace(spike, name="spk0")
    return Model(V, init + [init_spike], step, 0.001, [Probe("p.r")])


def test_poisson_soma_rate_matches_phi() -> None:
    """E[dst] = phi(src): spike probability max_rate*dt*(phi+1)/2 per step."""
    model = _spiking("poisson")
    sim = Brian2Simulator(model, "numpy", batch_size=50)
    v = np.array([[-0.5, 0.0, 0.8]])
    sim.reset({"s.r": np.repeat(v, 50, 0)})
    res = sim.run(2000, spikes=True)
    spikes = res.traces["p.r.spikes"]
    rate = spikes.mean(axis=(0, 1)) / (100.0 * 0.001)
    expected = (np.tanh(v[0]) + 1) / 2
    n = spikes.shape[0] * spikes.shape[1]
    assert np.all(np.abs(rate - expected) < 5 * np.sqrt(expected / (0.1 * n)) + 1e-3)
    mean_r = res.traces["p.r"].mean(axis=(0, 1))
    assert np.allclose(mean_r, np.tanh(v[0]), atol=0.05)


def test_lif_soma_fires_with_refractoriness() -> None:
    model = _spiking("lif")
    sim = Brian2Simulator(model, "numpy")
    sim.reset({"s.r": np.array([[0.2, 1.0, 3.0]])})
    spikes = sim.run(1000, spikes=True).traces["p.r.spikes"][:, 0]
    counts = spikes.sum(axis=0)
    assert counts[0] == 0  # below threshold: silent
    assert 0 < counts[1] < counts[2]  # rate grows with drive
    isi = np.diff(np.flatnonzero(spikes[:, 2]))
    assert isi.min() >= 2  # tau_ref = 2 dt
