"""Autapse integrator: a population whose self-connection sets its leak."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.errors import check_positive, check_real
from neurosim.core.population import Node


@dataclass(frozen=True)
class AutapseIntegrator(Node):
    """A population with a self-connection of strength ``w`` (DFC App. I eq. 230; the
    low-pass trace of the autapse learning rule, Wang et al. eq. 7-8):

    .. math::
        \\tau \\frac{dx}{dt} = -x + w\\,x + \\sum_j I_j

    i.e. a leaky integrator with effective leak ``1 - w`` (``w = 1``: perfect
    integrator). In the graph it is a node with a self-loop (role ``"self"``); it lowers
    to ONE ``Integrate`` op with ``leak = 1 - w``. IR variable: ``name.x`` (also its
    output); projections target compartment ``"x"``.
    """

    w: float = 1.0
    tau: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self, "w", self.w)
        check_positive(self, "tau", self.tau)

    @property
    def leak(self) -> float:
        """Effective leak ``1 - w``."""
        return 1.0 - self.w

    @property
    def targets(self) -> tuple[str, ...]:
        return ("x",)

    @property
    def output(self) -> str:
        return f"{self.name}.x"

    def graph_parts(self) -> list[tuple[str, dict]]:
        attrs = {"kind": "AutapseIntegrator", "size": self.size, "obj": self.name, "w": self.w}
        return [(self.name, attrs)]

    def graph_edges(self) -> list[tuple[str, str, dict]]:
        return [
            (
                self.name,
                self.name,
                {
                    "name": f"{self.name}.autapse",
                    "role": "self",
                    "compartment": "x",
                    "shape": (self.size, self.size),
                    "plastic": False,
                },
            )
        ]
