"""ReciprocalPair: validation (errors name the object) and its lowering to IR ops."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim import Given, Network, Normal, ValidationError
from neurosim.circuits import ReciprocalPair
from neurosim.ir import DenseProjection, Integrate


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda: ReciprocalPair("p", 4, hidden=2, init_B=Given(np.ones((2, 4)))),
            ["ReciprocalPair 'p'", "init_B", "(2, 4)", "does not chain", "(4, 2)"],
        ),
        (
            lambda: ReciprocalPair("p", 4, hidden=2, init_A=Given(np.ones((4, 2)))),
            ["ReciprocalPair 'p'", "init_A", "(n, m)", "(2, 4)"],
        ),
        (lambda: ReciprocalPair("p", 4, hidden=2, eta_B=-0.1), ["'p'", "eta_B=-0.1", ">= 0"]),
        (lambda: ReciprocalPair("p", 4, hidden=2, eta_A=-1), ["'p'", "eta_A=-1", "rate"]),
        (
            lambda: ReciprocalPair("p", 4, hidden=2, noise_mean=0.5),
            ["ReciprocalPair 'p'", "noise_mean=0.5", "mean-zero", "pseudoinverse"],
        ),
        (lambda: ReciprocalPair("p", 4, hidden=2, sigma=0.0), ["'p'", "sigma=0.0", "> 0"]),
        (lambda: ReciprocalPair("p", 4, hidden=0), ["'p'", "hidden=0"]),
        (lambda: ReciprocalPair("p", 4, hidden=2, drive="pink"), ["drive='pink'", "'noise'"]),
        (lambda: ReciprocalPair("p", 4, hidden=2, lam=0.5), ["lam=0.5", "recirculation"]),
        (
            lambda: ReciprocalPair("p", 4, hidden=2, variant="recirculation", lam=1.0),
            ["lam=1.0", "[0, 1)"],
        ),
        (lambda: ReciprocalPair("p", 4, hidden=2, init_A="xavier"), ["init_A='xavier'"]),
    ],
)
def test_bad_input_names_the_pair(make, words):
    with pytest.raises(ValidationError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_data_drive_may_be_noise_free_and_variants_are_accepted():
    assert ReciprocalPair("p", 3, hidden=2, drive="data", sigma=0.0).sigma == 0.0
    pair = ReciprocalPair("p", 3, hidden=2, variant="recirculation")
    assert pair.mixing == 0.75 and pair.nonlinearity == "logistic"
    assert ReciprocalPair("p", 3, hidden=2).mixing == 0.0


def _build(pair: ReciprocalPair):
    net = Network("n", seed=3)
    net.add(pair)
    return neurosim.build(net, dt=1.0)


def test_linear_pair_lowers_to_three_passes_and_two_concurrent_rules():
    model = _build(ReciprocalPair("p", 5, hidden=3, eta_A=0.2, eta_B=0.3))
    ops = {op.name: op for op in model.step_ops}
    passes = [op for op in model.step_ops if isinstance(op, DenseProjection)]
    assert [(op.weight, op.pre, op.out) for op in passes] == [
        ("p.A", "p.x", "p.a_h"),
        ("p.B", "p.h", "p.a_xhat"),
        ("p.A", "p.xhat", "p.a_hhat"),
    ]
    drive = ops["p_drive"]
    assert isinstance(drive, Integrate) and drive.tau == 1.0 and drive.noise_sigma == 1.0
    rules = model.plasticity_ops
    assert [(r.weight, r.post, r.post_baseline, r.pre, r.scale) for r in rules] == [
        ("p.A", "p.h", "p.hhat", "p.x", 0.2),
        ("p.B", "p.x", "p.xhat", "p.h", 0.3),
    ]
    assert model.step_ops[-2:] == rules  # both rules sample after all three passes
    assert model.variables["p.A"].shape == (3, 5) and model.variables["p.B"].shape == (5, 3)
    # default initialisation: A ~ N(0, 1/m), B_0 = 0 (recirculation_pinv.md §2.4, §3)
    assert np.all(model.variables["p.B"].value == 0)
    assert abs(model.variables["p.A"].value.std() - 5**-0.5) < 0.3


def test_frozen_bottom_up_has_no_A_rule_and_original_recirculation_mixes():
    frozen = _build(ReciprocalPair("p", 4, hidden=2, eta_A=0.0))
    assert [r.weight for r in frozen.plasticity_ops] == ["p.B"]
    assert not frozen.variables["p.A"].plastic
    pair = ReciprocalPair("p", 4, hidden=2, variant="recirculation", lam=0.5, bias=True,
                          drive="data", sigma=0.0, init_A=Normal(0.1))  # fmt: skip
    model = _build(pair)
    ops = {op.name: op for op in model.step_ops}
    assert ops["p_down_mix"].inputs == ((0.5, "p.x"), (0.5, "p.rec_x"))
    assert ops["p_up2_mix"].inputs == ((0.5, "p.h"), (0.5, "p.rec_h"))
    rule_A = next(r for r in model.plasticity_ops if r.weight == "p.A")
    assert rule_A.pre == "p.xhat" and rule_A.bias == "p.b_h"  # Hinton & McClelland
    assert model.variables["p.data"].time_varying


def test_graph_shows_the_reciprocal_edges():
    net = Network("n")
    net.add(ReciprocalPair("p", 4, hidden=2))
    g = net.graph
    assert {("p.visible", "p.hidden"), ("p.hidden", "p.visible")} <= set(g.edges())
    roles = {d["name"]: d["role"] for _, _, d in g.edges(data=True)}
    assert roles == {"p.A": "feedforward", "p.B": "feedback"}


def test_pair_round_trips_through_a_circuit_file(tmp_path):
    net = Network("n", seed=2)
    net.add(ReciprocalPair("p", 4, hidden=2, init_A=Given(np.eye(2, 4)), variant="recirculation"))
    path = tmp_path / "pair.yaml"
    neurosim.save_circuit(net, path)
    loaded = neurosim.load_circuit(path)
    loaded = loaded[0] if isinstance(loaded, tuple) else loaded
    assert loaded.nodes["p"] == net.nodes["p"]
