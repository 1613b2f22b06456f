"""Biophysical variants: IR rewrites (units at the boundary) and the example script."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import brian2 as b2
import numpy as np
import pytest

from neurosim.backends.brian2 import Brian2Simulator
from neurosim.backends.brian2.variants import (
    conductance_soma,
    conductance_soma_model,
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


def test_physical_soma_is_a_parameter_of_the_same_circuit() -> None:
    """``conductance_soma_model`` turns C, g_L, g_B, g_A (units checked) into the circuit's
    own parameters; the built circuit equals the IR rewrite of the rate circuit."""
    soma, tau_v = conductance_soma_model(C=200 * b2.pF, g_L=10 * b2.nS, g_B=5 * b2.nS,
                                         g_A=2 * b2.nS, time_unit=0.1 * b2.second)  # fmt: skip
    assert tau_v == pytest.approx(0.2)
    assert (soma.form, soma.g_L, soma.g_B, soma.g_A) == ("conductance", 1.0, 0.5, 0.2)
    with pytest.raises(ValueError, match="C/g_L"):
        conductance_soma_model(C=3 * b2.mV)
    import neurosim
    from neurosim.cli.simulate import default_inputs

    kw = {"layer_sizes": (6, 4, 3), "plasticity": "forward", "seed": 1}
    rate = neurosim.build(neurosim.HierarchyBuilder(**kw).build())
    built = neurosim.build(neurosim.HierarchyBuilder(**kw, soma=soma, tau_v=tau_v).build())
    rewritten = conductance_soma(rate, C=200 * b2.pF, g_L=10 * b2.nS, g_B=5 * b2.nS,
                                 g_A=2 * b2.nS, time_unit=0.1 * b2.second)  # fmt: skip
    inputs = default_inputs(rate, 4)
    runs = []
    for model in (built, rewritten):
        sim = Brian2Simulator(model, "numpy")
        sim.reset(inputs)
        runs.append(sim.run(50, record=["l1.v", "l2.r", "l1.v_basal_star"], plasticity="online",
                            lr=0.5))  # fmt: skip
    for k, ref in runs[0].traces.items():
        np.testing.assert_allclose(runs[1].traces[k], ref, rtol=1e-12, atol=1e-14, err_msg=k)
    for k, ref in runs[0].updates.items():
        np.testing.assert_allclose(runs[1].updates[k], ref, rtol=1e-12, atol=1e-14, err_msg=k)


@pytest.mark.example
def test_biophysical_variants_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's claims, for each variant: the controller drives the output to its
    target (time-averaged for the spiking soma), and online learning (DFC eq. 5 inside
    brian2) lowers the student-teacher test loss."""
    spec = importlib.util.spec_from_file_location(
        "biophysical_variants", ROOT / "examples" / "biophysical_variants.py"
    )
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)  # its dataclass looks itself up there
    spec.loader.exec_module(mod)
    results = mod.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "biophysical_variants.png").is_file()
    assert set(results) == {"rate", "conductance", "poisson"}
    for name, res in results.items():
        assert res.settled_error < 0.25 * res.error[1], f"{name}: no control of the output"
        assert res.loss_after < 0.8 * res.loss_before, f"{name}: learning did not lower the loss"
    assert results["poisson"].traces["l1.r.spikes"].sum() > 0
    assert "l1.r.spikes" not in results["rate"].traces
