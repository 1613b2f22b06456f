"""Lowerings of the circuits (registered with :func:`neurosim.ir.build.register`)."""

from __future__ import annotations

from neurosim.circuits.autapse import AutapseIntegrator
from neurosim.circuits.controller import PIController
from neurosim.circuits.error import ErrorPopulation
from neurosim.circuits.pyramidal import PyramidalLayer
from neurosim.core.errors import ValidationError
from neurosim.ir.build import BuildContext, Lowered, register
from neurosim.ir.ops import ErrorSignal, Integrate, Nonlinearity, Op, OutputTarget, SpikeSoma


def _dendrite(
    ctx: BuildContext, layer: PyramidalLayer, comp: str, tau: float | None, sigma: float
) -> list[Op]:
    """``tau_X dv^X/dt = -v^X + sum_j I_j`` (instantaneous if tau is None and no noise)."""
    ops, currents = ctx.projections(layer.name, comp)
    if sigma and tau is None:
        tau = ctx.dt  # reference: apical_time_constant = -1 -> dt (DFC.md §1.2)
    name = f"{layer.name}_{comp}"
    seed = ctx.seed(name) if sigma else None
    integrate = Integrate(
        name,
        var=f"{layer.name}.v_{comp}",
        tau=tau,
        inputs=tuple((1.0, c) for c in currents),
        noise_sigma=sigma,
        noise_seed=seed,
    )
    return ops + [integrate]


def _soma_inputs(layer: PyramidalLayer, currents: list[str]) -> tuple[tuple[float, str], ...]:
    s, n = layer.soma, layer.name
    return ((s.g_B, f"{n}.v_basal"), (s.g_A, f"{n}.v_apical")) + tuple((1.0, c) for c in currents)


@register(PyramidalLayer)
def lower_pyramidal(layer: PyramidalLayer, ctx: BuildContext) -> Lowered:
    """DFC eq. 1 / App. G, in the step order of docs/design.md:
    ``I_ff``, ``v_basal``, ``I_fb``, ``v_apical``, ``v`` (Euler, tau_v), ``r = phi(v)``.

    Init (feedforward sweep, DFC.md §1.2): ``v_basal = W r + b``; ``v`` at its
    instantaneous value with ``v_apical = 0`` (= ``v_basal`` for eq. 1); ``r = phi(v)``.
    """
    n, size, low = layer.name, layer.size, Lowered()
    for comp in ("v", "v_basal", "v_apical", "r"):
        ctx.declare(f"{n}.{comp}", "state", (1, size), population=n, compartment=comp)
    noise = layer.noise
    low.step += ctx.prelude(n)
    low.step += _dendrite(ctx, layer, "basal", layer.tau_basal, noise.basal)
    low.step += _prediction(ctx, layer, "")
    low.step += _dendrite(ctx, layer, "apical", layer.tau_apical, noise.apical)
    ops, currents = ctx.projections(n, "soma")
    seed = ctx.seed(f"{n}_soma") if noise.soma else None
    low.step += ops + [
        Integrate(
            f"{n}_soma",
            var=f"{n}.v",
            tau=layer.tau_v,
            leak=layer.soma.leak,
            inputs=_soma_inputs(layer, currents),
            noise_sigma=noise.soma,
            noise_seed=seed,
        ),
        _rate(layer, ctx),
    ]
    # feedforward sweep
    ops, currents = ctx.projections(n, "basal", init=True)
    low.init += ops + [
        Integrate(f"init_{n}_basal", var=f"{n}.v_basal", inputs=tuple((1.0, c) for c in currents))
    ]
    low.init += _prediction(ctx, layer, "init_")
    ops, currents = ctx.projections(n, "soma", init=True)
    low.init += ops + [
        Integrate(
            f"init_{n}_soma",
            var=f"{n}.v",
            leak=layer.soma.leak,
            inputs=_soma_inputs(layer, currents),
        ),
        Nonlinearity(f"init_{n}_rate", src=f"{n}.v", dst=f"{n}.r", fn=layer.nonlinearity),
    ]
    return low


def _prediction(ctx: BuildContext, layer: PyramidalLayer, prefix: str) -> list[Op]:
    """The dendritic prediction ``V_B* = g_B/leak * v_B`` (App. G; Urbanczik & Senn
    2014), where the soma settles without apical input; none when it is ``v_B`` itself."""
    star = layer.basal_prediction
    if star == f"{layer.name}.v_basal":
        return []
    if not prefix:
        ctx.declare(star, "state", (1, layer.size), population=layer.name,
                    compartment="basal_star")  # fmt: skip
    att = layer.soma.basal_attenuation
    return [Integrate(f"{prefix}{layer.name}_basal_star", var=star,
                      inputs=((att, f"{layer.name}.v_basal"),))]  # fmt: skip


