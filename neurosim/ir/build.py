"""``neurosim.build(network, dt)``: lower a frontend :class:`~neurosim.core.Network` to an
IR :class:`~neurosim.ir.model.Model`.

Lowering dispatches on type through a registry (``@register(Type)``, resolved along the
MRO, as nengo's ``Builder.register``): each frontend class has one function
``lower(obj, ctx) -> Lowered`` that declares its variables on the :class:`BuildContext`
and returns its ops sorted into scheduling slots. The schedule (docs/design.md, DFC App.
E.1) is then assembled here:

``init_ops``  node ``init`` slots in ascending update order (the feedforward sweep),
              then the controllers' ``init_last`` (output target, eq. 3).
``step_ops``  controllers' ``first`` slots (error; plus the control update when
              proactive), node ``step`` slots in update order (ascending for
              instantaneous transmission, descending for delayed), controllers' ``last``
              slots (the control update when not proactive), then the plasticity ops.

All random numbers are drawn here from per-object streams
(:func:`neurosim.core.seeds.object_rng`) and stored in ``Variable.value``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.core.errors import ValidationError, check_positive
from neurosim.core.network import Network
from neurosim.core.seeds import object_rng, object_seed
from neurosim.ir.model import Model, Probe, Variable
from neurosim.ir.ops import Op
from neurosim.ir.stability import check_time_step

_REGISTRY: dict[type, Callable[..., Lowered]] = {}
_KIND_ORDER = ("input", "state", "current", "parameter")


def register(cls: type) -> Callable:
    """Decorator: ``@register(Type)`` makes the function the lowering of ``Type``."""

    def deco(fn: Callable[..., Lowered]) -> Callable:
        _REGISTRY[cls] = fn
        return fn

    return deco


def lower(obj: Any, ctx: BuildContext, *args: Any) -> Lowered:
    """Lower ``obj`` with the function registered for the nearest class in its MRO
    (extra ``args``: e.g. the projection a plasticity rule is attached to)."""
    for cls in type(obj).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls](obj, ctx, *args)
    raise TypeError(
        f"neurosim.build: no lowering registered for {type(obj).__name__}; "
        "decorate one with @neurosim.ir.build.register"
    )


@dataclass
class Lowered:
    """Ops of one object, sorted into scheduling slots (see module docstring)."""

    init: list[Op] = field(default_factory=list)
    init_last: list[Op] = field(default_factory=list)
    first: list[Op] = field(default_factory=list)
    step: list[Op] = field(default_factory=list)
    last: list[Op] = field(default_factory=list)
    learn: list[Op] = field(default_factory=list)

    def __iadd__(self, other: Lowered) -> Lowered:
        for slot in ("init", "init_last", "first", "step", "last", "learn"):
            getattr(self, slot).extend(getattr(other, slot))
        return self


class BuildContext:
    """What a lowering function may use: the network, ``dt``, variable declaration,
    per-object random streams and the ops of projections into a compartment."""

    def __init__(self, network: Network, dt: float) -> None:
        self.network, self.dt = network, dt
        self.variables: dict[str, Variable] = {}
        self.snapshots: dict[str, list[Op]] = {}
        self._projection_ops: dict[str, Lowered] = {}

    def declare(
        self,
        name: str,
        kind: str,
        shape: tuple[int, ...],
        value: np.ndarray | None = None,
        *,
        plastic: bool = False,
        time_varying: bool = False,
        population: str | None = None,
        compartment: str | None = None,
    ) -> str:
        """Declare an IR variable (once); returns its name."""
        if name in self.variables:
            raise ValidationError(
                f"Network '{self.network.name}'",
                "variable",
                name,
                "is declared twice",
                "rename one of the objects",
            )
        self.variables[name] = Variable(
            name,
            kind,
            shape,
            value=value,
            plastic=plastic,
            time_varying=time_varying,
            population=population,
            compartment=compartment,
        )
        return name

    def rng(self, obj_name: str) -> np.random.Generator:
        """The random stream of object ``obj_name`` (network seed + stable name hash)."""
        return object_rng(self.network.seed, obj_name)

    def seed(self, op_name: str) -> int:
        """An integer noise seed for op ``op_name``."""
        return object_seed(self.network.seed, op_name)

    def projections(
        self, node: str, compartment: str, *, init: bool = False
    ) -> tuple[list[Op], list[str]]:
        """Ops computing the currents into ``node.compartment`` and the current names.

        ``init=True`` gives the feedforward sweep's copies (feedforward projections only,
        op names prefixed ``init_``).
        """
        ops, currents = [], []
        for p in self.network.into(node, compartment):
            if init and p.role != "feedforward":
                continue
            low = self._projection_ops[p.name]
            ops += low.init if init else low.step
            currents.append(f"{p.name}.I")
        return ops, currents

    def prelude(self, node: str) -> list[Op]:
        """Snapshot ops (``Copy``) a rule needs at the start of ``node``'s update."""
        return self.snapshots.get(node, [])


def build(network: Network, dt: float = 0.02, name: str | None = None) -> Model:
    """Lower ``network`` to an IR :class:`~neurosim.ir.model.Model` with Euler step ``dt``.

    Parameters
    ----------
    network : the :class:`~neurosim.core.network.Network` (checked first, see
        :func:`neurosim.core.checks.check_network`).
    dt : Euler step (dimensionless time); a finite number > 0. A
        :class:`~neurosim.core.errors.TimeStepWarning` says when it comes close to
        (``dt*leak/tau >= 0.8``) or exceeds a time constant of an Euler update
        (:mod:`neurosim.ir.stability`).
    name : model name (default: the network's).
    """
    if not isinstance(network, Network):
        hint = " (call .build() on the builder first)" if hasattr(network, "build") else ""
        raise ValidationError(
            "neurosim.build",
            "network",
            network,
            f"is a {type(network).__name__}, not a Network{hint}",
            "give a neurosim.Network, e.g. neurosim.HierarchyBuilder(...).build() or "
            "neurosim.load_circuit(path)[0]",
        )
    check_positive("neurosim.build", "dt", dt)
    network.check()
    ctx = BuildContext(network, float(dt))
    learn: list[Op] = []
    for proj in network.projections.values():
        low = lower(proj, ctx)
        ctx._projection_ops[proj.name] = low
        learn += low.learn
    parts = {node.name: lower(node, ctx) for node in network.nodes.values()}
    order = list(network.order)
    step_order = order if network.transmission == "instantaneous" else order[::-1]
    ctrls = [c.name for c in network.controllers]
    others = [n for n in network.nodes if n not in order and n not in ctrls]
    init_ops = [op for n in others + order for op in parts[n].init]
    init_ops += [op for n in ctrls + others + order for op in parts[n].init_last]
    step_ops = [op for n in ctrls for op in parts[n].first]
    step_ops += [op for n in others + step_order for op in parts[n].step]
    step_ops += [op for n in ctrls for op in parts[n].last]
    step_ops += [op for n in network.nodes for op in parts[n].learn] + learn
    probes = [Probe(_probe_var(p.target, network), p.every) for p in network.probes]
    meta = {
        "name": name or network.name,
        "seed": network.seed,
        "transmission": network.transmission,
        "order": tuple(step_order),
        **network.options,
    }
    variables = {k: v for kind in _KIND_ORDER for k, v in ctx.variables.items() if v.kind == kind}
    model = Model(variables, init_ops, step_ops, float(dt), probes, meta)
    check_time_step(model)
    return model


def _probe_var(target: str, network: Network) -> str:
    if "." not in target and target in network.nodes:
        return network.nodes[target].output
    return target
