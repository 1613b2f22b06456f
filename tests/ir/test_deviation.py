"""Deviation form: the exact phi differences and the model rewrite (neurosim.ir.deviation).

* ``phi(a + x) - phi(a + y)``: torch (generated one-sided form and general kernel),
  numpy reference and the identities agree with a float64 evaluation of the plain
  difference; in float32 they keep the digits the plain difference loses.
* ``deviation_form``: the rewritten DFC circuit simulates operating point + deviation
  equal, in float64, to the absolute circuit on the torch backend and in the numpy
  reference; models whose init state is no fixed point are refused.
* The point of it: a float32 simulation in deviations gives the float64 update of a
  tiny target shift, where the absolute form gives noise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.backends.torch import TorchSimulator
from neurosim.backends.torch.difference import TANH_LIMIT, phi_difference
from neurosim.backends.torch.kernels import phi
from neurosim.ir import (
    NONLINEARITIES,
    Integrate,
    LocalPlasticity,
    Model,
    NonlinearityDifference,
    Variable,
    reference,
)
from neurosim.ir.deviation import deviation_form, op_point
from neurosim.testing import assert_allclose, dfc_model


def PHI64(fn: str):  # noqa: N802 (reads like the table it stands for)
    """``phi`` as the generated step computes it (torch.tanh, no fast tanh)."""
    return lambda v: phi(fn, v)


def _points(dtype: torch.dtype, scale: float) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    a = 3.0 * torch.randn(400, generator=g, dtype=torch.float64)
    x = scale * torch.randn(400, generator=g, dtype=torch.float64)
    y = scale * torch.randn(400, generator=g, dtype=torch.float64)
    return a.to(dtype), x.to(dtype), y.to(dtype)


def _exact(fn: str, a, x, y) -> torch.Tensor:
    """The difference from the float64 values of the (rounded) inputs, in float64 with
    moderate deviations (no cancellation problem at that precision)."""
    a, x, y = (t.double() for t in (a, x, y))
    return PHI64(fn)(a + x) - PHI64(fn)(a + y)


COMPILED = pytest.mark.parametrize("compiled", [False, True], ids=["torch", "C"])


@COMPILED
@pytest.mark.parametrize("fn", NONLINEARITIES)
def test_phi_difference_identities_float64(fn: str, compiled: bool) -> None:
    a, x, y = _points(torch.float64, 0.3)
    want = _exact(fn, a, x, y)
    got = phi_difference(fn, a, x, y, compiled=compiled)
    assert_allclose(got, want, rtol_scale=4, msg=fn)
    one = phi_difference(fn, a, x, compiled=compiled)
    assert_allclose(one, _exact(fn, a, x, 0 * x), rtol_scale=4, msg=fn)
    ref = reference.phi_difference(fn, a.numpy(), x.numpy(), y.numpy())
    assert_allclose(ref, want, rtol_scale=4, msg=f"numpy {fn}")


@COMPILED
@pytest.mark.parametrize("fn", ["tanh", "logistic", "softplus", "relu", "leaky_relu"])
def test_phi_difference_keeps_float32_precision_for_tiny_deviations(
    fn: str, compiled: bool
) -> None:
    """Deviations of 1e-6 of the voltage: the plain float32 difference has ~10%
    error, the identity a few ulp (relative to the difference itself)."""
    a, x, y = _points(torch.float32, 1e-6)
    # the float64 identity of the rounded inputs (a plain float64 difference would
    # itself lose ~1e-16/1e-13 at saturated units)
    want = torch.from_numpy(reference.phi_difference(fn, *(t.double().numpy() for t in (a, x, y))))
    got = phi_difference(fn, a, x, y, compiled=compiled).double()
    scale = want.abs() + 1e-30
    assert float(((got - want).abs() / scale).max()) < 1e-4, fn
    plain = (PHI64(fn)(a + x) - PHI64(fn)(a + y)).double()
    if fn in ("tanh", "logistic", "softplus"):
        assert float(((plain - want).abs() / scale).median()) > 1e-2


@COMPILED
@pytest.mark.parametrize("fn", ["tanh", "logistic"])
def test_phi_difference_is_bounded_far_from_the_operating_point(fn: str, compiled: bool) -> None:
    a = torch.tensor([-40.0, 40.0, -20.0, 0.0, 30.0], dtype=torch.float32)
    x = torch.tensor([40.0, -80.0, 25.0, 100.0, -30.0], dtype=torch.float32)
    got = phi_difference(fn, a, x, compiled=compiled)
    assert torch.isfinite(got).all()
    assert_allclose(got, _exact(fn, a, x, 0 * x), dtype=torch.float32, msg=fn)


def _difference_model(fn: str, n: int = 6) -> Model:
    V = {
        name: Variable(name, kind, (1, n))
        for name, kind in (
            ("p.a", "input"),
            ("p.x", "input"),
            ("p.y", "input"),
            ("p.d", "state"),
            ("p.e", "state"),
            ("p.s", "state"),
        )  # fmt: skip
    }
    step = [
        NonlinearityDifference("d", fn=fn, at="p.a", src="p.x", dst="p.d"),
        NonlinearityDifference("e", fn=fn, at="p.a", src="p.x", src_baseline="p.y", dst="p.e"),
        Integrate("s", var="p.s", tau=1.0, leak=0.0, inputs=((1.0, "p.d"),)),
    ]
    return Model(V, [], step, dt=0.5)


@pytest.mark.parametrize("fn", NONLINEARITIES)
@pytest.mark.parametrize("far", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_torch_lowering_matches_reference(fn: str, far: bool, dtype: torch.dtype) -> None:
    """The generated step (one-sided tanh/logistic form with ``T, S`` prepared once,
    or the fallback beyond ``TANH_LIMIT``) against the numpy interpreter."""
    model = _difference_model(fn)
    g = torch.Generator().manual_seed(1)
    a = (2.5 * TANH_LIMIT[dtype] if far else 2.0) * torch.randn(3, 6, generator=g)
    inputs = {"p.a": a, "p.x": 0.1 * torch.randn(3, 6, generator=g),
              "p.y": 0.1 * torch.randn(3, 6, generator=g)}  # fmt: skip
    inputs = {k: v.to(dtype) for k, v in inputs.items()}
    sim = TorchSimulator(model, dtype=dtype, hoist=False)  # the ops run in the step
    sim.reset(inputs)
    res = sim.run(3, record=["p.d", "p.e", "p.s"])
    ref, _, _ = reference.simulate(model, {k: v.double().numpy() for k, v in inputs.items()}, 3)
    for var in ("p.d", "p.e", "p.s"):
        assert_allclose(res.traces[var], ref[var], dtype=dtype, rtol_scale=4, msg=f"{fn} {var}")


def _absolute_and_deviation(dtype, window="all", sigma=0.0, shift=1e-3):
    model = dfc_model([7, 6, 5, 3], loss="given", window=window, sigma=sigma, tau_a=0.05)
    dev = deviation_form(model, {"ctrl.label": "h3.r"})
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 7, generator=g, dtype=torch.float64)
    ff = TorchSimulator(model, dtype=torch.float64)
    ff.reset({"x.r": x, "ctrl.label": torch.zeros(4, 3, dtype=torch.float64)})
    r_L = ff.state["h3.r"].clone()
    delta = shift * torch.randn(4, 3, generator=g, dtype=torch.float64)
    return model, dev, x, r_L, delta


@pytest.mark.parametrize("window", ["all", "last"])
def test_deviation_form_equals_absolute_simulation_float64(window: str) -> None:
    model, dev, x, r_L, delta = _absolute_and_deviation(torch.float64, window)
    a = TorchSimulator(model, dtype=torch.float64)
    a.reset({"x.r": x, "ctrl.label": r_L + delta})
    ra = a.run(60, record=["h1.v", "h2.r", "ctrl.u"])
    d = TorchSimulator(dev, dtype=torch.float64)
    d.reset({"x.r": x, "ctrl.label": delta})
    rd = d.run(60, record=["h1.v", "h2.r", "ctrl.u"])
    assert_allclose(rd.traces["h1.v"] + d.state[op_point("h1.v")], ra.traces["h1.v"])
    assert_allclose(rd.traces["h2.r"] + d.state[op_point("h2.r")], ra.traces["h2.r"])
    assert_allclose(rd.traces["ctrl.u"], ra.traces["ctrl.u"], rtol_scale=16)
    for name, upd in ra.updates.items():
        assert_allclose(rd.updates[name], upd, rtol_scale=64, msg=name)
    assert float(ra.updates["h1_to_h2_basal.W"].abs().max()) > 1e-6  # not trivial


def test_deviation_form_in_the_reference_interpreter() -> None:
    model, dev, x, r_L, delta = _absolute_and_deviation(torch.float64)
    x, r_L, delta = x.numpy(), r_L.numpy(), delta.numpy()
    tr_a, up_a, _ = reference.simulate(model, {"x.r": x, "ctrl.label": r_L + delta}, 30,
                                       "accumulate")  # fmt: skip
    tr_d, up_d, _ = reference.simulate(dev, {"x.r": x, "ctrl.label": delta}, 30, "accumulate")
    assert_allclose(tr_d["h2.v"] + tr_d[op_point("h2.v")], tr_a["h2.v"])
    for name, upd in up_a.items():
        assert_allclose(up_d[name], upd, rtol_scale=64, msg=name)


def test_noisy_sleep_phase_rule_is_the_same_in_deviations() -> None:
    """Noise enters the deviation unchanged (same generators, same stream): the
    feedback rule's update of a noisy run agrees to rounding."""
    model = dfc_model([7, 6, 5, 3], loss="given", sigma=0.05, tau_a=0.3, feedback_rule=True,
                      proactive=False)  # fmt: skip
    dev = deviation_form(model, {"ctrl.label": "h3.r"})
    x = torch.randn(4, 7, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a = TorchSimulator(model, dtype=torch.float64, fast_noise=False)
    a.reset({"x.r": x, "ctrl.label": torch.zeros(4, 3, dtype=torch.float64)})
    a.reset({"x.r": x, "ctrl.label": a.state["h3.r"].clone()})
    d = TorchSimulator(dev, dtype=torch.float64, fast_noise=False)
    d.reset({"x.r": x, "ctrl.label": torch.zeros(4, 3, dtype=torch.float64)})
    ua, ud = a.run(40).updates, d.run(40).updates
    for name, upd in ua.items():
        assert_allclose(ud[name], upd, rtol_scale=1e4, msg=name)
    assert float(ua["ctrl_to_h1_apical.W"].abs().max()) > 0


def test_float32_in_deviations_gives_the_float64_update_of_a_tiny_shift() -> None:
    """A target shift of 1e-7 of the rates (late training): float32 in deviations is
    within 1e-4 of float64; the absolute form in float32 is off by O(1)."""
    model, dev, x, r_L, delta = _absolute_and_deviation(torch.float64, shift=1e-7)
    want = TorchSimulator(model, dtype=torch.float64)
    want.reset({"x.r": x, "ctrl.label": r_L + delta})
    ref = want.run(200).updates
    d32 = TorchSimulator(dev, dtype=torch.float32)
    d32.reset({"x.r": x, "ctrl.label": delta})
    got = d32.run(200).updates
    a32 = TorchSimulator(model, dtype=torch.float32)
    a32.reset({"x.r": x, "ctrl.label": r_L + delta})
    plain = a32.run(200).updates
    for name, w in ref.items():
        rel = float((got[name].double() - w).norm() / w.norm())
        assert rel < 1e-4, (name, rel)
    worst = max(float((plain[n].double() - w).norm() / w.norm()) for n, w in ref.items())
    assert worst > 0.1


def test_online_plasticity_is_refused() -> None:
    """The operating point assumes weights fixed during a run."""
    dev = deviation_form(dfc_model([7, 6, 5, 3], loss="given"), {"ctrl.label": "h3.r"})
    sim = TorchSimulator(dev, dtype=torch.float64)
    zeros = {"dtype": torch.float64}
    sim.reset({"x.r": torch.zeros(2, 7, **zeros), "ctrl.label": torch.zeros(2, 3, **zeros)})
    with pytest.raises(ValueError, match="deviation variables"):
        sim.run(2, plasticity="online")


def test_models_without_a_fixed_point_are_refused() -> None:
    model = dfc_model([7, 6, 5, 3], loss="cross_entropy")  # the target is not r_L at rest
    with pytest.raises(ValueError, match="fixed point"):
        deviation_form(model, {"ctrl.label": "h3.r"})
    with pytest.raises(ValueError, match="not an input"):
        deviation_form(model, {"h3.r": "h3.r"})


def test_rewrite_drops_what_never_moves_and_keeps_rules() -> None:
    model = dfc_model([7, 6, 5, 3], loss="given")
    dev = deviation_form(model, {"ctrl.label": "h3.r"})
    names = {op.name for op in dev.step_ops}
    assert "ff_h1" not in names and "basal_h1" not in names  # W_1 x never moves
    rule = next(op for op in dev.step_ops if op.name == "ff_rule_h2")
    assert isinstance(rule, LocalPlasticity)
    assert (rule.at, rule.pre_at) == (op_point("h2.v"), op_point("h1.r"))
    rule1 = next(op for op in dev.step_ops if op.name == "ff_rule_h1")
    assert rule1.post_baseline is None and rule1.pre == "x.r" and rule1.pre_at is None
    assert isinstance(next(op for op in dev.step_ops if op.name == "rate_h1"),
                      NonlinearityDifference)  # fmt: skip
    assert dev.meta["deviation"]["rest"] == {"ctrl.label": "h3.r"}
    assert np.isfinite(len(str(dev)))
