"""Biophysical variants: physical parameters -> circuit parameters, and IR rewrites.

The variants keep the circuit (same weights, same controller) and change only the
pyramidal soma, so every backend that lowers the IR runs them; brian2 is where the
physical parameters enter, hence the unit checks (STYLE: units at the boundary).

* :func:`conductance_soma_model` — the usual way: physical ``C, g_L, g_B, g_A`` (brian2
  quantities) -> the dimensionless :class:`~neurosim.circuits.SomaModel` and ``tau_v`` of a
  :class:`~neurosim.circuits.PyramidalLayer` (or ``HierarchyBuilder(soma=..., tau_v=...)``), so
  a user switches the soma of the same circuit objects.

IR -> IR rewrites of an already built model (same results as the circuit parameters):

* :func:`conductance_soma` — the three-compartment conductance-based soma of DFC App. G
  (Urbanczik & Senn 2014; Sacramento et al. 2018):

  .. math::
      C \\frac{dU}{dt} = -g_L U + g_B (V_B - U) + g_A (V_A - U) + \\sigma \\xi

  lowered as ``Integrate(tau=C/g_L, leak=1 + (g_B+g_A)/g_L, inputs=(g_B/g_L V_B,
  g_A/g_L V_A))``. Its steady state is ``U = (g_B V_B + g_A V_A)/(g_L+g_B+g_A)``, so
  the forward rule compares ``phi(U)`` with the *dendritic prediction*
  ``phi(V_B*)``, ``V_B* = g_B/(g_L+g_B+g_A) V_B`` (the rule becomes
  ``(phi(U) - phi(V_B*)) r_pre^T``, a new variable ``{layer}.v_basal_star``), and
  the feedforward sweep of the init ops starts the soma at ``U = V_B*``.
* :func:`dendritic_time_constants` — leaky basal/apical compartments with their own
  time constants.
* :func:`spiking_soma` — hidden somata emit spikes (:class:`~neurosim.ir.SpikeSoma`,
  Poisson with rate ``phi(U)`` or LIF with refractoriness); the rate a layer sends
  on is the filtered spike train.
"""

from __future__ import annotations

import dataclasses

import brian2 as b2

from neurosim.circuits.pyramidal import SomaModel
from neurosim.ir import Integrate, LocalPlasticity, Model, Nonlinearity, SpikeSoma, Variable


def _dimensionless(value: b2.Quantity, unit: b2.Quantity, what: str) -> float:
    if not b2.have_same_dimensions(value, unit):
        raise ValueError(
            f"biophysical variant: {what}={value!r} must have the dimensions of {unit!r}"
        )
    return float(value / unit)


def _somata(model: Model) -> list[Integrate]:
    """Soma ops: Integrate on ``{pop}.v`` driven by that population's basal and apical."""
    found = []
    for op in model.step_ops:
        if isinstance(op, Integrate) and op.var.endswith(".v") and len(op.inputs) == 2:
            pop = op.var[:-2]
            if {v for _, v in op.inputs} == {f"{pop}.v_basal", f"{pop}.v_apical"}:
                found.append(op)
    if not found:
        raise ValueError(
            f"biophysical variant: model '{model.meta.get('name', '?')}' has no pyramidal "
            "soma (Integrate on '{pop}.v' from '{pop}.v_basal' and '{pop}.v_apical')"
        )
    return found


def conductance_soma_model(
    C: b2.Quantity = 200 * b2.pF,
    g_L: b2.Quantity = 10 * b2.nS,
    g_B: b2.Quantity = 10 * b2.nS,
    g_A: b2.Quantity = 8 * b2.nS,
    time_unit: b2.Quantity = 0.1 * b2.second,
) -> tuple[SomaModel, float]:
    """``(SomaModel, tau_v)`` of the conductance-based soma of DFC App. G,

    .. math::
        C \\frac{dU}{dt} = -g_L U + g_B (V_B - U) + g_A (V_A - U)

    divided by ``g_L``: ``tau_v dU/dt = -U + g_B/g_L (V_B - U) + g_A/g_L (V_A - U)`` with
    ``tau_v = C/g_L`` in model time units (``time_unit`` = brian2 time of one model time
    unit; give the same one to :class:`Brian2Simulator` ``params``). Units are checked.
    """
    gL = _dimensionless(g_L, b2.nS, "g_L")
    if gL <= 0:
        raise ValueError(f"conductance_soma_model: g_L={g_L!r} must be > 0")
    tau = _dimensionless(C / g_L, b2.second, "C/g_L") / _dimensionless(
        time_unit, b2.second, "time_unit"
    )
    soma = SomaModel(
        form="conductance",
        g_L=1.0,
        g_B=_dimensionless(g_B, b2.nS, "g_B") / gL,
        g_A=_dimensionless(g_A, b2.nS, "g_A") / gL,
    )
    return soma, tau


