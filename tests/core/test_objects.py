"""Construction-time validation of the frontend objects and the weight initialisers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import neurosim
from neurosim import (
    AntiHebbianFeedbackRule,
    DendriticPredictionRule,
    Given,
    Identity,
    Input,
    Network,
    Population,
    Probe,
    Projection,
    ValidationError,
    XavierNormal,
)
from neurosim.circuits import PIController, PyramidalLayer
from neurosim.core.seeds import object_rng, stable_hash


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Population("a.b", 3), ["name", "'a.b'", "without '.'"]),
        (lambda: Population("p", 0), ["Population 'p'", "size=0", "int >= 1"]),
        (lambda: Population("p", 3, nonlinearity="sigmoid"), ["nonlinearity='sigmoid'", "tanh"]),
        (lambda: Population("p", 3, compartments=("basal",)), ["compartments", "'soma'"]),
        (lambda: Population("p", 3, tau=-1.0), ["tau=-1.0", "> 0 or None"]),
        (lambda: Input("x", 2.5), ["Input 'x'", "size=2.5"]),
        (lambda: Projection("a", "b", weight="xavier"), ["Projection 'a_to_b_soma'", "weight"]),
        (lambda: Projection("a", "b", role="up"), ["role='up'", "feedforward"]),
        (lambda: Projection("a", "a"), ["role='feedforward'", "recurrent"]),
        (lambda: Projection("a", "b", rule="hebb"), ["rule='hebb'", "DendriticPredictionRule"]),
        (lambda: DendriticPredictionRule("mean"), ["window='mean'", "'last'"]),
        (lambda: AntiHebbianFeedbackRule(-0.1), ["beta=-0.1", ">= 0"]),
        (lambda: Probe("l1.v", every=0), ["Probe 'l1.v'", "every=0"]),
        (lambda: XavierNormal(gain=0), ["gain=0"]),
        (lambda: Given([[1.0, np.nan]]), ["Given", "finite"]),
    ],
)
def test_construction_errors_name_object_value_and_fix(make, words):
    with pytest.raises(ValidationError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def _pair() -> Network:
    net = Network("n")
    net.add(Input("x", 3), PyramidalLayer("l1", 2))
    return net


def test_network_add_checks_names_compartments_shapes_and_rules():
    net = _pair()
    with pytest.raises(ValidationError, match="'x' is taken|name='x'"):
        net.add(Input("x", 3))
    with pytest.raises(ValidationError, match=r"compartment='dend'.*use one of \('soma', 'basal'"):
        net.add(Projection("x", "l1", "dend"))
    with pytest.raises(ValidationError, match=r"post='l9' is not a node"):
        net.add(Projection("x", "l9", "basal"))
    with pytest.raises(ValidationError, match=r"Given\(shape=\(3, 2\)\).*shape \(2, 3\)"):
        net.add(Projection("x", "l1", "basal", weight=Given(np.zeros((3, 2)))))
    with pytest.raises(ValidationError, match="needs a projection into a 'apical'"):
        net.add(Projection("x", "l1", "basal", rule=AntiHebbianFeedbackRule()))
    proj = net.add(Projection("x", "l1", "basal", weight=Given(np.ones((2, 3))), bias=True))
    assert proj.name == "x_to_l1_basal" and proj.bias_init is not None
    with pytest.raises(ValidationError, match="not a network object"):
        net.add("l2")


def test_rule_makes_projection_plastic():
    p = Projection("x", "l1", "basal", rule=DendriticPredictionRule("last"))
    assert p.plastic


def test_xavier_normal_std_matches_torch_formula():
    shape = (300, 500)
    w = XavierNormal(gain=2.0).sample(shape, np.random.default_rng(0))
    expected = 2.0 * np.sqrt(2.0 / (300 + 500))
    assert w.shape == shape
    assert abs(w.std() / expected - 1) < 0.01  # 150k samples: relative s.e. ~0.2 %
    assert abs(w.mean()) < 3 * expected / np.sqrt(w.size)


def test_identity_and_given():
    assert np.array_equal(Identity(0.5).sample((2, 3), None), 0.5 * np.eye(2, 3))
    arr = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(Given(arr).sample((2, 3), None), arr)
    assert Given(arr) == Given(arr.tolist())  # hashable, comparable


def test_object_streams_are_stable_across_processes():
    code = (
        "from neurosim.core.seeds import object_rng, stable_hash;"
        "print(stable_hash('W1'), object_rng(42, 'W1').normal())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    assert outs.pop().split()[0] == str(stable_hash("W1"))
    assert object_rng(42, "W1").normal() != object_rng(42, "W2").normal()
    assert object_rng(42, "W1").normal() != object_rng(43, "W1").normal()


def test_controller_requires_size_when_added():
    net = Network("n")
    with pytest.raises(ValidationError, match="PIController 'ctrl': size=None is not set"):
        net.add(PIController())


def test_public_api_names():
    for name in (
        "Population",
        "Input",
        "Projection",
        "Probe",
        "Network",
        "HierarchyBuilder",
        "build",
        "draw_network",
        "load_circuit",
        "save_circuit",
        "XavierNormal",
        "Zeros",
        "Identity",
        "Given",
        "RecurrentLayerBuilder",
    ):
        assert hasattr(neurosim, name), name
