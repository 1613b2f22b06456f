"""HierarchyBuilder: names, weights, graph properties of the three feedback modes."""

from __future__ import annotations

from collections import Counter

import matplotlib
import networkx as nx
import numpy as np
import pytest

import neurosim
from neurosim import Given, HierarchyBuilder, ValidationError
from neurosim.circuits import PIController

matplotlib.use("Agg")
SIZES = [6, 5, 4, 3]  # L = 3


def roles(g: nx.MultiDiGraph, internal: bool = False) -> Counter:
    return Counter(d["role"] for _, _, d in g.edges(data=True) if d["internal"] == internal)


def test_direct_feedback_graph():
    net = HierarchyBuilder(SIZES).build()
    g = net.graph
    assert isinstance(g, nx.DiGraph)
    assert set(g.nodes) == {"x", "l1", "l2", "l3", "ctrl.e", "ctrl.u_int", "ctrl.u"}
    assert g.number_of_edges() == 2 * 3 + 6
    assert roles(g) == {"feedforward": 3, "feedback": 3}
    assert roles(g, internal=True) == {"feedforward": 4, "self": 1, "feedback": 1}
    for i in (1, 2, 3):
        data = g.get_edge_data("ctrl.u", f"l{i}")[f"Q{i}"]
        assert data["compartment"] == "apical" and data["shape"] == (SIZES[i], 3)
        pre = "x" if i == 1 else f"l{i - 1}"
        data = g.get_edge_data(pre, f"l{i}")[f"W{i}"]
        assert data["role"] == "feedforward" and data["shape"] == (SIZES[i], SIZES[i - 1])
    assert g.has_edge("ctrl.u_int", "ctrl.u_int")  # autapse self-loop


def test_layerwise_feedback_graph():
    g = HierarchyBuilder(SIZES, feedback="layerwise").build().graph
    assert g.number_of_nodes() == 7 and g.number_of_edges() == 12
    assert set(g.get_edge_data("l2", "l1")) == {"Q1"} and set(g.get_edge_data("l3", "l2")) == {"Q2"}
    assert set(g.get_edge_data("ctrl.u", "l3")) == {"Q3"}
    assert g.get_edge_data("l2", "l1")["Q1"]["shape"] == (5, 4)


def test_multilayer_feedback_graph_app_h():
    net = HierarchyBuilder(SIZES, feedback="multilayer").build()
    g = net.graph
    assert g.number_of_nodes() == 7 + 3 and g.number_of_edges() == 3 * 3 + 6
    assert roles(g) == {"feedforward": 3, "feedback": 6}
    path = ["ctrl.u", "f3", "f2", "f1"]
    for a, b in zip(path, path[1:], strict=False):
        assert g.has_edge(a, b)
    assert all(g.has_edge(f"f{i}", f"l{i}") for i in (1, 2, 3))
    assert net.order == ("f3", "f2", "f1", "l1", "l2", "l3")
    # the pathway's effective feedback is Q1 Q2 Q3 (A_i are identities)
    m = neurosim.build(net)
    assert np.array_equal(m.variables["A2.W"].value, np.eye(4))


def test_weight_names_and_sleep_forward_weights_identical():
    fwd = HierarchyBuilder(SIZES, plasticity="forward", seed=3).build()
    ctrl = PIController(loss="given", target_from="output", k_p=0.1, alpha=0.6)
    sleep = HierarchyBuilder(
        SIZES,
        plasticity="feedback",
        seed=3,
        controller=ctrl,
        proactive=False,
        sigma=0.01,
        tau_apical=0.3,
    ).build()
    mf, ms = neurosim.build(fwd), neurosim.build(sleep, dt=0.002)
    params = {f"W{i}.W" for i in (1, 2, 3)} | {f"W{i}.b" for i in (1, 2, 3)}
    params |= {f"Q{i}.W" for i in (1, 2, 3)}
    assert {v.name for v in mf.of_kind("parameter")} == params
    for name in params:
        assert np.array_equal(mf.variables[name].value, ms.variables[name].value)
    assert np.array_equal(mf.variables["Q3.W"].value, np.eye(3))
    assert np.all(mf.variables["W1.b"].value == 0)
    other = neurosim.build(HierarchyBuilder(SIZES, seed=4).build())
    assert not np.array_equal(other.variables["W1.W"].value, mf.variables["W1.W"].value)


def test_sleep_phase_builder():
    fwd = HierarchyBuilder(SIZES, plasticity="forward", seed=2)
    sleep = fwd.sleep_phase(
        k_p=0.16, alpha=0.61, tau_v=6.3e-3, tau_apical=0.32, sigma=1e-3, sigma_output=0.0, beta=0.01
    )
    assert (sleep.plasticity, sleep.proactive, sleep.seed) == ("feedback", False, 2)
    assert fwd.plasticity == "forward"  # unchanged
    mf, ms = neurosim.build(fwd.build()), neurosim.build(sleep.build(), dt=2e-3)
    assert np.array_equal(mf.variables["Q1.W"].value, ms.variables["Q1.W"].value)
    ops = {op.name: op for op in ms.init_ops + ms.step_ops}
    assert ops["ctrl_target"].loss == "given" and ops["ctrl_target"].label == "l3.r"
    assert ops["ctrl_integral"].inputs == ((1.0, "ctrl.e"), (-0.61, "ctrl.u"))
    assert ops["l1_apical"].noise_sigma == 1e-3 and ops["l3_apical"].noise_sigma == 0.0
    assert ops["l1_soma"].tau == 6.3e-3 and ops["learn_Q2"].decay == 0.01
    assert ms.step_ops[-4].name == "ctrl_output"  # non-proactive: control after layers


