"""Lowerings of the core frontend objects: inputs, populations, projections, rules."""

from __future__ import annotations

from neurosim.core.errors import ValidationError
from neurosim.core.population import Input, Population, compartment_var
from neurosim.core.projection import Projection
from neurosim.core.rules import AntiHebbianFeedbackRule, DendriticPredictionRule, ErrorDrivenRule
from neurosim.ir.build import BuildContext, Lowered, lower, register
from neurosim.ir.ops import Copy, DenseProjection, Integrate, LocalPlasticity, Nonlinearity


@register(Input)
def lower_input(node: Input, ctx: BuildContext) -> Lowered:
    """``name.r``: an input variable (time-varying ones are read step by step)."""
    ctx.declare(
        node.output,
        "input",
        (1, node.size),
        time_varying=node.time_varying,
        population=node.name,
        compartment="r",
    )
    return Lowered()


@register(Projection)
def lower_projection(proj: Projection, ctx: BuildContext) -> Lowered:
    """``P.I <- P.W @ pre (+ P.b)``; weights drawn from the projection's own stream.

    ``init`` holds the feedforward sweep's copy of the op (feedforward projections only);
    ``learn`` the lowered plasticity rule, if any.
    """
    net = ctx.network
    shape = net.shape(proj)
    rng = ctx.rng(proj.name)
    W = ctx.declare(
        f"{proj.name}.W", "parameter", shape, proj.weight.sample(shape, rng), plastic=proj.plastic
    )
    b = None
    if proj.bias_init is not None:
        value = proj.bias_init.sample(shape[:1], ctx.rng(f"{proj.name}.b"))
        b = ctx.declare(f"{proj.name}.b", "parameter", shape[:1], value, plastic=proj.plastic)
    out = ctx.declare(
        f"{proj.name}.I",
        "current",
        (1, shape[0]),
        population=proj.post,
        compartment=proj.compartment,
    )
    pre = net.nodes[proj.pre].output
    low = Lowered(step=[DenseProjection(proj.name, weight=W, pre=pre, out=out, bias=b)])
    if proj.role == "feedforward":
        low.init.append(DenseProjection(f"init_{proj.name}", weight=W, pre=pre, out=out, bias=b))
    if proj.rule is not None:
        low += lower(proj.rule, ctx, proj)
    return low


@register(DendriticPredictionRule)
def lower_dendritic_rule(
    rule: DendriticPredictionRule, ctx: BuildContext, proj: Projection
) -> Lowered:
    """DFC eq. 5: ``dW += <(phi(v) - phi(v_B*)) r_pre^T>_window``, same post factor for b.

    ``v_B*`` is the post node's ``basal_prediction`` (where its soma settles without
    apical input: ``v_basal`` for eq. 1, ``g_B/(g_L+g_B+g_A) v_basal`` for the
    conductance soma of App. G), so the rule vanishes when there is no control.
    """
    post = ctx.network.nodes[proj.post]
    op = LocalPlasticity(
        f"learn_{proj.name}",
        weight=f"{proj.name}.W",
        post=f"{post.name}.v",
        pre=ctx.network.nodes[proj.pre].output,
        post_baseline=getattr(post, "basal_prediction", f"{post.name}.v_basal"),
        fn=post.nonlinearity,
        bias=f"{proj.name}.b" if proj.bias_init else None,
        window=rule.window,
    )
    return Lowered(learn=[op])


@register(AntiHebbianFeedbackRule)
def lower_feedback_rule(
    rule: AntiHebbianFeedbackRule, ctx: BuildContext, proj: Projection
) -> Lowered:
    """DFC eq. 13 (App. E.2): ``dQ += -<v_A[k] u[k+1]^T>_steps - beta Q``.

    Declares ``post.v_apical_prev`` and registers the snapshot ``Copy`` that the post
    layer runs before its update, so the rule pairs the previous apical voltage with
    the control of the current step.
    """
    post = proj.post
    prev = f"{post}.v_apical_prev"
    if prev not in ctx.variables:
        ctx.declare(
            prev,
            "state",
            (1, ctx.network.nodes[post].size),
            population=post,
            compartment="apical_prev",
        )
        ctx.snapshots.setdefault(post, []).append(
            Copy(f"snapshot_{post}", src=f"{post}.v_apical", dst=prev)
        )
    op = LocalPlasticity(
        f"learn_{proj.name}",
        weight=f"{proj.name}.W",
        post=prev,
        pre=ctx.network.nodes[proj.pre].output,
        scale=-1.0,
        decay=rule.beta,
        window="steps",
    )
    return Lowered(learn=[op])


@register(ErrorDrivenRule)
def lower_error_rule(rule: ErrorDrivenRule, ctx: BuildContext, proj: Projection) -> Lowered:
    """``dW/dt = -eta m p^T`` (and ``db/dt = -eta m``) every step: a ``LocalPlasticity``
    with ``post`` = the error node's output, ``pre`` = the trace node's output (default
    the projection's presynaptic rates), ``scale = -eta``, window ``"steps"``."""
    net, who = ctx.network, f"Projection '{proj.name}'"
    n_post, n_pre = net.shape(proj)
    ends = {"error": (rule.error, n_post, "post"), "trace": (rule.trace or proj.pre, n_pre, "pre")}
    names = {}
    for attr, (node, size, side) in ends.items():
        if node not in net.nodes:
            raise ValidationError(
                who, f"rule.{attr}", node, "is not a node of the network",
                f"name one of {sorted(net.nodes)}",
            )  # fmt: skip
        if net.nodes[node].size != size:
            raise ValidationError(
                who, f"rule.{attr}", node,
                f"has {net.nodes[node].size} units but the projection's {side} side has {size}",
                f"give a node of {size} units",
            )  # fmt: skip
        names[attr] = net.nodes[node].output
    op = LocalPlasticity(
        f"learn_{proj.name}",
        weight=f"{proj.name}.W",
        post=names["error"],
        pre=names["trace"],
        bias=f"{proj.name}.b" if proj.bias_init else None,
        scale=-rule.eta,
        window="steps",
    )
    return Lowered(learn=[op])


@register(Population)
def lower_population(pop: Population, ctx: BuildContext) -> Lowered:
    """Dendrites: ``v_c = sum_j I_j``; soma: ``tau dv/dt = -v + sum_c v_c + sum_j I_j``;
    ``r = phi(v)``. No init ops (state starts at zero)."""
    n, low = pop.name, Lowered()
    low.step += ctx.prelude(n)
    dendrites = []
    for comp in pop.compartments:
        ctx.declare(
            compartment_var(n, comp), "state", (1, pop.size), population=n, compartment=comp
        )
    for comp in pop.compartments:
        if comp == "soma":
            continue
        ops, currents = ctx.projections(n, comp)
        var = compartment_var(n, comp)
        low.step += ops + [Integrate(f"{n}_{comp}", var=var, inputs=_sum(currents))]
        dendrites.append(var)
    ops, currents = ctx.projections(n, "soma")
    drive = _sum(currents) + tuple((1.0, v) for v in dendrites)
    r = ctx.declare(pop.output, "state", (1, pop.size), population=n, compartment="r")
    low.step += ops + [
        Integrate(f"{n}_soma", var=f"{n}.v", tau=pop.tau, inputs=drive),
        Nonlinearity(f"{n}_rate", src=f"{n}.v", dst=r, fn=pop.nonlinearity),
    ]
    return low


def _sum(currents: list[str]) -> tuple[tuple[float, str], ...]:
    return tuple((1.0, c) for c in currents)
