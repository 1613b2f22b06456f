"""Circuit files: round trip, shipped example, and errors with their place in the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import neurosim
from neurosim.circuit_yaml import CircuitFileError, circuit_from_dict, circuit_to_dict
from neurosim.circuits import PIController

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "circuits" / "dfc_15_10_10_5.yaml"


def _same_models(a, b) -> None:
    assert str(a) == str(b)
    assert a.step_ops == b.step_ops and a.init_ops == b.init_ops
    for name, var in a.variables.items():
        if var.value is not None:
            assert np.array_equal(var.value, b.variables[name].value), name


@pytest.mark.parametrize("feedback", ["direct", "layerwise", "multilayer"])
def test_round_trip_rebuilds_identical_model(tmp_path, feedback):
    ctrl = PIController(k_p=1.5, alpha=0.01, loss="cross_entropy", lam=0.3, leak_on="integral")
    net = neurosim.HierarchyBuilder(
        [5, 4, 3],
        controller=ctrl,
        feedback=feedback,
        seed=7,
        sigma=0.01,
        tau_apical=0.3,
        plasticity="forward",
        window="last",
        probes=["l1.v", "ctrl.u"],
        forward_init=[neurosim.Given(np.arange(20.0).reshape(4, 5)), neurosim.XavierNormal(2.0)],
    ).build()
    path = neurosim.save_circuit(net, tmp_path / "c.yaml", {"dt": 0.01, "steps": 30})
    net2, sim = neurosim.load_circuit(path)
    assert sim == {"dt": 0.01, "steps": 30}
    assert net2.nodes == net.nodes and net2.projections == net.projections
    assert net2.probes == net.probes and net2.order == net.order
    _same_models(neurosim.build(net, dt=0.01), neurosim.build(net2, dt=0.01))
    # saving again gives the same file
    assert neurosim.save_circuit(net2, tmp_path / "d.yaml", sim).read_text() == path.read_text()


def test_shipped_example_circuit():
    net, sim = neurosim.load_circuit(EXAMPLE)
    assert sim["dtype"] == "float64" and sim["dt"] > 0 and sim["steps"] > 0
    model = neurosim.build(net, dt=sim["dt"])
    assert [p.var for p in model.probes] == ["l1.v", "l2.v", "l3.v", "ctrl.u"]
    assert [model.variables[f"l{i}.v"].size for i in (1, 2, 3)] == [10, 10, 5]
    assert model.variables["x.r"].size == 15
    assert all(getattr(op, "noise_sigma", 0.0) == 0.0 for op in model.step_ops)
    ref = neurosim.HierarchyBuilder(
        [15, 10, 10, 5],
        controller=PIController(k_p=1.5, alpha=0.0015, lam=0.05),
        probes=["l1.v", "l2.v", "l3.v", "ctrl.u"],
        name="dfc_15_10_10_5",
    ).build()
    _same_models(neurosim.build(ref, dt=sim["dt"]), model)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


GOOD = """\
network: {name: n, seed: 1}
nodes:
  - {type: Input, name: x, size: 3}
  - type: PyramidalLayer
    name: l1
    size: 2
    nonlinearity: tanh
projections:
  - {name: W1, pre: x, post: l1, compartment: basal, weight: {type: XavierNormal}}
"""


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "nonlinearity: tanh",
            "nonlinarity: tanh",
            [
                "bad.yaml:7:",
                "nodes[1].nonlinarity",
                "unknown key",
                "allowed keys",
                "'nonlinearity'",
            ],
        ),
        (
            "nonlinearity: tanh",
            "nonlinearity: sigmoid",
            ["bad.yaml:7:", "nodes[1].nonlinearity", "sigmoid", "'relu'"],
        ),
        ("size: 2", "size: two", ["bad.yaml:6:", "nodes[1].size", "expected int", "'two'"]),
        (
            "type: PyramidalLayer",
            "type: Pyramid",
            ["nodes[1].type", "unknown type 'Pyramid'", "'PyramidalLayer'"],
        ),
        (
            "{type: XavierNormal}",
            "{type: Xavier}",
            ["bad.yaml:9:", "projections[0].weight.type", "'XavierNormal'"],
        ),
        (
            "compartment: basal",
            "compartment: dend",
            ["projections[0]", "compartment='dend'", "'apical'"],
        ),
        ("seed: 1", "seed: 1.5", ["bad.yaml:1:", "network.seed", "expected int"]),
        ("network:", "netwerk:", ["netwerk", "unknown key", "'projections'"]),
    ],
)
def test_load_errors_name_place_and_allowed_values(tmp_path, old, new, words):
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(CircuitFileError) as info:
        neurosim.load_circuit(path)
    for word in words:
        assert word in str(info.value)


def test_good_file_loads_and_unsafe_yaml_is_rejected(tmp_path):
    net, sim = neurosim.load_circuit(_write(tmp_path, GOOD))
    assert set(net.nodes) == {"x", "l1"} and sim == {}
    bad = GOOD + "probes: !!python/object/apply:os.system ['echo hi']\n"
    with pytest.raises(CircuitFileError, match="not valid YAML"):
        neurosim.load_circuit(_write(tmp_path, bad))


def test_dict_round_trip_and_unknown_simulation_key():
    net = neurosim.HierarchyBuilder([3, 2]).build()
    data = circuit_to_dict(net, {"dt": 0.1})
    net2, sim = circuit_from_dict(data)
    assert net2.projections == net.projections and sim == {"dt": 0.1}
    data["simulation"]["tmax"] = 3
    with pytest.raises(CircuitFileError, match=r"simulation.tmax: unknown key.*'steps'"):
        circuit_from_dict(data)


def test_hierarchy_shorthand_builds_the_same_circuit():
    short, sim_short = neurosim.load_circuit(EXAMPLE.with_name("dfc_15_10_10_5_hierarchy.yaml"))
    full, sim = neurosim.load_circuit(EXAMPLE)
    assert sim_short == sim
    _same_models(neurosim.build(full, dt=sim["dt"]), neurosim.build(short, dt=sim["dt"]))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "hierarchy: {layer_sizes: [3, 2], feedback: up}",
            ["<dict>", "hierarchy.feedback", "'up'"],
        ),
        (
            "hierarchy: {layer_sizes: [3, 2], controller: {kp: 1}}",
            ["hierarchy.controller.kp", "unknown key", "'k_p'"],
        ),
        ("hierarchy: {layer_sizes: [3, x]}", ["hierarchy.layer_sizes[1]", "expected int"]),
        ("hierarchy: {layer_sizes: [3, 2]}\nnodes: []", ["nodes", "cannot be combined"]),
    ],
)
def test_hierarchy_shorthand_errors(text, words):
    import yaml

    with pytest.raises(CircuitFileError) as info:
        circuit_from_dict(yaml.safe_load(text))
    for word in words:
        assert word in str(info.value)
