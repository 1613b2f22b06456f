"""Circuits (pyramidal layer, autapse integrator, PI controller) and their lowering.

(Lives in tests/core: a tests/circuits folder would shadow the ``circuits`` package as
a namespace package when pytest puts tests/ on sys.path.)
"""

from __future__ import annotations

import dataclasses

import pytest

import neurosim
from neurosim import DendriticPredictionRule, Input, Network, Projection, ValidationError
from neurosim.circuits import AutapseIntegrator, Noise, PIController, PyramidalLayer, SomaModel
from neurosim.ir import Integrate


def _ops(model) -> dict:
    return {op.name: op for op in model.init_ops + model.step_ops}


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: PyramidalLayer("l1", 3, tau_v=0), ["PyramidalLayer 'l1'", "tau_v=0"]),
        (lambda: PyramidalLayer("l1", 3, spiking="hh"), ["spiking='hh'", "'poisson'"]),
        (lambda: PyramidalLayer("l1", 3, soma="conductance"), ["soma='conductance'", "SomaModel"]),
        (lambda: SomaModel(form="ohmic"), ["form='ohmic'"]),
        (lambda: Noise(apical=-1.0), ["apical=-1.0"]),
        (lambda: AutapseIntegrator("a", 2, w="one"), ["w='one'", "float"]),
        (lambda: PIController(size=2, loss="hinge"), ["loss='hinge'", "'cross_entropy'"]),
        (lambda: PIController(size=2, leak_on="u"), ["leak_on='u'", "'integral'"]),
        (lambda: PIController(size=2, mode="pid"), ["mode='pid'"]),
        (lambda: PIController(size=2, mode="p", k_p=0.0), ["k_p=0.0", "mode='p'"]),
        (lambda: PIController(size=2, alpha=-1), ["alpha=-1"]),
    ],
)
def test_circuit_errors(make, words):
    with pytest.raises(ValidationError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def _layer_net(layer: PyramidalLayer) -> Network:
    net = Network("n")
    net.add(Input("x", 2), layer, Projection("x", layer.name, "basal", bias=True, name="W1"))
    net.add(Input("c", 3), Projection("c", layer.name, "apical", name="Q1"))
    return net


def test_conductance_soma_lowering_app_g():
    soma = SomaModel(form="conductance", g_L=0.1, g_B=1.0, g_A=0.8)
    ops = _ops(neurosim.build(_layer_net(PyramidalLayer("l1", 4, soma=soma, tau_v=0.5))))
    op = ops["l1_soma"]
    assert op.leak == pytest.approx(1.9) and op.tau == 0.5
    assert op.inputs == ((1.0, "l1.v_basal"), (0.8, "l1.v_apical"))
    assert ops["init_l1_soma"].tau is None and ops["init_l1_soma"].leak == pytest.approx(1.9)


def test_forward_rule_compares_with_the_dendritic_prediction():
    """App. G: the conductance soma settles at V_B* = g_B/(g_L+g_B+g_A) V_B, so the
    forward rule (eq. 5) becomes (phi(U) - phi(V_B*)) r^T; eq. 1 keeps v_basal."""
    soma = SomaModel(form="conductance", g_L=0.1, g_B=1.0, g_A=0.8)
    net = _layer_net(PyramidalLayer("l1", 4, soma=soma))
    net.projections["W1"] = dataclasses.replace(
        net.projections["W1"], rule=DendriticPredictionRule()
    )
    model = neurosim.build(net)
    ops = _ops(model)
    assert ops["learn_W1"].post_baseline == "l1.v_basal_star"
    assert ops["l1_basal_star"].inputs == ((1.0 / 1.9, "l1.v_basal"),)
    assert ops["init_l1_basal_star"].inputs == ((1.0 / 1.9, "l1.v_basal"),)
    step = [op.name for op in model.step_ops]
    assert step.index("l1_basal") < step.index("l1_basal_star") < step.index("learn_W1")
    # current form with unit gains (eq. 1): the baseline is v_basal itself, no extra op
    net = _layer_net(PyramidalLayer("l1", 4))
    net.projections["W1"] = dataclasses.replace(
        net.projections["W1"], rule=DendriticPredictionRule()
    )
    ops = _ops(neurosim.build(net))
    assert ops["learn_W1"].post_baseline == "l1.v_basal" and "l1_basal_star" not in ops
    # current form with g_B != g_L: the soma settles at g_B/g_L v_B
    assert PyramidalLayer("l", 2, soma=SomaModel(g_B=0.5)).basal_prediction == "l.v_basal_star"


def test_current_soma_and_lowpass_dendrites_eq1():
    layer = PyramidalLayer("l1", 4, tau_basal=0.3, tau_apical=0.05, noise=Noise(soma=0.2))
    ops = _ops(neurosim.build(_layer_net(layer)))
    assert ops["l1_soma"].leak == 1.0
    assert ops["l1_soma"].noise_sigma == 0.2 and ops["l1_soma"].noise_seed is not None
    assert ops["l1_basal"].tau == 0.3 and ops["l1_apical"].tau == 0.05
    assert ops["l1_apical"].inputs == ((1.0, "Q1.I"),)


def test_autapse_lowers_to_one_integrate_with_leak_one_minus_w():
    net = Network("n")
    net.add(
        Input("s", 3),
        AutapseIntegrator("ai", 3, w=0.9, tau=0.5),
        Projection("s", "ai", "x", name="S"),
    )
    model = neurosim.build(net, dt=0.01)
    integrates = [op for op in model.step_ops if isinstance(op, Integrate)]
    assert len(integrates) == 1
    op = integrates[0]
    assert op.var == "ai.x" and op.leak == pytest.approx(0.1) and op.tau == 0.5
    g = net.graph
    assert g.get_edge_data("ai", "ai")["ai.autapse"]["role"] == "self"


def _ctrl_model(**kw):
    net = Network("n")
    net.add(
        Input("x", 2),
        PyramidalLayer("l1", 2, nonlinearity="linear"),
        Projection("x", "l1", "basal", name="W1"),
    )
    ctrl = PIController(size=2, output_layer="l1", **kw)
    net.add(ctrl, Projection("ctrl", "l1", "apical", role="feedback", name="Q1"))
    return neurosim.build(net)


def test_controller_pi_leak_on_total_eq208():
    ops = _ctrl_model(k_p=2.0, alpha=0.3)
    assert ops.variables["ctrl.label"].kind == "input"
    o = _ops(ops)
    assert o["ctrl_integral"].leak == 0.0
    assert o["ctrl_integral"].inputs == ((1.0, "ctrl.e"), (-0.3, "ctrl.u"))
    assert o["ctrl_output"].inputs == ((1.0, "ctrl.u_int"), (2.0, "ctrl.e"))
    assert o["ctrl_error"].inputs == ((1.0, "ctrl.target"), (-1.0, "l1.r"))


def test_controller_modes_and_leak_on_integral():
    o = _ops(_ctrl_model(alpha=0.3, leak_on="integral"))
    assert o["ctrl_integral"].leak == pytest.approx(0.3)
    assert o["ctrl_integral"].inputs == ((1.0, "ctrl.e"),)
    m = _ctrl_model(mode="p", k_p=1.5)
    assert "ctrl.u_int" not in m.variables
    assert _ops(m)["ctrl_output"].inputs == ((1.5, "ctrl.e"),)
    o = _ops(_ctrl_model(mode="i"))
    assert o["ctrl_output"].inputs == ((1.0, "ctrl.u_int"),)


def test_controller_targets():
    o = _ops(_ctrl_model(loss="cross_entropy", lam=0.2))
    assert (o["ctrl_target"].loss, o["ctrl_target"].lam) == ("cross_entropy", 0.2)
    assert o["ctrl_target"].label == "ctrl.label"
    o = _ops(_ctrl_model(loss="given", target_from="output"))
    assert o["ctrl_target"].label == "l1.r" and o["ctrl_target"].reads == ("l1.r",)
    o = _ops(_ctrl_model(loss="given"))
    assert o["ctrl_target"].reads == ("ctrl.label",)


def test_controller_graph_parts():
    g = neurosim.HierarchyBuilder([3, 2], controller=PIController(mode="p")).build().graph
    assert {n for n in g.nodes if n.startswith("ctrl")} == {"ctrl.e", "ctrl.u"}
    assert g.nodes["ctrl.e"]["kind"] == "error"
