"""Lowering of :class:`~neurosim.circuits.reciprocal.ReciprocalPair` to IR ops.

Only existing ops are needed: the drive is an :class:`~neurosim.ir.ops.Integrate` with
``tau = dt`` and white noise (``x = data + sigma xi`` exactly: the leak cancels the old
value), the three passes are :class:`~neurosim.ir.ops.DenseProjection` s (``A`` is used
twice, on ``x`` and on ``x̂``), and both rules are :class:`~neurosim.ir.ops.LocalPlasticity`
ops whose post factor is a difference of two variables (``post - post_baseline``), with
the rates in ``scale``: a backend's online learning rate ``lr`` multiplies both (use
``lr = 1/dt`` for the pair's own rates).

brian2 placement: the visible variables share the population ``{name}_visible`` and the
hidden ones ``{name}_hidden``, so ``A`` is one ``Synapses`` object carrying both
bottom-up passes (two ``(summed)`` variables) and ``B`` one carrying the top-down pass.
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.circuits.reciprocal import ReciprocalPair
from neurosim.ir.build import BuildContext, Lowered, register
from neurosim.ir.ops import DenseProjection, Integrate, LocalPlasticity, Nonlinearity, Op


def _declare(ctx: BuildContext, pair: ReciprocalPair) -> dict[str, str]:
    """Variables of the pair; returns ``role -> IR name``."""
    n, m, name = pair.hidden, pair.size, pair.name
    names: dict[str, str] = {}
    layers = {
        "visible": (m, ("x", "xhat", "a_xhat")),
        "hidden": (n, ("h", "hhat", "a_h", "a_hhat")),
    }
    for layer, (size, roles) in layers.items():
        for role in roles:
            kind = "current" if role.startswith("a_") else "state"
            names[role] = ctx.declare(
                pair.var(role), kind, (1, size), population=f"{name}_{layer}", compartment=role
            )
    if pair.mixing:
        for role, size, layer in (("rec_x", m, "visible"), ("rec_h", n, "hidden")):
            names[role] = ctx.declare(
                pair.var(role), "state", (1, size), population=f"{name}_{layer}", compartment=role
            )
    if pair.drive == "data":
        visible = f"{name}_visible"
        names["data"] = ctx.declare(
            pair.var("data"), "input", (1, m), time_varying=True, population=visible
        )
    weights = (
        ("A", pair.shape_A, pair.initial_A, pair.eta_A),
        ("B", pair.shape_B, pair.init_B, pair.eta_B),
    )
    for role, shape, init, eta in weights:
        value = init.sample(shape, ctx.rng(pair.var(role)))
        names[role] = ctx.declare(pair.var(role), "parameter", shape, value, plastic=eta > 0)
    if pair.bias:
        for role, size, eta in (("b_h", n, pair.eta_A), ("b_v", m, pair.eta_B)):
            zeros = np.zeros(size)
            names[role] = ctx.declare(pair.var(role), "parameter", (size,), zeros, plastic=eta > 0)
    return names


def _drive(ctx: BuildContext, pair: ReciprocalPair, v: dict[str, str]) -> Op:
    """``x = data + sigma xi``: an Euler-Maruyama step with ``tau = dt`` and leak 1, whose
    increment ``sigma sqrt(dt)/tau xi`` is ``sigma xi`` when the op's noise amplitude is
    ``sigma sqrt(dt)`` (the noisy-dendrite convention of DFC.md §1.2)."""
    inputs = ((1.0, v["data"]),) if "data" in v else ()
    op_name = f"{pair.name}_drive"
    if not pair.sigma:
        return Integrate(op_name, var=v["x"], inputs=inputs)
    return Integrate(
        op_name,
        var=v["x"],
        tau=ctx.dt,
        inputs=inputs,
        noise_sigma=pair.sigma * math.sqrt(ctx.dt),
        noise_seed=ctx.seed(op_name),
    )


def _pass(
    pair: ReciprocalPair,
    tag: str,
    project: tuple[str, str, str, str | None],
    out: str,
    mixed_with: str,
    rec: str | None,
) -> list[Op]:
    """``current = W pre (+ b)`` for ``project = (W, pre, current, b)``; then
    ``out = phi(current)``, or ``lam*mixed_with + (1 - lam)*phi(current)`` for the original
    Recirculation's second pass (``rec`` holds ``phi(current)``)."""
    weight, pre, current, bias = project
    name = f"{pair.name}_{tag}"
    ops: list[Op] = [DenseProjection(name, weight=weight, pre=pre, out=current, bias=bias)]
    fn, lam = pair.nonlinearity, pair.mixing
    if not lam or rec is None:
        return ops + [Nonlinearity(f"{pair.name}_{tag}_rate", src=current, dst=out, fn=fn)]
    return ops + [
        Nonlinearity(f"{pair.name}_{tag}_rate", src=current, dst=rec, fn=fn),
        Integrate(f"{pair.name}_{tag}_mix", var=out, inputs=((lam, mixed_with), (1.0 - lam, rec))),
    ]


@register(ReciprocalPair)
def lower_reciprocal_pair(pair: ReciprocalPair, ctx: BuildContext) -> Lowered:
    """Drive, ``h = phi(A x)``, ``x̂ = phi(B h)``, ``ĥ = phi(A x̂)`` (mixed for the original
    Recirculation), then the two rules (recirculation_pinv.md §2.1-2.2)."""
    v = _declare(ctx, pair)
    b_h, b_v = v.get("b_h"), v.get("b_v")
    step = [_drive(ctx, pair, v)]
    step += _pass(pair, "up", (v["A"], v["x"], v["a_h"], b_h), v["h"], v["x"], None)
    down = (v["B"], v["h"], v["a_xhat"], b_v)
    step += _pass(pair, "down", down, v["xhat"], v["x"], v.get("rec_x"))
    up2 = (v["A"], v["xhat"], v["a_hhat"], b_h)
    step += _pass(pair, "up2", up2, v["hhat"], v["h"], v.get("rec_h"))
    pre_A = v["x"] if pair.variant == "linear" else v["xhat"]
    rules = (
        ("A", pair.eta_A, v["h"], v["hhat"], pre_A, b_h),
        ("B", pair.eta_B, v["x"], v["xhat"], v["h"], b_v),
    )
    learn: list[Op] = [
        LocalPlasticity(
            f"{pair.name}_learn_{w}",
            weight=v[w],
            post=post,
            post_baseline=base,
            pre=pre,
            bias=bias,
            scale=eta,
            window="steps",
        )
        for w, eta, post, base, pre, bias in rules
        if eta > 0
    ]
    return Lowered(step=step, learn=learn)
