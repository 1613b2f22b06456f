"""Biophysical variants: IR rewrites (units at the boundary) and the example script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import brian2 as b2
import numpy as np
import pytest

from neurosim.backends.brian2 import Brian2Simulator
from neurosim.backends.brian2.variants import (
    conductance_soma,
    dendritic_time_constants,
    spiking_soma,
)
from neurosim.ir import Integrate, SpikeSoma
from neurosim.testing import dfc_model

ROOT = Path(__file__).resolve().parents[3]


def _model():
    return dfc_model((6, 4, 3), dt=0.02, alpha=0.0, k_p=0.0, lam=0.0, loss="mse")


def test_conductance_soma_parameters_and_units() -> None:
    m = conductance_soma(_model(), C=200 * b2.pF, g_L=10 * b2.nS, g_B=5 * b2.nS,
                         g_A=5 * b2.nS, time_unit=0.1 * b2.second)  # fmt: skip
    soma = next(op for op in m.step_ops if isinstance(op, Integrate) and op.var == "h1.v")
    assert soma.tau == pytest.approx(0.2)  # C/g_L = 20 ms = 0.2 model units
    assert soma.leak == pytest.approx(2.0)  # 1 + (g_B + g_A)/g_L
    assert dict((v, g) for g, v in soma.inputs) == pytest.approx(
        {"h1.v_basal": 0.5, "h1.v_apical": 0.5}
    )
    with pytest.raises(ValueError, match="g_B"):
        conductance_soma(_model(), g_B=5 * b2.mV)
    with pytest.raises(ValueError, match="time_unit"):
        conductance_soma(_model(), time_unit=3 * b2.metre)


def test_conductance_soma_settles_at_the_dendritic_prediction() -> None:
    """No control (u = 0): U -> g_B V_B / (g_L + g_B + g_A) = V_B*, so the forward
    rule phi(U) - phi(V_B*) vanishes at rest (Urbanczik-Senn)."""
    m = conductance_soma(_model(), time_unit=0.1 * b2.second)
    sim = Brian2Simulator(m, "numpy")
    rng = np.random.default_rng(0)
    sim.reset({"x.r": rng.normal(size=(1, 6)), "ctrl.label": np.zeros((1, 3))})
    res = sim.run(400, record=["h1.v", "h1.v_basal_star"], plasticity="accumulate")
    np.testing.assert_allclose(res.traces["h1.v"][-1], res.traces["h1.v_basal_star"][-1],
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    assert max(np.abs(u).max() for u in res.updates.values()) < 1e-9


def test_dendritic_time_constants_and_spiking_rewrites() -> None:
    m = dendritic_time_constants(_model(), tau_basal=0.1, tau_apical=0.05)
    taus = {op.var: op.tau for op in m.step_ops if isinstance(op, Integrate)}
    assert taus["h1.v_basal"] == 0.1 and taus["h2.v_apical"] == 0.05
    with pytest.raises(ValueError, match="tau_basal"):
        dendritic_time_constants(_model(), tau_basal=0.001)
    s = spiking_soma(_model(), "lif", threshold=0.5)
    spk = [op for op in s.step_ops + s.init_ops if isinstance(op, SpikeSoma)]
    assert {op.dst for op in spk} == {"h1.r"}  # hidden layers only, init and step
    assert len(spk) == 2


@pytest.mark.example
def test_biophysical_variants_example(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "biophysical_variants", ROOT / "examples" / "biophysical_variants.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = mod.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "biophysical_variants.png").is_file()
    for name in ("rate", "conductance"):
        demo, err, before, after = results[name]
        assert err[-1] < 0.25 * err[1], f"{name}: controller did not reduce the output error"
        assert after < before, f"{name}: online learning did not lower the loss"
    demo, err, before, after = results["poisson"]
    assert demo.traces["h1.r.spikes"].sum() > 0
    assert err[-1] < err[1]
