"""IR ops -> :class:`~neurosim.backends.brian2.plan.Plan` (a registry, one rule per op type).

Each rule receives the op, the :class:`LoweringContext` and the clock it runs on
(``"step"`` or ``"init"``) and emits ordered actions. The arithmetic is the exact
discrete update of the IR (forward Euler, as the torch backend), written as brian2
abstract code, so both backends agree to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from neurosim.backends.brian2.context import LoweringContext
from neurosim.backends.brian2.plan import Action, Clock, Plan, Plasticity, sanitize
from neurosim.ir import (
    Copy,
    DenseProjection,
    ErrorSignal,
    Integrate,
    LocalPlasticity,
    Model,
    Nonlinearity,
    NonlinearityDifference,
    Op,
    OutputTarget,
    SpikeSoma,
)
from neurosim.ir.deviation import check_plasticity

Rule = Callable[[Op, LoweringContext, Clock], None]
_RULES: dict[type, Rule] = {}

#: brian2 expressions of the IR nonlinearities (``{x}`` is the argument).
PHI = {
    "linear": "({x})",
    "tanh": "tanh({x})",
    "relu": "(({x})*int(({x}) > 0))",
    "logistic": "(1.0/(1.0 + exp(-({x}))))",
    "softplus": "log(1.0 + exp({x}))",
    "leaky_relu": "(({x})*int(({x}) > 0) + 0.01*({x})*int(({x}) <= 0))",
}

#: gate of a learning action at its step position: brian2 step j = t_in_timesteps % T.
_GATE = {
    "all": "int((t_in_timesteps % T_sample) != 0)",
    "steps": "int((t_in_timesteps % T_sample) != 0)",
    "last": "int((t_in_timesteps % T_sample) == T_sample - 1)",
}


#: brian2 expressions of ``phi(a + x) - phi(a + y)`` by the exact identities of
#: :class:`~neurosim.ir.ops.NonlinearityDifference` (no two rates subtracted).
PHI_DIFFERENCE = {
    "linear": "(({x}) - ({y}))",
    "tanh": "(sinh(({x}) - ({y}))/(cosh(({a}) + ({x}))*cosh(({a}) + ({y}))))",
    "logistic": (
        "((1.0/(1.0 + exp(-(({a}) + ({x})))))*(1.0/(1.0 + exp(({a}) + ({y}))))"
        "*(-expm1(-(({x}) - ({y})))))"
    ),
    "softplus": "log1p((1.0/(1.0 + exp(-(({a}) + ({y})))))*expm1(({x}) - ({y})))",
    "relu": (
        "(int(({a}) + ({x}) > 0)*int(({a}) + ({y}) > 0)*(({x}) - ({y})) + "
        "(1 - int(({a}) + ({x}) > 0)*int(({a}) + ({y}) > 0))*"
        "(({a}) + ({x}))*int(({a}) + ({x}) > 0) - "
        "(1 - int(({a}) + ({x}) > 0)*int(({a}) + ({y}) > 0))*"
        "(({a}) + ({y}))*int(({a}) + ({y}) > 0))"
    ),
    "leaky_relu": (
        "(int(({a}) + ({x}) > 0)*int(({a}) + ({y}) > 0)*(({x}) - ({y})) + "
        "int(({a}) + ({x}) <= 0)*int(({a}) + ({y}) <= 0)*0.01*(({x}) - ({y})) + "
        "int(({a}) + ({x}) > 0)*int(({a}) + ({y}) <= 0)*"
        "(({a}) + ({x}) - 0.01*(({a}) + ({y}))) + "
        "int(({a}) + ({x}) <= 0)*int(({a}) + ({y}) > 0)*"
        "(0.01*(({a}) + ({x})) - ({a}) - ({y})))"
    ),
}


def phi_difference(fn: str, a: str, x: str, y: str | None) -> str:
    """The brian2 expression ``fn(a + x) - fn(a + y)`` (``y=None``: ``- fn(a)``)."""
    if fn not in PHI_DIFFERENCE:
        raise ValueError(
            f"brian2 backend: nonlinearity '{fn}' is not supported; use one of "
            f"{sorted(PHI_DIFFERENCE)}"
        )
    return PHI_DIFFERENCE[fn].format(a=a, x=x, y=y or "0.0")


def lowers(op_type: type) -> Callable[[Rule], Rule]:
    """Register the lowering rule of one IR op type."""

    def deco(fn: Rule) -> Rule:
        _RULES[op_type] = fn
        return fn

    return deco


def phi(fn: str, x: str) -> str:
    """The brian2 expression ``fn(x)``; refuses unknown nonlinearities."""
    if fn not in PHI:
        raise ValueError(
            f"brian2 backend: nonlinearity '{fn}' is not supported; use one of {sorted(PHI)}"
        )
    return PHI[fn].format(x=x)


def _num(x: float) -> str:
    return repr(float(x))


def lower(
    model: Model,
    plasticity: str | None = "online",
    hoist: bool = True,
    event_driven: bool = False,
) -> Plan:
    """Lower ``model`` into a :class:`Plan`.

    Parameters
    ----------
    model : the IR model.
    plasticity : ``"online"`` (``W += lr*dt*dW_k`` every sampled step: a clock-driven
        synaptic ODE integrated by forward Euler), ``"accumulate"`` (sum ``dW_k`` in a
        synaptic accumulator) or ``None`` (plasticity ops ignored).
    hoist : compute loop-invariant projections (e.g. ``W_1 x`` from a static input)
        once per sample, unless their weight learns online.
    event_driven : projections from a spiking soma transmit spikes as brian2 events
        (threshold + ``on_pre``) instead of reading the filtered train; the result is
        the same up to rounding (see :func:`_event_projection`).
    """
    if plasticity not in ("online", "accumulate", None):
        raise ValueError(
            f"brian2 backend: plasticity={plasticity!r}; use 'online', 'accumulate' or None"
        )
    check_plasticity(model, plasticity, "brian2 backend")
    ctx = LoweringContext(model, Plan(), plasticity, event_driven)
    if event_driven:  # known up front: a projection may be lowered before its source spikes
        for op in model.step_ops:
            if isinstance(op, SpikeSoma):
                ctx.spike_sources[op.dst] = _spike_constants(op, model.dt)
    if hoist:
        # Only projections of a static input are hoisted (computed on the init clock):
        # their value is then the same from the initial state on. A projection of a
        # loop-invariant *state* (an instantaneous population fed by an input) is not:
        # that state is 0 until the first step computes it, as in the reference.
        static = {v.name for v in model.of_kind("input") if not v.time_varying}
        for op in model.loop_invariant_ops():
            if (
                isinstance(op, DenseProjection)
                and op.pre in static
                and op.weight not in ctx.online_weights
            ):
                ctx.hoisted.add(op.name)
        ctx.invariant = static
    for var in model.of_kind("input"):
        ctx.emit_input(var.name)
    for op in model.step_ops:
        if isinstance(op, LocalPlasticity) and plasticity is None:
            continue
        _rule(op)(op, ctx, "step")
    ctx.emit_zeroing()
    for op in model.init_ops:
        _rule(op)(op, ctx, "init")
    _continue_traces(ctx)
    for action in ctx.deferred_event_init:
        ctx.emit(action)
    for op in ctx.deferred_init:
        _RULES[LocalPlasticity](op, ctx, "init")
    return ctx.plan


def _rule(op: Op) -> Rule:
    for cls in type(op).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    raise NotImplementedError(
        f"brian2 backend: no lowering for op '{op.name}' of type {type(op).__name__}; "
        f"supported: {sorted(c.__name__ for c in _RULES)}"
    )


@lowers(DenseProjection)
def _dense(op: DenseProjection, ctx: LoweringContext, clock: Clock) -> None:
    """``out = W pre (+ b)``: a ``(summed)`` synaptic variable (+ a bias action)."""
    syn = ctx.synapse(op.weight, op.pre, op.out)
    if clock == "step" and ctx.event_driven and op.pre in ctx.spike_sources:
        _event_projection(op, ctx, syn)
        return
    group = ctx.plan.groups[syn.target]
    out = sanitize(op.out)
    run_clock: Clock = "init" if (clock == "step" and op.name in ctx.hoisted) else clock
    direct = clock == "step" and op.bias is None
    target = out if direct else f"{out}__{clock}"
    group.add(target)
    syn.summed[target] = f"w*{sanitize(op.pre)}_pre"
    syn.summed_clock[target] = run_clock
    ctx.emit(Action(f"{op.name}_summed", syn.key, run_clock, op.name, kind="summed", target=target))
    if not direct:
        b = ""
        if op.bias:
            b = f" + {sanitize(op.bias)}"
            group.add(sanitize(op.bias))
            ctx.plan.biases[op.bias] = syn.target
        ctx.emit(Action(f"{op.name}_bias", syn.target, run_clock, op.name, f"{out} = {target}{b}"))
    if run_clock != clock:
        ctx.no_zero.add(op.out)


def _event_projection(op: DenseProjection, ctx: LoweringContext, syn) -> None:
    """Event-driven ``out = W dst + b`` from a spiking soma (``dst = span*z - offset``).

    With ``z_j <- d z_j + c s_j`` (spike ``s_j``), ``E_i = sum_j W_ij z_j`` obeys the same
    recursion, so the postsynaptic trace ``E`` decays by ``d`` every step and each
    presynaptic spike adds ``c W_ij`` (``on_pre``). Then ``out = span*E -
    offset*sum_j W_ij + b``. ``E`` and ``sum_j W_ij`` are summed once per sample at init.
    Exact while ``W`` is constant within the run (refused with online learning of ``W``).

    ``E`` is updated right after the source spikes (so it always equals ``W z`` of the
    source's current trace) and read at the projection's position: a top-down apical
    projection from a higher spiking layer, lowered before that layer spikes, reads the
    previous step's ``E`` exactly as the rate version reads the previous ``z``.
    """
    if op.weight in ctx.online_weights:
        raise ValueError(
            f"brian2 backend: '{op.name}' is event-driven but '{op.weight}' learns online; "
            "use plasticity='accumulate' or params={'event_driven': False}"
        )
    src = ctx.spike_sources[op.pre]
    g, out = syn.target, sanitize(op.out)
    ev, ws = f"{out}__ev", f"{out}__wsum"
    for v in (ev, ws):
        ctx.plan.groups[g].add(v)
    syn.summed[ev] = f"w*{src['z']}_pre"
    syn.summed[ws] = "w"
    syn.summed_clock[ev] = syn.summed_clock[ws] = "init"
    syn.on_pre = f"{ev}_post += w*{_num(src['jump'])}"
    b = ""
    if op.bias:
        b = f" + {sanitize(op.bias)}"
        ctx.plan.groups[g].add(sanitize(op.bias))
        ctx.plan.biases[op.bias] = g
    for var in (ev, ws):
        ctx.deferred_event_init.append(
            Action(f"{op.name}_{var}_init", syn.key, "init", op.name, kind="summed", target=var)
        )
    update = [
        Action(f"{op.name}_decay", g, "step", op.name, f"{ev} = {_num(src['decay'])}*{ev}"),
        Action(f"{op.name}_events", syn.key, "step", op.name, kind="pathway"),
    ]
    if op.pre in ctx.spiked:
        for action in update:
            ctx.emit(action)
    else:
        ctx.pending_events.setdefault(op.pre, []).extend(update)
    code = f"{out} = {_num(src['span'])}*{ev} - {_num(src['offset'])}*{ws}{b}"
    ctx.emit(Action(f"{op.name}_current", g, "step", op.name, code))


@lowers(Integrate)
def _integrate(op: Integrate, ctx: LoweringContext, clock: Clock) -> None:
    """DFC eq. 1 / App. G: ``x += dt/tau*(-leak*x + sum_j c_j y_j) + sigma*sqrt(dt)/tau*xi``."""
    g = ctx.home(op.var)
    x = sanitize(op.var)
    # zero gains are dropped (brian2's simplifier would drop them from the code but
    # not from its identifier bookkeeping); they add exactly 0 in the torch backend
    drive = " + ".join(f"{_num(c)}*{ctx.ref(v, g)}" for c, v in op.inputs if c != 0) or "0.0"
    if op.tau is None:
        if op.noise_sigma:
            raise ValueError(
                f"brian2 backend: op '{op.name}' is instantaneous (tau=None) but has "
                f"noise_sigma={op.noise_sigma}; give it a time constant or drop the noise"
            )
        code = f"{x} = ({drive})/{_num(op.leak)}"
    else:
        k = ctx.model.dt / op.tau
        leak = f"-{_num(op.leak)}*{x} + " if op.leak != 0 else ""
        code = f"{x} = {x} + {_num(k)}*({leak}{drive})"
        if op.noise_sigma:
            amp = op.noise_sigma * ctx.model.dt**0.5 / op.tau
            code += f" + {_num(amp)}*randn()"
            ctx.noise_seeds.append(op.noise_seed)
    ctx.emit(Action(op.name, g, clock, op.name, code))


@lowers(Nonlinearity)
def _nonlinearity(op: Nonlinearity, ctx: LoweringContext, clock: Clock) -> None:
    """``dst = phi(src)``, cached once per step on the neuron group."""
    g = ctx.home(op.dst)
    ctx.emit(
        Action(op.name, g, clock, op.name, f"{sanitize(op.dst)} = {phi(op.fn, ctx.ref(op.src, g))}")
    )


@lowers(NonlinearityDifference)
def _nonlinearity_difference(
    op: NonlinearityDifference, ctx: LoweringContext, clock: Clock
) -> None:
    """``dst = phi(at + src) - phi(at + src_baseline)`` by its exact identity."""
    g = ctx.home(op.dst)
    base = ctx.ref(op.src_baseline, g) if op.src_baseline else None
    expr = phi_difference(op.fn, ctx.ref(op.at, g), ctx.ref(op.src, g), base)
    ctx.emit(Action(op.name, g, clock, op.name, f"{sanitize(op.dst)} = {expr}"))


@lowers(Copy)
def _copy(op: Copy, ctx: LoweringContext, clock: Clock) -> None:
    """``dst = src`` (snapshot)."""
    g = ctx.home(op.dst)
    ctx.emit(Action(op.name, g, clock, op.name, f"{sanitize(op.dst)} = {ctx.ref(op.src, g)}"))


@lowers(OutputTarget)
def _output_target(op: OutputTarget, ctx: LoweringContext, clock: Clock) -> None:
    """DFC eq. 3: ``r* = r_L - lam dL/dr_L`` (MSE, cross-entropy with softmax, or given)."""
    g = ctx.home(op.out)
    out, y = sanitize(op.out), ctx.ref(op.label, g)
    if op.loss == "given":
        code = f"{out} = {y}"
    elif op.loss == "mse":
        r = ctx.ref(op.output, g)
        n = ctx.model.variables[op.output].size
        code = f"{out} = {r} - {_num(op.lam * 2.0 / n)}*({r} - {y})"
    elif op.loss == "cross_entropy":
        r = ctx.ref(op.output, g)
        total = ctx.softmax_denominator(op, clock)
        code = f"{out} = {r} - {_num(op.lam)}*(exp({r})/{total} - {y})"
    else:
        raise ValueError(f"brian2 backend: OutputTarget '{op.name}' has unknown loss {op.loss!r}")
    ctx.emit(Action(op.name, g, clock, op.name, code))


@lowers(ErrorSignal)
def _error(op: ErrorSignal, ctx: LoweringContext, clock: Clock) -> None:
    """Error neurons: ``out = gate*(prediction - target)`` on the group of ``out``."""
    g = ctx.home(op.out)
    diff = f"({ctx.ref(op.prediction, g)} - {ctx.ref(op.target, g)})"
    gate = f"{ctx.ref(op.gate, g)}*" if op.gate else ""
    ctx.emit(Action(op.name, g, clock, op.name, f"{sanitize(op.out)} = {gate}{diff}"))


@lowers(LocalPlasticity)
def _plasticity(op: LocalPlasticity, ctx: LoweringContext, clock: Clock) -> None:
    """DFC eq. 5 / eq. 13 as a local synaptic update, sampled where the op sits.

    Per step ``k`` in the window: ``d = f(post) - f(post_baseline)`` is cached on the
    postsynaptic group (the fast form: once per neuron, not per synapse). Then

    * ``online``: every synapse integrates the clock-driven ODE
      ``dw/dt = lr*(scale*d_post*pre_pre - decay*w)`` (forward Euler, so one step adds
      ``lr*dt*dW_k`` as in the torch backend), its state updater scheduled at the op's
      position; a bias obeys ``db/dt = lr*scale*d``. The sample of the initial state
      (window ``"all"``, ``k = 0``) is one Euler term applied after the init ops.
    * ``accumulate``: ``acc += d_post*pre_pre`` (and ``acc_b += d``), scaled afterwards.
      When ``pre`` is constant within a sample (a static input such as ``x`` of layer 1,
      hoisting on) the sum factorises, ``sum_k d_k pre^T = (sum_k d_k) pre^T``: each step
      only adds ``d`` to a per-neuron ``dsum`` and every synapse folds ``dsum_post*pre_pre``
      into ``acc`` once per sample (the fast form: O(n_post) instead of O(n_post n_pre)
      work per step; the last sample is folded when the updates are read).
    """
    if op.window not in _GATE:
        raise ValueError(f"brian2 backend: '{op.name}' has unknown window {op.window!r}")
    syn = ctx.plan.synapses[ctx.synapse_of_weight(op.weight)]
    tg, sg = syn.target, syn.source
    d = f"lp_{sanitize(op.name)}"
    ctx.plan.groups[tg].add(d)
    if op.at:
        base = ctx.ref(op.post_baseline, tg) if op.post_baseline else None
        post = phi_difference(op.fn, ctx.ref(op.at, tg), ctx.ref(op.post, tg), base)
    else:
        post = phi(op.fn, ctx.ref(op.post, tg))
        if op.post_baseline:
            post = f"{post} - {phi(op.fn, ctx.ref(op.post_baseline, tg))}"
    gate = "1" if clock == "init" else _GATE[op.window]
    acc = f"acc_{sanitize(op.name)}"
    pre = ctx.ref(op.pre, sg)
    if op.pre_at:  # the presynaptic factor pre_at + pre, cached on the source group
        total = f"lp_pre_{sanitize(op.name)}"
        ctx.plan.groups[sg].add(total)
        code = f"{total} = {ctx.ref(op.pre_at, sg)} + {pre}"
        ctx.emit(Action(f"{op.name}_pre", sg, clock, op.name, code))
        pre = total
    scale, decay = _num(op.scale), _num(op.decay)
    ode = ctx.plasticity == "online" and clock == "step"
    fold = ctx.plasticity == "accumulate" and op.pre in ctx.invariant and not op.pre_at
    ctx.emit(Action(f"{op.name}_post", tg, clock, op.name, f"{d} = {post}"))
    if ode:
        _ode(ctx, syn, syn.key, "w", f"lr_rate*{gate}*({scale}*{d}_post*{pre}_pre - {decay}*w)", op)
    elif ctx.plasticity == "online":
        wcode = f"w = w + lr_dt*{gate}*({scale}*{d}_post*{pre}_pre - {decay}*w)"
        ctx.emit(Action(f"{op.name}_w", syn.key, clock, op.name, wcode))
    else:
        _accumulate(ctx, op, syn, clock, gate, d, pre, fold)
    bacc = None
    if op.bias:
        b = sanitize(op.bias)
        bg = ctx.plan.biases.get(op.bias, tg)
        if ode:
            _ode(ctx, ctx.plan.groups[bg], bg, b, f"lr_rate*{gate}*{scale}*{d}", op)
        else:
            if ctx.plasticity == "online":
                bcode = f"{b} = {b} + lr_dt*{gate}*{scale}*{d}"
            else:
                bacc = f"acc_{sanitize(op.name)}_b"
                ctx.plan.groups[bg].add(bacc)
                ctx.no_zero_local.add((bg, bacc))
                bcode = f"{bacc} = {bacc} + {gate}*{d}"
            ctx.emit(Action(f"{op.name}_b", bg, clock, op.name, bcode))
    if clock == "step":
        folded = (tg, f"dsum_{sanitize(op.name)}", sg, pre) if fold else None
        ctx.plan.plasticity.append(
            Plasticity(
                op.name, op.weight, syn.key, op.scale, op.decay, op.window, acc,
                op.bias, ctx.plan.biases.get(op.bias, tg) if op.bias else None, bacc, folded,
            )
        )  # fmt: skip
        if op.window == "all":
            ctx.deferred_init.append(op)


def _accumulate(
    ctx: LoweringContext, op: LocalPlasticity, syn, clock: Clock, gate: str, d: str, pre: str,
    fold: bool,
) -> None:  # fmt: skip
    """``acc += gate*d_post*pre_pre`` per step, or, with a loop-invariant ``pre``
    (``fold``), ``dsum += gate*d`` per neuron and ``acc += dsum_post*pre_pre`` once per
    sample, as the very first action of the next one (before its inputs are read)."""
    acc = f"acc_{sanitize(op.name)}"
    if acc not in syn.variables:
        syn.variables.append(acc)
    if not fold:
        code = f"{acc} = {acc} + {gate}*{d}_post*{pre}_pre"
        ctx.emit(Action(f"{op.name}_w", syn.key, clock, op.name, code))
        return
    dsum = f"dsum_{sanitize(op.name)}"
    ctx.plan.groups[syn.target].add(dsum)
    code = f"{dsum} = {dsum} + {gate}*{d}"
    ctx.emit(Action(f"{op.name}_dsum", syn.target, clock, op.name, code))
    if clock == "step":
        code = f"{acc} = {acc} + {dsum}_post*{pre}_pre"
        ctx.plan.actions.insert(0, Action(f"{op.name}_fold", syn.key, "init", op.name, code))


def _ode(ctx: LoweringContext, spec, owner: str, var: str, rhs: str, op: LocalPlasticity) -> None:
    """Make ``var`` of ``owner`` a clock-driven ODE ``dvar/dt = rhs`` and schedule the
    owner's state updater here (after every ODE of the owner has its factors cached)."""
    if var in spec.odes:
        raise ValueError(
            f"brian2 backend: '{op.name}' is a second online rule on '{var}' of '{owner}'; "
            "give each weight (and bias) at most one LocalPlasticity op"
        )
    spec.odes[var] = rhs
    ctx.plan.actions = [a for a in ctx.plan.actions if not (a.kind == "ode" and a.owner == owner)]
    ctx.emit(Action(f"{op.name}_{var}_ode", owner, "step", op.name, kind="ode"))


def _continue_traces(ctx: LoweringContext) -> None:
    """A spiking soma whose rate the init ops set with another op (e.g. the feedforward
    sweep's ``r = phi(v)``) starts its trace there: ``z = clip((r + offset)/span, 0, 1)``,
    ``r = span*z - offset``. The spike train then continues from the init state (its
    mean), and ``r`` and ``z`` agree, which event-driven transmission relies on."""
    for op in ctx.model.step_ops:
        if not isinstance(op, SpikeSoma) or op.dst in ctx.spike_init:
            continue
        if not any(op.dst in o.writes for o in ctx.model.init_ops):
            continue
        c = _spike_constants(op, ctx.model.dt)
        g, dst = ctx.home(op.dst), sanitize(op.dst)
        span, offset = _num(c["span"]), _num(c["offset"])
        z = c["z"]
        code = f"{z} = clip(({dst} + {offset})/{span}, 0.0, 1.0)\n{dst} = {span}*{z} - {offset}"
        ctx.emit(Action(f"{op.name}_trace_init", g, "init", op.name, code))


def _spike_constants(op: SpikeSoma, dt: float) -> dict:
    """Trace variable and constants of a spiking soma (see :func:`_spike_soma`)."""
    decay = math.exp(-dt / op.tau_syn)
    return {
        "z": f"{sanitize(op.dst)}__z",
        "decay": decay,
        "jump": (1.0 - decay) / (op.max_rate * dt),
        "offset": float(op.extra.get("offset", 1.0 if op.fn == "tanh" else 0.0)),
        "span": float(op.extra.get("span", 2.0 if op.fn == "tanh" else 1.0)),
    }


@lowers(SpikeSoma)
def _spike_soma(op: SpikeSoma, ctx: LoweringContext, clock: Clock) -> None:
    """Poisson or LIF spiking of a soma; ``dst`` is the filtered spike train in rate units.

    Poisson: spike with probability ``max_rate*dt*clip(rho, 0, 1)``, ``rho = (phi(src) +
    offset)/span`` (:class:`~neurosim.ir.ops.SpikeSoma`; ``rand() < p`` saturates at 1
    if ``max_rate*dt > 1``, as the torch backend's ``min(1, p)``); LIF: ``tau_m dV/dt =
    -V + src`` with threshold, reset to 0 and refractory period ``tau_ref``. Trace
    ``z <- exp(-dt/tau_syn) z + (1 - exp(-dt/tau_syn))/(max_rate dt) * spike`` (exact
    decay, as the torch backend), so ``E[z] = clip(rho, 0, 1)`` and
    ``dst = span*z - offset`` reads like ``phi(src)``. At init the trace starts at its
    mean (``z = rho``), so the spiking network starts from the rate network's state.
    """
    g = ctx.home(op.dst)
    dst, src = sanitize(op.dst), ctx.ref(op.src, g)
    const = _spike_constants(op, ctx.model.dt)
    offset, span, z = const["offset"], const["span"], const["z"]
    spk = f"{dst}__spk"
    for v in (spk, z):
        ctx.plan.groups[g].add(v)
    ctx.plan.spikes[op.dst] = spk
    rho = f"clip(({phi(op.fn, src)} + {_num(offset)})/{_num(span)}, 0.0, 1.0)"
    dt = ctx.model.dt
    if clock == "init":
        code = f"{spk} = 0\n{z} = {rho}\n{dst} = {_num(span)}*{z} - {_num(offset)}"
        ctx.emit(Action(op.name, g, clock, op.name, code))
        ctx.spike_init.add(op.dst)
        return
    if op.model == "poisson":
        # the rate into a temporary first: sympy cannot compare rand() with an
        # expression that holds int(...) (relu, leaky_relu): "Invalid comparison"
        rho_tmp = f"{dst}__rho"
        fire = f"{rho_tmp} = {rho}\n{spk} = int(rand() < {_num(op.max_rate * dt)}*{rho_tmp})"
    elif op.model == "lif":
        vm, ref = f"{dst}__vm", f"{dst}__ref"
        ctx.plan.groups[g].add(vm)
        ctx.plan.groups[g].add(ref)
        tau_m = float(op.extra.get("tau_m", op.tau_syn))
        fire = (
            f"{ref} = clip({ref} - {_num(dt)}, 0.0, {_num(op.tau_ref)})\n"
            f"{vm} = {vm} + {_num(dt / tau_m)}*(-{vm} + {src})*int({ref} <= 0)\n"
            f"{spk} = int({vm} > {_num(op.threshold)})\n"
            f"{vm} = {vm}*(1 - {spk})\n"
            f"{ref} = {ref}*(1 - {spk}) + {_num(op.tau_ref)}*{spk}"
        )
    else:
        raise ValueError(f"brian2 backend: SpikeSoma '{op.name}' has unknown model {op.model!r}")
    trace = (
        f"{z} = {_num(const['decay'])}*{z} + {_num(const['jump'])}*{spk}\n"
        f"{dst} = {_num(span)}*{z} - {_num(offset)}"
    )
    if op.seed is not None:
        ctx.noise_seeds.append(op.seed)
    ctx.emit(Action(op.name, g, clock, op.name, fire + "\n" + trace))
    if ctx.event_driven:
        group = ctx.plan.groups[g]
        if group.threshold is not None:
            raise ValueError(
                f"brian2 backend: group '{g}' has two spiking ops; event-driven transmission "
                "supports one SpikeSoma per population"
            )
        group.threshold = f"{spk} > 0.5"
        ctx.emit(Action(f"{op.name}_threshold", g, clock, op.name, kind="threshold"))
        ctx.spiked.add(op.dst)
        for action in ctx.pending_events.pop(op.dst, []):
            ctx.emit(action)
