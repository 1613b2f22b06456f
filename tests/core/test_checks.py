"""Build-time network checks: each names the object and the fix."""

from __future__ import annotations

import pytest

import neurosim
from neurosim import Input, Network, Population, Projection, ValidationError
from neurosim.circuits import PIController, PyramidalLayer


def _chain(ctrl: PIController | None = None, extra_input: bool = False) -> Network:
    net = Network("n")
    net.add(Input("x", 3), PyramidalLayer("l1", 2))
    net.add(Projection("x", "l1", "basal", bias=True, name="W1"))
    if extra_input:
        net.add(Input("z", 4))
    if ctrl is not None:
        net.add(ctrl, Projection(ctrl.name, "l1", "apical", role="feedback", name="Q1"))
    return net


def test_dangling_input():
    with pytest.raises(ValidationError, match="Input 'z'.*dangling.*add a Projection"):
        neurosim.build(_chain(extra_input=True))


def test_controller_without_target():
    net = _chain(PIController(size=2))
    with pytest.raises(ValidationError, match="output_layer=None.*no target.*set output_layer"):
        neurosim.build(net)


def test_controller_size_mismatch():
    net = _chain(PIController(size=3, output_layer="l1"))
    with pytest.raises(ValidationError, match=r"size=3 differs from output layer 'l1' \(2"):
        neurosim.build(net)


def test_layer_without_basal_input():
    net = Network("n")
    net.add(Input("x", 3), PyramidalLayer("l1", 2), Projection("x", "l1", "apical"))
    with pytest.raises(ValidationError, match="PyramidalLayer 'l1': basal=None receives no"):
        neurosim.build(net)


def test_unmarked_cycle_is_rejected_and_marked_cycle_accepted():
    net = Network("n")
    net.add(Input("x", 2), Population("a", 2), Population("b", 2))
    net.add(Projection("x", "a"), Projection("a", "b"), Projection("b", "a", name="back"))
    with pytest.raises(ValidationError, match=r"\['a_to_b_soma', 'back'\].*cycle.*role='feedback'"):
        neurosim.build(net)
    net = Network("n")
    net.add(Input("x", 2), Population("a", 2), Population("b", 2))
    net.add(
        Projection("x", "a"),
        Projection("a", "b"),
        Projection("b", "a", role="feedback", name="back"),
    )
    model = neurosim.build(net)
    assert [op.name for op in model.step_ops] == [
        "x_to_a_soma",
        "back",
        "a_soma",
        "a_rate",
        "a_to_b_soma",
        "b_soma",
        "b_rate",
    ]


def test_bad_explicit_order_and_dt():
    net = _chain()
    net.order = ["l1", "l7"]
    with pytest.raises(ValidationError, match="order=.*not a permutation"):
        neurosim.build(net)
    with pytest.raises(ValidationError, match="dt=0"):
        neurosim.build(_chain(), dt=0)


def test_probe_on_unknown_variable():
    net = _chain()
    net.add(neurosim.Probe("l1.q"))
    with pytest.raises(ValueError, match="probe on unknown variable 'l1.q'"):
        neurosim.build(net)
