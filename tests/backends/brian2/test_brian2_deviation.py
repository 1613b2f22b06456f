"""brian2 runs a model in deviation variables (NonlinearityDifference, LocalPlasticity
with operating points) as the numpy reference does, and as the absolute model."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.backends.brian2 import Brian2Simulator
from neurosim.ir import NONLINEARITIES, Model, NonlinearityDifference, Variable, reference
from neurosim.ir.deviation import deviation_form, op_point
from neurosim.testing import assert_allclose, dfc_model


def _inputs(model: Model, batch: int = 1) -> tuple[dict, dict]:
    """Absolute and deviation inputs: ``x`` and a target ``r_L^- + delta``."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(batch, model.variables["x.r"].size))
    r_L = reference.simulate(model, {"x.r": x, "ctrl.label": np.zeros((batch, 3))}, 0)[0]
    delta = 1e-2 * rng.normal(size=(batch, 3))
    return {"x.r": x, "ctrl.label": r_L["h3.r"][0] + delta}, {"x.r": x, "ctrl.label": delta}


def test_dfc_in_deviations_matches_reference_and_absolute() -> None:
    plasticity = "accumulate"
    model = dfc_model([7, 6, 5, 3], loss="given", activations=["tanh", "logistic", "linear"])
    dev = deviation_form(model, {"ctrl.label": "h3.r"})
    absolute, deviation = _inputs(model)
    online = Brian2Simulator(dev, "numpy")
    online.reset(deviation)
    with pytest.raises(ValueError, match="deviation variables"):
        online.run(2, plasticity="online")  # the operating point needs fixed weights
    sim = Brian2Simulator(dev, "numpy")
    sim.reset(deviation)
    res = sim.run(40, record=["h1.v", "h2.r", "ctrl.u", "h2.v", op_point("h2.v")],
                  plasticity=plasticity, lr=0.5)  # fmt: skip
    ref, updates, _ = reference.simulate(dev, deviation, 40, plasticity, 0.5)
    for var in ("h1.v", "h2.r", "ctrl.u"):
        assert_allclose(res.traces[var], ref[var], rtol_scale=16, msg=var)
    assert res.updates
    for name, upd in res.updates.items():
        assert_allclose(upd, updates[name], rtol_scale=16, msg=name)
    tr_a, up_a, _ = reference.simulate(model, absolute, 40, plasticity, 0.5)
    assert_allclose(res.traces["h2.v"] + res.traces[op_point("h2.v")], tr_a["h2.v"],
                    rtol_scale=64)  # fmt: skip
    for name, upd in res.updates.items():
        assert_allclose(upd, up_a[name], rtol_scale=1e3, msg=name)


@pytest.mark.parametrize("fn", NONLINEARITIES)
def test_nonlinearity_difference_expressions(fn: str) -> None:
    n = 5
    V = {name: Variable(name, kind, (1, n)) for name, kind in
         (("p.a", "input"), ("p.x", "input"), ("p.y", "input"), ("p.d", "state"))}  # fmt: skip
    op = NonlinearityDifference("d", fn=fn, at="p.a", src="p.x", src_baseline="p.y", dst="p.d")
    model = Model(V, [op], [], dt=0.1)
    rng = np.random.default_rng(5)
    inputs = {"p.a": 2 * rng.normal(size=(1, n)), "p.x": 0.1 * rng.normal(size=(1, n)),
              "p.y": 0.1 * rng.normal(size=(1, n))}  # fmt: skip
    sim = Brian2Simulator(model, "numpy")
    sim.reset(inputs)
    res = sim.run(1, record=["p.d"])
    want = reference.phi_difference(fn, inputs["p.a"], inputs["p.x"], inputs["p.y"])
    assert_allclose(res.traces["p.d"][0], want, rtol_scale=16, msg=fn)
