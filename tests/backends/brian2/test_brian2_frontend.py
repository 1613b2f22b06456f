"""brian2 vs torch on circuits built by the frontend (``neurosim.load_circuit`` + ``build``).

Deterministic variants (conductance soma, dendritic time constants) agree within 1e-9
relative after online learning; noisy and spiking variants agree in distribution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import neurosim
from neurosim.backends.brian2 import Brian2Simulator
from neurosim.cli.simulate import default_inputs

torch = pytest.importorskip("torch")
torch_backend = pytest.importorskip("neurosim.backends.torch", reason="torch backend missing")

ROOT = Path(__file__).resolve().parents[3]
CIRCUIT = ROOT / "examples" / "circuits" / "dfc_15_10_10_5.yaml"
pytestmark = pytest.mark.skipif(
    not hasattr(neurosim, "load_circuit") or not CIRCUIT.is_file(),
    reason="needs neurosim.load_circuit and examples/circuits/dfc_15_10_10_5.yaml",
)
CURRENT = "form: current, g_L: 1.0, g_B: 1.0, g_A: 1.0"
VARIANTS = {
    "conductance": [(CURRENT, "form: conductance, g_L: 0.1, g_B: 1.0, g_A: 0.8")],
    "dendritic_tau": [
        ("tau_apical: null", "tau_apical: 0.05"),
        ("tau_basal: null", "tau_basal: 0.02"),
    ],
    "poisson": [("spiking: null", "spiking: poisson")],
    "apical_noise": [("apical: 0.0}", "apical: 0.2}")],
}  # fmt: skip


def _model(tmp_path: Path, variant: str):
    text = CIRCUIT.read_text()
    for old, new in VARIANTS[variant]:
        assert old in text, f"{old!r} not in the circuit file any more"
        text = text.replace(old, new)
    path = tmp_path / f"{variant}.yaml"
    path.write_text(text)
    network, options = neurosim.load_circuit(path)
    return neurosim.build(network, dt=options["dt"])


def _both(model, inputs, steps, record, **kw):
    b2 = Brian2Simulator(model, "numpy", batch_size=next(iter(inputs.values())).shape[0])
    b2.reset(inputs)
    bres = b2.run(steps, record=record, **kw)
    tsim = torch_backend.TorchSimulator(model, dtype=torch.float64)
    tsim.reset({k: torch.tensor(v) for k, v in inputs.items()})
    tres = tsim.run(steps, record=record, **kw)
    return bres, tres


@pytest.mark.parametrize("variant", ["conductance", "dendritic_tau"])
def test_deterministic_variants_match_torch(tmp_path: Path, variant: str) -> None:
    model = _model(tmp_path, variant)
    record = ["l1.v", "l2.v_apical", "l3.r", "ctrl.u"]
    bres, tres = _both(model, default_inputs(model, 3), 300, record, plasticity="online", lr=0.5)
    for k in record:
        d = tres.traces[k].numpy()
        assert np.max(np.abs(bres.traces[k] - d)) <= 1e-9 * np.max(np.abs(d)), k
    for k, u in bres.updates.items():
        d = tres.updates[k].numpy()
        assert np.max(np.abs(u - d)) <= 1e-9 * max(np.max(np.abs(d)), 1e-300), k


@pytest.mark.parametrize(("variant", "var"), [("poisson", "l1.r"), ("apical_noise", "ctrl.u")])
def test_stochastic_variants_agree_in_distribution(tmp_path: Path, variant: str, var: str) -> None:
    """Same circuit, 64 copies of one sample: the across-copy mean and variance of a
    late-time variable agree between backends within sampling error."""
    model = _model(tmp_path, variant)
    one = default_inputs(model, 5)
    batch = 64
    inputs = {k: np.repeat(v, batch, axis=0) for k, v in one.items()}
    bres, tres = _both(model, inputs, 200, [var], plasticity="off")
    b, t = bres.traces[var][-1], tres.traces[var][-1].numpy()  # (batch, n)
    assert b.std(0).max() > 0 and t.std(0).max() > 0
    se = np.sqrt((b.var(0) + t.var(0)) / batch) + 1e-12
    assert np.all(np.abs(b.mean(0) - t.mean(0)) < 5 * se), (b.mean(0), t.mean(0), se)
    ratio = b.var(0).mean() / t.var(0).mean()
    assert abs(np.log(ratio)) < 5 * np.sqrt(2 / batch), ratio


def test_event_driven_spike_transmission_equals_filtered_trains(tmp_path: Path) -> None:
    """Spikes delivered as brian2 events (threshold + on_pre into a decaying
    postsynaptic trace) give the same trajectories as reading the filtered train,
    with the same seed (the random draws are identical)."""
    model = _model(tmp_path, "poisson")
    inputs = default_inputs(model, 0)
    record = ["l1.r", "l2.v", "l3.r", "ctrl.u"]
    runs = []
    for event_driven in (False, True):
        sim = Brian2Simulator(model, "numpy", params={"event_driven": event_driven})
        sim.reset(inputs)
        runs.append(sim.run(200, record=record, plasticity="off", spikes=True))
    plan = sim.plan(None)
    assert {a.kind for a in plan.actions} >= {"threshold", "pathway"}
    assert runs[0].traces["l1.r.spikes"].sum() > 0
    for k, ref in runs[0].traces.items():
        err = np.max(np.abs(runs[1].traces[k] - ref)) / max(np.max(np.abs(ref)), 1e-300)
        assert err <= 1e-9, k
    with pytest.raises(ValueError, match="event-driven"):
        from neurosim.backends.brian2 import lower
        from neurosim.ir import LocalPlasticity, Model

        rule = LocalPlasticity("learn_W2", weight="W2.W", post="l2.v", pre="l1.r")
        learning = Model(model.variables, model.init_ops, model.step_ops + [rule], model.dt)
        lower(learning, "online", event_driven=True)