def conductance_soma(
    model: Model,
    C: b2.Quantity = 200 * b2.pF,
    g_L: b2.Quantity = 10 * b2.nS,
    g_B: b2.Quantity = 10 * b2.nS,
    g_A: b2.Quantity = 8 * b2.nS,
    time_unit: b2.Quantity = 0.1 * b2.second,
) -> Model:
    """Replace every pyramidal soma with the conductance-based soma of DFC App. G.

    ``C/g_L`` is converted to model time with ``time_unit`` (the brian2 time of one
    model time unit; pass the same one to :class:`Brian2Simulator` ``params``).
    """
    gL = _dimensionless(g_L, b2.nS, "g_L")
    gB = _dimensionless(g_B, b2.nS, "g_B") / gL
    gA = _dimensionless(g_A, b2.nS, "g_A") / gL
    tau = _dimensionless(C / g_L, b2.second, "C/g_L") / _dimensionless(
        time_unit, b2.second, "time_unit"
    )
    att = gB / (1.0 + gB + gA)
    variables = dict(model.variables)
    replace: dict[str, object] = {}
    star_ops: dict[str, Integrate] = {}
    for op in _somata(model):
        pop = op.var[:-2]
        replace[op.name] = dataclasses.replace(
            op, tau=tau, leak=1.0 + gB + gA,
            inputs=((gB, f"{pop}.v_basal"), (gA, f"{pop}.v_apical")),
        )  # fmt: skip
        star = f"{pop}.v_basal_star"
        base = variables[f"{pop}.v_basal"]
        variables[star] = Variable(star, "state", base.shape, population=base.population,
                                   compartment="basal_star")  # fmt: skip
        star_ops[pop] = Integrate(f"{op.name}_vbstar", var=star,
                                  inputs=((att, f"{pop}.v_basal"),))  # fmt: skip
    step = []
    for op in model.step_ops:
        step.append(replace.get(op.name, op))
        if op.name in replace:
            step.insert(len(step) - 1, star_ops[op.var[:-2]])
    step = [_prediction_rule(op, star_ops) for op in step]
    # feedforward sweep: without apical input the soma settles at U = V_B*
    init = [
        Integrate(op.name, var=op.writes[0], inputs=((att, f"{op.writes[0]}_basal"),))
        if op.writes and op.writes[0][:-2] in star_ops and op.writes[0].endswith(".v")
        else op
        for op in model.init_ops
    ]
    for pop, sop in star_ops.items():
        idx = max(i for i, o in enumerate(init) if f"{pop}.v_basal" in o.writes)
        init.insert(idx + 1, dataclasses.replace(sop, name=f"init_{sop.name}"))
    meta = {**model.meta, "variant": "conductance", "g_over_gL": (gB, gA), "tau_soma": tau,
            "basal_attenuation": att}  # fmt: skip
    return Model(variables, init, step, model.dt, list(model.probes), meta)


def _prediction_rule(op, star_ops: dict[str, Integrate]):
    """Forward rule with the dendritic prediction ``V_B*`` as baseline."""
    if isinstance(op, LocalPlasticity) and op.post_baseline:
        pop = op.post_baseline.rsplit(".", 1)[0]
        if pop in star_ops and op.post_baseline == f"{pop}.v_basal":
            return dataclasses.replace(op, post_baseline=f"{pop}.v_basal_star")
    return op


def dendritic_time_constants(
    model: Model, tau_basal: float | None = None, tau_apical: float | None = None
) -> Model:
    """Give the basal/apical compartments (``Integrate`` on ``{pop}.v_basal`` /
    ``{pop}.v_apical``) time constants, in model time units (None: unchanged)."""
    taus = {"v_basal": tau_basal, "v_apical": tau_apical}
    step = []
    for op in model.step_ops:
        comp = op.var.rsplit(".", 1)[-1] if isinstance(op, Integrate) else None
        if comp in taus and taus[comp] is not None:
            if taus[comp] < model.dt:
                raise ValueError(
                    f"dendritic_time_constants: tau_{comp[2:]}={taus[comp]} < dt={model.dt}; "
                    "forward Euler needs tau >= dt"
                )
            op = dataclasses.replace(op, tau=taus[comp])
        step.append(op)
    meta = {**model.meta, "tau_basal": tau_basal, "tau_apical": tau_apical}
    return Model(dict(model.variables), list(model.init_ops), step, model.dt,
                 list(model.probes), meta)  # fmt: skip


def spiking_soma(
    model: Model,
    kind: str = "poisson",
    max_rate: float = 100.0,
    tau_syn: float = 0.05,
    seed: int = 0,
    hidden_only: bool = True,
    **extra,
) -> Model:
    """Hidden somata spike (``kind="poisson"`` or ``"lif"``); rates become filtered trains.

    The rate ops ``{pop}.r = phi({pop}.v)`` of the hidden layers (every layer when
    ``hidden_only=False``) become :class:`~neurosim.ir.SpikeSoma` ops, in the init ops
    too (the trace starts at its mean). ``max_rate`` is per model time unit.
    """
    somata = _somata(model)
    pops = [op.var[:-2] for op in somata]
    chosen = set(pops[:-1] if hidden_only else pops)

    def swap(op, i: int, tag: str):
        if isinstance(op, Nonlinearity) and op.src[:-2] in chosen and op.src.endswith(".v"):
            return SpikeSoma(f"{op.name}_{tag}", src=op.src, dst=op.dst, fn=op.fn, model=kind,
                             max_rate=max_rate, tau_syn=tau_syn, seed=seed + i,
                             extra=dict(extra))  # fmt: skip
        return op

    init = [swap(op, i, "spk0") for i, op in enumerate(model.init_ops)]
    step = [swap(op, i, "spk") for i, op in enumerate(model.step_ops)]
    meta = {**model.meta, "variant": f"spiking-{kind}"}
    return Model(dict(model.variables), init, step, model.dt, list(model.probes), meta)