def _rate(layer: PyramidalLayer, ctx: BuildContext) -> Op:
    n = layer.name
    if layer.spiking is None:
        return Nonlinearity(f"{n}_rate", src=f"{n}.v", dst=f"{n}.r", fn=layer.nonlinearity)
    if layer.spiking == "poisson" and layer.max_rate * ctx.dt > 1.0:
        raise ValidationError(
            f"PyramidalLayer '{n}'",
            "max_rate",
            layer.max_rate,
            f"gives a spike probability max_rate*dt = {layer.max_rate * ctx.dt:g} > 1 per "
            f"step (dt={ctx.dt:g}), so the Poisson soma would saturate",
            f"give max_rate <= {1.0 / ctx.dt:g} or a smaller dt",
        )
    return SpikeSoma(
        f"{n}_spikes",
        src=f"{n}.v",
        dst=f"{n}.r",
        fn=layer.nonlinearity,
        model=layer.spiking,
        max_rate=layer.max_rate,
        tau_syn=layer.tau_syn,
        tau_ref=layer.tau_ref,
        threshold=layer.threshold,
        seed=ctx.seed(f"{n}_spikes"),
    )


@register(AutapseIntegrator)
def lower_autapse(node: AutapseIntegrator, ctx: BuildContext) -> Lowered:
    """ONE ``Integrate``: ``tau dx/dt = -(1 - w) x + sum_j I_j`` (DFC App. I eq. 230)."""
    x = ctx.declare(node.output, "state", (1, node.size), population=node.name, compartment="x")
    ops, currents = ctx.projections(node.name, "x")
    op = Integrate(
        f"{node.name}_x",
        var=x,
        tau=node.tau,
        leak=node.leak,
        inputs=tuple((1.0, c) for c in currents),
    )
    return Lowered(step=ctx.prelude(node.name) + ops + [op])


@register(PIController)
def lower_controller(ctrl: PIController, ctx: BuildContext) -> Lowered:
    """Error ``e = r* - r_L``; integral ``tau du_int/dt = -(1-w) u_int + e (- alpha u)``;
    output ``u = u_int + k_p e`` (DFC eq. 3-4, App. E.1 eq. 208).

    Slots: the output target is an init op (after the feedforward sweep); the error
    is always first in a step; the control update follows it when proactive and comes
    after the layers otherwise (docs/design.md).
    """
    n, size = ctrl.name, ctrl.size
    shape = (1, size)
    r_L = ctx.network.nodes[ctrl.output_layer].output
    target = ctx.declare(f"{n}.target", "state", shape, population=n, compartment="target")
    label = ctx.declare(f"{n}.label", "input", shape, population=n, compartment="label")
    e = ctx.declare(f"{n}.e", "state", shape, population=n, compartment="e")
    given_output = ctrl.loss == "given" and ctrl.target_from == "output"
    target_op = OutputTarget(
        f"{n}_target",
        output=r_L,
        label=r_L if given_output else label,
        out=target,
        loss=ctrl.loss,
        lam=ctrl.lam,
    )
    error = Integrate(f"{n}_error", var=e, inputs=((1.0, target), (-1.0, r_L)))
    control: list[Op] = []
    drive: tuple[tuple[float, str], ...] = ()
    if ctrl.has_integrator:
        u_int = ctx.declare(f"{n}.u_int", "state", shape, population=n, compartment="u_int")
        if ctrl.leak_on == "total":
            leak, inputs = 0.0, ((1.0, e), (-ctrl.alpha, f"{n}.u"))
        else:
            leak, inputs = ctrl.alpha, ((1.0, e),)
        control.append(
            Integrate(f"{n}_integral", var=u_int, tau=ctrl.tau, leak=leak, inputs=inputs)
        )
        drive += ((1.0, u_int),)
    if ctrl.gain_p:
        drive += ((ctrl.gain_p, e),)
    u = ctx.declare(ctrl.output, "state", shape, population=n, compartment="u")
    control.append(Integrate(f"{n}_output", var=u, inputs=drive))
    if ctrl.proactive:
        return Lowered(init_last=[target_op], first=[error] + control)
    return Lowered(init_last=[target_op], first=[error], last=control)


@register(ErrorPopulation)
def lower_error_population(node: ErrorPopulation, ctx: BuildContext) -> Lowered:
    """``v_c = sum_j I_j^c`` per compartment, then ``e = v_gate * (v_prediction -
    v_target)`` (one ``ErrorSignal``; no gate factor without gate inputs)."""
    n, low, shape = node.name, Lowered(), (1, node.size)
    low.step += ctx.prelude(n)
    compartments = {}
    for comp in ("prediction", "target", "gate"):
        ops, currents = ctx.projections(n, comp)
        if comp == "gate" and not currents:
            continue
        var = ctx.declare(f"{n}.v_{comp}", "state", shape, population=n, compartment=comp)
        low.step += ops + [
            Integrate(f"{n}_{comp}", var=var, inputs=tuple((1.0, c) for c in currents))
        ]
        compartments[comp] = var
    out = ctx.declare(node.output, "state", shape, population=n, compartment="r")
    low.step.append(
        ErrorSignal(
            f"{n}_error",
            prediction=compartments["prediction"],
            target=compartments["target"],
            out=out,
            gate=compartments.get("gate"),
        )
    )
    return low
