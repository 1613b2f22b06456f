"""brian2 vs torch on circuits built by the frontend (``neurosim.load_circuit`` + ``build``).

Deterministic variants (conductance soma, dendritic time constants) agree within 1e-9
relative, trajectories and weights after online learning (DFC eq. 5 on every W_i);
noisy and spiking variants agree in distribution.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import neurosim
from neurosim.backends.brian2 import Brian2Simulator
from neurosim.circuits import AutapseIntegrator, PIController, SomaModel
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


def _model(tmp_path: Path, variant: str, learn: bool = False):
    """The shipped circuit with one variant switched on in its file (the same circuit
    objects, other parameters); ``learn`` attaches the forward rule to every W_i."""
    text = CIRCUIT.read_text()
    for old, new in VARIANTS[variant]:
        assert old in text, f"{old!r} not in the circuit file any more"
        text = text.replace(old, new)
    path = tmp_path / f"{variant}.yaml"
    path.write_text(text)
    network, options = neurosim.load_circuit(path)
    if learn:
        for name in ("W1", "W2", "W3"):
            proj = network.projections[name]
            rule = neurosim.DendriticPredictionRule()
            network.projections[name] = dataclasses.replace(proj, rule=rule)
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
    model = _model(tmp_path, variant, learn=True)
    record = ["l1.v", "l2.v_apical", "l3.r", "ctrl.u"]
    bres, tres = _both(model, default_inputs(model, 3), 300, record, plasticity="online", lr=0.5)
    for k in record:
        d = tres.traces[k].numpy()
        assert np.max(np.abs(bres.traces[k] - d)) <= 1e-9 * np.max(np.abs(d)), k
    assert set(bres.updates) == set(tres.updates) == {"W1.W", "W1.b", "W2.W", "W2.b", "W3.W",
                                                       "W3.b"}  # fmt: skip
    for k, u in bres.updates.items():
        d = tres.updates[k].numpy()
        assert np.abs(d).max() > 1e-6, f"{k}: online learning changed nothing"
        assert np.max(np.abs(u - d)) <= 1e-9 * np.max(np.abs(d)), k


def test_conductance_rule_vanishes_without_control(tmp_path: Path) -> None:
    """App. G: without control (lam = 0, so r* = r_L and u = 0) the conductance soma
    stays at the dendritic prediction V_B* = g_B/(g_L+g_B+g_A) V_B, so the forward rule
    (phi(U) - phi(V_B*)) r_pre^T is zero; with the eq. 1 baseline phi(V_B) it is not."""
    model = _model(tmp_path, "conductance", learn=True)
    ops = {op.name: op for op in model.step_ops}
    assert ops["learn_W1"].post_baseline == "l1.v_basal_star"
    assert ops["l1_basal_star"].inputs == ((1.0 / 1.9, "l1.v_basal"),)
    target = next(op for op in model.init_ops if op.name == "ctrl_target")
    init = [dataclasses.replace(target, lam=0.0) if op is target else op for op in model.init_ops]
    quiet = type(model)(model.variables, init, model.step_ops, model.dt, model.probes)
    sim = Brian2Simulator(quiet, "numpy")
    sim.reset(default_inputs(quiet, 3))
    res = sim.run(100, record=["l1.v", "l1.v_basal_star", "ctrl.u"], plasticity="accumulate")
    assert np.abs(res.traces["ctrl.u"]).max() == 0.0
    np.testing.assert_allclose(res.traces["l1.v"], res.traces["l1.v_basal_star"], atol=1e-12)
    assert max(np.abs(u).max() for u in res.updates.values()) < 1e-12
    assert np.abs(res.traces["l1.v"] - res.traces["l1.v_basal_star"] * 1.9).max() > 1e-2


def test_autapse_integrator_alone_matches_torch() -> None:
    """AutapseIntegrator (tau dx/dt = -(1-w) x + input, DFC App. I eq. 230) built by the
    frontend: both backends, float64, batch 1, within 1e-9 relative; the analytic
    solution of the Euler recursion too."""
    net = neurosim.Network("autapse", seed=1)
    net.add(neurosim.Input("s", 4), AutapseIntegrator("ai", 4, w=0.9, tau=0.5),
            neurosim.Projection("s", "ai", "x", weight=neurosim.Identity(), name="S"),
            neurosim.Probe("ai.x"))  # fmt: skip
    model = neurosim.build(net, dt=0.01)
    inputs = default_inputs(model, 2)
    bres, tres = _both(model, inputs, 400, [], plasticity="off")
    x_b, x_t = bres.traces["ai.x"], tres.traces["ai.x"].numpy()
    assert np.max(np.abs(x_b - x_t)) <= 1e-9 * np.max(np.abs(x_t))
    a, c = 1 - 0.01 / 0.5 * 0.1, 0.01 / 0.5 * inputs["s.r"]
    k = np.arange(401)[:, None, None]
    np.testing.assert_allclose(x_b, c * (1 - a**k) / (1 - a), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["pi", "p", "i"])
def test_controller_configurations_match_torch(mode: str) -> None:
    """Pure P, pure I and PI controllers (and leak on the integral) on both backends."""
    ctrl = PIController(k_p=1.5, alpha=0.05, mode=mode, lam=0.2,
                        leak_on="integral" if mode == "i" else "total")  # fmt: skip
    net = neurosim.HierarchyBuilder([4, 3, 2], controller=ctrl, seed=3).build()
    model = neurosim.build(net, dt=0.01)
    record = ["l1.v", "l2.r", "ctrl.u", "ctrl.e"]
    bres, tres = _both(model, default_inputs(model, 4), 200, record, plasticity="off")
    for k in record:
        d = tres.traces[k].numpy()
        assert np.max(np.abs(bres.traces[k] - d)) <= 1e-9 * np.max(np.abs(d)), k
    e = np.abs(bres.traces["ctrl.e"][:, 0]).max(axis=-1)
    assert e[-1] < e[1]  # the controller pulls the output to its target


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


def test_event_driven_apical_input_from_a_spiking_layer() -> None:
    """Layer-wise feedback from spiking hidden layers: the apical input of l1 (Q1 from
    l2's spikes) is delivered as brian2 events and equals the filtered-train version."""
    net = neurosim.HierarchyBuilder(
        [5, 4, 4, 2], feedback="layerwise", spiking=["poisson", "poisson", None], seed=2,
        max_rate=80.0, tau_syn=0.05,
        controller=PIController(k_p=1.0, alpha=0.01, lam=0.3),
        soma=SomaModel(form="conductance", g_L=0.5, g_B=1.0, g_A=0.5),
    ).build()  # fmt: skip
    model = neurosim.build(net, dt=0.01)
    inputs = default_inputs(model, 0)
    runs = []
    for event_driven in (False, True):
        sim = Brian2Simulator(model, "numpy", params={"event_driven": event_driven})
        sim.reset(inputs)
        runs.append(sim.run(150, record=["l1.v_apical", "l1.r", "l3.r"], plasticity="off"))
    actions = {(a.owner, a.kind) for a in sim.plan(None).actions}
    assert ("syn_Q1__W", "pathway") in actions  # apical synapses of l1, event-driven
    assert np.abs(runs[0].traces["l1.v_apical"]).max() > 0
    for k, ref in runs[0].traces.items():
        err = np.max(np.abs(runs[1].traces[k] - ref)) / max(np.max(np.abs(ref)), 1e-300)
        assert err <= 1e-9, k
