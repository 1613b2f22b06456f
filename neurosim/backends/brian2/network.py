"""Materialise a :class:`~neurosim.backends.brian2.plan.Plan` as an explicit brian2 ``Network``.

Batch copies: a group of ``size`` units becomes a ``NeuronGroup`` of ``batch*size``
neurons (neuron ``b*size + k`` is unit ``k`` of sample copy ``b``); a dense weight
becomes ``batch*n_post*n_pre`` synapses connecting copy ``b`` to copy ``b`` only.
Every action runs in the ``groups`` slot with ``order`` = its position in the plan,
so :meth:`brian2.Network.scheduling_summary` lists exactly the IR op order;
:func:`check_schedule` verifies that on every build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from neurosim.backends.brian2.plan import Plan, sanitize


@dataclass
class Built:
    """The brian2 objects of one run and how to read them back."""

    net: b2.Network
    groups: dict[str, b2.NeuronGroup]
    synapses: dict[str, b2.Synapses]
    monitors: dict[str, b2.StateMonitor] = field(default_factory=dict)
    index: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    namespace: dict = field(default_factory=dict)
    duration: b2.Quantity | None = None
    #: brian2 object name of each plan action, in plan order (see :func:`check_schedule`)
    schedule: list[str] = field(default_factory=list)


def _dense_index(n_pre: int, n_post: int, batch: int) -> tuple[np.ndarray, ...]:
    """(copy, post, pre) of every synapse, ordered copy-major, then pre, then post.

    Pre-major order makes consecutive synapses of a ``(summed)`` loop add into different
    postsynaptic neurons (no store-to-load dependency between iterations: ~2-4x faster
    compiled), while each neuron still sums its inputs in ascending ``pre`` order, the
    order of a post-major loop and of ``W @ r``: the result is the same to the bit.
    """
    b, pre, post = np.meshgrid(np.arange(batch), np.arange(n_pre), np.arange(n_post), indexing="ij")
    return b.ravel(), post.ravel(), pre.ravel()


def build(
    plan: Plan,
    *,
    dt: float,
    batch: int,
    T: int,
    n_samples: int,
    inputs: dict[str, np.ndarray],
    time_varying: set[str],
    params: dict[str, np.ndarray],
    record: dict[str, list[str]],
    lr: float,
    time_unit: b2.Quantity,
) -> Built:
    """Create groups, synapses, ordered code runners, input arrays and monitors.

    ``inputs[name]`` has shape ``(n_samples, batch, size)`` or, for time-varying
    inputs, ``(n_samples, T - 1, batch, size)`` (row ``k-1`` drives step ``k``, the init
    ops read row 0); ``params`` maps weight/bias names to their current values;
    ``record`` maps group keys to variable names to monitor.
    """
    step = b2.Clock(dt * time_unit, name="neurosim_step_clock")
    init = b2.Clock(T * dt * time_unit, name="neurosim_init_clock")
    clocks = {"step": step, "init": init}
    groups: dict[str, b2.NeuronGroup] = {}
    for key, g in plan.groups.items():
        eqs = [_declaration(v, g.odes) for v in g.variables]
        eqs += [f"{v} : 1 (linked)" for v in g.links if v not in g.variables]
        spiking = {"threshold": g.threshold, "reset": ""} if g.threshold else {}
        groups[key] = b2.NeuronGroup(
            batch * g.size, "\n".join(eqs), clock=step, name=f"g_{key}", method="euler",
            **spiking,
        )  # fmt: skip
    for key, g in plan.groups.items():
        for v, (home, hv) in g.links.items():
            setattr(groups[key], v, b2.linked_var(groups[home], hv))
    for name, key in plan.biases.items():
        setattr(groups[key], sanitize(name), np.tile(params[name], batch))
    built = Built(b2.Network(name="neurosim_network"), groups, {})
    for key, s in plan.synapses.items():
        lines = [_declaration(v, s.odes, " (clock-driven)") for v in s.variables]
        lines += [f"{t}_post = {e} : 1 (summed)" for t, e in s.summed.items()]
        events = {"on_pre": s.on_pre} if s.on_pre else {}
        syn = b2.Synapses(
            groups[s.source], groups[s.target], "\n".join(lines), clock=step, name=key,
            method="euler", **events,
        )  # fmt: skip
        bi, post, pre = _dense_index(s.n_pre, s.n_post, batch)
        syn.connect(i=bi * s.n_pre + pre, j=bi * s.n_post + post)
        if s.weight:
            syn.w = params[s.weight][post, pre]
            built.index[key] = (bi, post, pre)
        for t, c in s.summed_clock.items():
            upd = syn.summed_updaters[f"{t}_post"]
            upd._clock = clocks[c]
        built.synapses[key] = syn
    for obj in list(groups.values()) + list(built.synapses.values()):
        if getattr(obj, "state_updater", None) is not None:
            obj.state_updater.active = False  # active again below if it has ODEs
    for pos, a in enumerate(plan.actions):
        owner = groups.get(a.owner) or built.synapses[a.owner]
        if a.kind == "summed":
            runner = owner.summed_updaters[f"{a.target}_post"]
            runner.order = pos
        elif a.kind in ("threshold", "pathway", "ode"):
            if a.kind == "threshold":
                runner = owner.thresholder["spike"]
            else:
                runner = owner.pre if a.kind == "pathway" else owner.state_updater
            runner.when, runner.order, runner.active = "groups", pos, True
        else:
            runner = owner.run_regularly(
                a.code, clock=clocks[a.clock], when="groups", order=pos, name=f"a{pos}_{a.name}"
            )
        built.schedule.append(runner.name)
    for var, ta in plan.inputs.items():
        x = np.asarray(inputs[var], dtype=float)
        # indexed by an exact integer (step or sample) times ``ta_unit``: no float grid
        rows = n_samples * (T - 1) if var in time_varying else n_samples
        built.namespace[ta] = b2.TimedArray(x.reshape(rows, -1), dt=1 * b2.second, name=ta)
    for key, names in record.items():
        if names:
            built.monitors[key] = b2.StateMonitor(
                groups[key], names, record=True, when="end", clock=step, name=f"mon_{key}"
            )
    built.net.add(*groups.values(), *built.synapses.values(), *built.monitors.values())
    built.namespace.update(T_sample=T, lr_dt=lr * dt, lr_rate=lr / time_unit, ta_unit=1 * b2.second)
    built.duration = n_samples * T * dt * time_unit
    return built


def _declaration(var: str, odes: dict[str, str], flag: str = "") -> str:
    """``var : 1``, or ``dvar/dt = rhs : 1`` for a variable with an ODE."""
    if var in odes:
        return f"d{var}/dt = {odes[var]} : 1{flag}"
    return f"{var} : 1"


def check_schedule(built: Built) -> None:
    """Check brian2's scheduling summary against the plan: the active objects of the
    ``groups`` slot must be exactly the plan's actions, in plan order (so every op
    runs where the IR puts it and reads the values the torch backend reads).

    Raises ``RuntimeError`` naming the first object out of place.
    """
    entries = [e for e in built.net.scheduling_summary().entries if e.active]
    slot = [e.name for e in entries if e.when == "groups"]
    if slot != built.schedule:
        where = next(
            (i for i, (a, b) in enumerate(zip(slot, built.schedule, strict=False)) if a != b),
            min(len(slot), len(built.schedule)),
        )
        got = slot[where] if where < len(slot) else "<nothing>"
        want = built.schedule[where] if where < len(built.schedule) else "<nothing>"
        raise RuntimeError(
            f"brian2 backend: scheduling summary differs from the IR op order at position "
            f"{where}: brian2 runs '{got}' where the plan has '{want}'; every action must run "
            "in the 'groups' slot with order = its plan position"
        )
