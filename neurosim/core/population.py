"""Populations: named groups of units with compartments (descriptions only).

Variable naming (docs/design.md): compartment ``c`` of population ``p`` is the IR
variable ``"p.v"`` for the soma and ``"p.v_<c>"`` for any other compartment; the
rate is ``"p.r"``. Projections target a compartment by its name (``"soma"``,
``"basal"``, ``"apical"``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.errors import (
    ValidationError,
    check_choice,
    check_name,
    check_positive,
    check_size,
)
from neurosim.ir.ops import NONLINEARITIES


def compartment_var(pop: str, compartment: str) -> str:
    """IR variable of a compartment: ``pop.v`` (soma) or ``pop.v_<compartment>``."""
    return f"{pop}.v" if compartment == "soma" else f"{pop}.v_{compartment}"


@dataclass(frozen=True)
class Node:
    """Base of everything that is a vertex of a :class:`~neurosim.core.network.Network`."""

    name: str
    size: int

    def __post_init__(self) -> None:
        check_name(self, self.name)
        check_size(self, "size", self.size)

    @property
    def targets(self) -> tuple[str, ...]:
        """Compartments a projection may target."""
        return ()

    @property
    def output(self) -> str:
        """The IR variable that projections *from* this node read."""
        return f"{self.name}.r"

    @property
    def output_node(self) -> str:
        """The graph node projections from this object leave from."""
        return self.name

    def input_node(self, compartment: str) -> str:
        """The graph node a projection into ``compartment`` arrives at."""
        return self.name

    def graph_parts(self) -> list[tuple[str, dict]]:
        """Graph nodes ``(name, attributes)`` this object contributes."""
        return [(self.name, {"kind": type(self).__name__, "size": self.size, "obj": self.name})]

    def graph_edges(self) -> list[tuple[str, str, dict]]:
        """Internal edges (microcircuits, autapses)."""
        return []


@dataclass(frozen=True)
class Input(Node):
    """An externally supplied rate vector ``"name.r"`` (images, ...).

    ``time_varying=True`` makes it a ``(T, batch, size)`` input read step by step.
    """

    time_varying: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self, "time_varying", self.time_varying, (True, False))


@dataclass(frozen=True)
class Population(Node):
    """A rate population with a leaky soma and optional dendritic compartments.

    .. math::
        \\tau \\frac{dv}{dt} = -v + \\sum_{c \\neq soma} v_c + \\sum_j I_j^{soma},
        \\qquad v_c = \\sum_j I_j^{c}, \\qquad r = \\phi(v)

    Dendritic compartments are instantaneous sums of their projection currents;
    ``tau=None`` makes the soma instantaneous too. With a recurrent projection this is
    the standard rate RNN ``tau dv/dt = -v + W_rec r + W_in x``.

    Parameters
    ----------
    name, size : identifier (no dots) and number of units.
    compartments : compartment names; must include ``"soma"``.
    nonlinearity : one of :data:`neurosim.ir.ops.NONLINEARITIES`.
    tau : soma time constant (dimensionless time), or None (instantaneous).
    """

    compartments: tuple[str, ...] = ("soma",)
    nonlinearity: str = "tanh"
    tau: float | None = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        comps = self.compartments
        if isinstance(comps, list):
            comps = tuple(comps)
            object.__setattr__(self, "compartments", comps)
        if (
            not isinstance(comps, tuple)
            or "soma" not in comps
            or len(set(comps)) != len(comps)
            or not all(isinstance(c, str) and c.isidentifier() for c in comps)
        ):
            raise ValidationError(
                f"Population '{self.name}'",
                "compartments",
                comps,
                "is invalid",
                "give a tuple of distinct identifiers that includes 'soma'",
            )
        check_choice(self, "nonlinearity", self.nonlinearity, NONLINEARITIES)
        check_positive(self, "tau", self.tau, allow_none=True)

    @property
    def targets(self) -> tuple[str, ...]:
        return self.compartments
