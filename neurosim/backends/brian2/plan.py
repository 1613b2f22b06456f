"""A backend-neutral-to-brian2 *plan*: groups, synapses and ordered code actions.

Lowering an IR :class:`~neurosim.ir.model.Model` happens in two stages:

1. :func:`neurosim.backends.brian2.lowering.lower` walks the init and step ops and
   fills a :class:`Plan` (pure Python, no brian2 import, easy to inspect and test);
2. :mod:`neurosim.backends.brian2.network` materialises the plan as brian2 objects.

Every action of the plan carries a *position*; brian2 runs all actions in the
``groups`` slot sorted by that position, so the update order is the IR op order
exactly (sequential, Gauss-Seidel-like: each op reads the current values).

Layout of one simulated sample of ``T`` time samples (``T - 1`` Euler steps) in
brian2 time steps ``j = 0 .. T-1`` (clock ``dt``):

* ``input`` actions (every step): inputs read from 2-D ``TimedArray`` s;
* ``step`` actions (every step): the step ops, in order;
* ``init`` actions (clock ``T*dt``, i.e. only at ``j = 0``): zero all per-sample
  state, then the init ops. At ``j = 0`` they overwrite whatever the step actions
  computed, so the recorded state at ``j`` is the IR state after ``j`` steps;
* learning actions at ``j = 0`` (window ``"all"`` samples the initial state) follow
  the init actions on the init clock; at ``j > 0`` they sit at their step position.
  Online learning is a clock-driven ODE of the synapses (``dw/dt = ... (clock-driven)``,
  forward Euler), whose state updater runs at that position (``kind="ode"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Clock = Literal["step", "init"]


def sanitize(name: str) -> str:
    """IR name -> brian2 identifier (``"h1.v_basal"`` -> ``"h1__v_basal"``)."""
    out = name.replace(".", "__").replace("-", "_")
    if not out.isidentifier() or out.startswith("_"):
        raise ValueError(
            f"brian2 backend: variable name '{name}' cannot be made a brian2 identifier "
            f"(got '{out}'); rename it with letters, digits, '_' and '.' only"
        )
    return out


@dataclass
class GroupSpec:
    """One ``NeuronGroup`` (one population of ``size`` units per sample)."""

    key: str
    size: int
    variables: list[str] = field(default_factory=list)
    links: dict[str, tuple[str, str]] = field(default_factory=dict)
    threshold: str | None = None  # spike condition (event-driven transmission)
    odes: dict[str, str] = field(default_factory=dict)  # var -> dvar/dt (online biases)

    def add(self, var: str) -> None:
        if var not in self.variables:
            self.variables.append(var)


@dataclass
class SynapseSpec:
    """One ``Synapses`` object carrying a dense weight matrix ``W`` (n_post, n_pre)."""

    key: str
    weight: str
    source: str
    target: str
    n_pre: int
    n_post: int
    variables: list[str] = field(default_factory=lambda: ["w"])
    summed: dict[str, str] = field(default_factory=dict)  # target var -> expression
    summed_clock: dict[str, Clock] = field(default_factory=dict)
    on_pre: str | None = None  # event-driven transmission
    odes: dict[str, str] = field(default_factory=dict)  # var -> dvar/dt (online learning)


@dataclass
class Action:
    """One ordered operation: run ``code`` on ``owner`` (a group or synapse key).

    ``kind="summed"`` marks the ``(summed)`` updater of ``owner``'s target variable
    ``target``, ``kind="threshold"`` the spike detection of group ``owner``,
    ``kind="pathway"`` the ``on_pre`` spike propagation of synapses ``owner`` and
    ``kind="ode"`` the state updater (forward Euler) of ``owner``'s clock-driven ODEs;
    they carry no code of their own. ``op`` names the IR op it lowers.
    """

    name: str
    owner: str
    clock: Clock
    op: str
    code: str = ""
    kind: Literal["code", "summed", "threshold", "pathway", "ode"] = "code"
    target: str = ""


@dataclass
class Plasticity:
    """Bookkeeping of one lowered :class:`~neurosim.ir.ops.LocalPlasticity` op."""

    op: str
    weight: str
    synapse: str
    scale: float
    decay: float
    window: str
    acc: str
    bias: str | None = None
    bias_group: str | None = None
    bias_acc: str | None = None
    #: accumulation with a loop-invariant ``pre``: ``(post group, per-neuron sum of the
    #: post factor, pre group, pre variable)``; the rest of ``acc`` is ``dsum_post*pre_pre``
    fold: tuple[str, str, str, str] | None = None


@dataclass
class Plan:
    """Everything needed to build the brian2 network of one IR model."""

    groups: dict[str, GroupSpec] = field(default_factory=dict)
    synapses: dict[str, SynapseSpec] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    homes: dict[str, str] = field(default_factory=dict)  # IR per-sample var -> group
    inputs: dict[str, str] = field(default_factory=dict)  # IR input var -> TimedArray name
    biases: dict[str, str] = field(default_factory=dict)  # IR bias param -> group
    plasticity: list[Plasticity] = field(default_factory=list)
    spikes: dict[str, str] = field(default_factory=dict)  # IR dst var -> spike flag var

    def describe(self) -> str:
        """The ordered action list, one line each (what brian2 will run, in order)."""
        lines = []
        for i, a in enumerate(self.actions):
            body = {"summed": f"summed -> {a.target}", "threshold": "spike detection",
                    "pathway": "on_pre spike propagation"}.get(a.kind)  # fmt: skip
            if a.kind == "ode":
                owner = self.groups.get(a.owner) or self.synapses[a.owner]
                body = "; ".join(f"d{v}/dt = {rhs} (clock-driven, euler)"
                                 for v, rhs in owner.odes.items())  # fmt: skip
            body = body or a.code.replace("\n", "; ")
            lines.append(f"{i:>3} [{a.clock}] {a.owner}.{a.name}: {body}")
        return "\n".join(lines)
