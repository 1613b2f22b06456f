"""DFC App. H multi-layer feedback pathway: updated first and top down, with either
transmission (issue 11 §4).

The pathway ``f{L} .. f{1}`` is a fast linear network (``tau=None``) that delivers
``Q_i Q_{i+1} ... Q_L u`` of the *current* control to layer ``i``: the network must
then evolve exactly like direct feedback with those products. With delayed
transmission the pathway used to be reversed with the layers (bottom up, after
them), so layer ``i`` received the control of ``L - i + 1`` steps before (the
traces differed by O(1)); the builder's docstring said "top down" all along.
"""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.circuits import PIController
from neurosim.ir.reference import simulate
from neurosim.testing import assert_allclose

SIZES = [4, 5, 3, 2]


def _feedback() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pathway weights ``Q1 (5x3), Q2 (3x2), Q3 (2x2)`` and the direct products."""
    rng = np.random.default_rng(0)
    Q = [rng.normal(size=(5, 3)), rng.normal(size=(3, 2)), rng.normal(size=(2, 2))]
    return Q, [Q[0] @ Q[1] @ Q[2], Q[1] @ Q[2], Q[2]]


def _model(feedback: str, weights, transmission: str, proactive: bool) -> neurosim.ir.Model:
    builder = neurosim.HierarchyBuilder(
        SIZES,
        controller=PIController(k_p=1.0, alpha=0.01, loss="mse", lam=0.5),
        feedback=feedback,
        feedback_init=[neurosim.Given(w) for w in weights],
        transmission=transmission,
        proactive=proactive,
        seed=1,
    )
    return neurosim.build(builder.build(), dt=0.02)


@pytest.mark.parametrize("transmission", ["instantaneous", "delayed"])
@pytest.mark.parametrize("proactive", [True, False])
def test_pathway_equals_direct_feedback_with_the_products(transmission, proactive) -> None:
    pathway, products = _feedback()
    rng = np.random.default_rng(1)
    ins = {"x.r": rng.normal(size=(2, 4)), "ctrl.label": rng.normal(size=(2, 2))}
    multi, _, _ = simulate(_model("multilayer", pathway, transmission, proactive), ins, 60)
    direct, _, _ = simulate(_model("direct", products, transmission, proactive), ins, 60)
    for var in ("l1.v_apical", "l1.v", "l2.v", "l3.v", "ctrl.u"):
        assert_allclose(multi[var], direct[var], rtol_scale=100, msg=var)


@pytest.mark.parametrize("transmission", ["instantaneous", "delayed"])
def test_pathway_runs_first_and_top_down(transmission) -> None:
    model = _model("multilayer", _feedback()[0], transmission, True)
    order = [n for n in model.meta["order"] if n.startswith(("f", "l"))]
    assert order[:3] == ["f3", "f2", "f1"]
    layers = ["l1", "l2", "l3"] if transmission == "instantaneous" else ["l3", "l2", "l1"]
    assert order[3:] == layers