def test_given_per_layer_feedback_init():
    qs = [Given(np.full((n, 3), float(i))) for i, n in enumerate(SIZES[1:], 1)]
    m = neurosim.build(HierarchyBuilder(SIZES, feedback_init=qs).build())
    assert np.all(m.variables["Q2.W"].value == 2.0)
    assert np.all(m.variables["Q3.W"].value == 3.0)  # a list replaces the identity default


def test_noise_per_layer_and_spiking_option():
    m = neurosim.build(HierarchyBuilder(SIZES, sigma=0.1, sigma_output=0.0).build(), dt=0.01)
    ops = {op.name: op for op in m.step_ops}
    assert ops["l1_apical"].noise_sigma == 0.1 and ops["l1_apical"].tau == 0.01
    assert ops["l1_apical"].noise_seed is not None
    assert ops["l1_apical"].noise_seed != ops["l2_apical"].noise_seed
    assert ops["l3_apical"].noise_sigma == 0.0 and ops["l3_apical"].tau is None
    m = neurosim.build(HierarchyBuilder(SIZES, spiking="poisson", max_rate=50.0).build())
    assert type(m.step_ops[-1]).__name__ == "SpikeSoma"
    # per layer: spiking hidden layers, rate output
    net = HierarchyBuilder(SIZES, spiking=["poisson", "lif", None], tau_syn=0.05).build()
    kinds = {op.name: type(op).__name__ for op in neurosim.build(net, dt=0.005).step_ops}
    assert (kinds["l1_spikes"], kinds["l2_spikes"], kinds["l3_rate"]) == (
        "SpikeSoma",
        "SpikeSoma",
        "Nonlinearity",
    )
    assert net.nodes["l2"].spiking == "lif" and net.nodes["l1"].tau_syn == 0.05
    # a Poisson soma whose spike probability per step would exceed 1 is refused at build
    with pytest.raises(ValidationError, match=r"PyramidalLayer 'l1'.*max_rate=200.*<= 50"):
        neurosim.build(HierarchyBuilder(SIZES, spiking="poisson").build(), dt=0.02)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"layer_sizes": [3]}, ["layer_sizes", "L >= 1"]),
        ({"nonlinearities": ["tanh"]}, ["1 entries for 3 layers", "give 3"]),
        ({"feedback": "lateral"}, ["feedback='lateral'", "'multilayer'"]),
        ({"plasticity": "both"}, ["plasticity='both'"]),
        ({"plasticity": "feedback", "feedback": "multilayer"}, ["direct", "layer-wise"]),
        ({"controller": "pi"}, ["controller='pi'", "PIController(...)"]),
        ({"feedback_init": [Given(np.ones((5, 3)))]}, ["feedback_init", "list of 3"]),
        ({"transmission": "fast"}, ["transmission='fast'", "'delayed'"]),
        ({"spiking": ["poisson"]}, ["spiking=['poisson']", "a list of 3", "'poisson', None]"]),
        ({"spiking": "hh"}, ["spiking='hh'", "'lif'"]),
    ],
)
def test_builder_errors(kwargs, words):
    with pytest.raises(ValidationError) as info:
        HierarchyBuilder(**{"layer_sizes": SIZES, **kwargs}).build()
    for word in words:
        assert word in str(info.value)


def test_wrong_shape_given_feedback():
    qs = [Given(np.ones((5, 3))), Given(np.ones((5, 3))), Given(np.eye(3))]
    with pytest.raises(ValidationError, match=r"Projection 'Q2'.*shape \(4, 3\)"):
        HierarchyBuilder(SIZES, feedback_init=qs).build()


def test_recurrent_layer_builder():
    net = neurosim.RecurrentLayerBuilder(input_size=2, hidden_size=8, output_size=3).build()
    g = net.graph
    assert g.get_edge_data("h", "h")["R"]["role"] == "recurrent"
    m = neurosim.build(net, dt=0.1)
    assert [op.name for op in m.step_ops] == [
        "W_in",
        "R",
        "h_soma",
        "h_rate",
        "W_out",
        "y_soma",
        "y_rate",
    ]
    assert m.variables["x.r"].time_varying


def test_draw_network_distinguishes_roles(tmp_path):
    fig = neurosim.draw_network(HierarchyBuilder(SIZES, feedback="multilayer").build())
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"feedforward", "feedback", "self"} <= set(labels)
    fig.savefig(tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000
