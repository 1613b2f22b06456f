"""PI controller microcircuit (DFC eq. 3-4, App. E.1): error neurons, a proportional
path and an autapse-integrator path, summed into the control signal ``u``."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.errors import ValidationError, check_choice, check_name, check_positive
from neurosim.core.population import Node

LOSSES = ("mse", "cross_entropy", "given")


@dataclass(frozen=True)
class PIController(Node):
    """Proportional-integral controller of the output layer ``output_layer``.

    .. math::
        e = r^* - r_L, \\quad r^* = r_L^- - \\lambda \\partial\\mathcal{L}/\\partial r_L
        \\;\\text{(eq. 3)}, \\qquad u = u_{int} + k_p e,

    with the integral path an :class:`~neurosim.circuits.autapse.AutapseIntegrator` of time
    constant ``tau``:

    * ``leak_on="total"`` (default, reference code, App. E.1 eq. 208):
      ``tau du_int/dt = e - alpha u`` (w = 1 and an input ``-alpha u``);
    * ``leak_on="integral"``: ``tau du_int/dt = -alpha u_int + e`` (w = 1 - alpha).

    ``mode="p"`` drops the integrator (``u = k_p e``); ``mode="i"`` drops the
    proportional path (``u = u_int``, k_p ignored). ``loss="cross_entropy"`` absorbs the
    softmax into the loss (App. F eq. 223); ``loss="given"`` takes ``r*`` from
    ``target_from``: the label input (``"label"``) or the initial (feedforward) output
    (``"output"``, the sleep phase, DFC.md §1.5).

    ``proactive=True`` updates ``u`` before the layers within a step (they see
    ``u[k+1]``); otherwise after them (they see ``u[k]``). The error is always computed
    first, from ``r_L[k]``.

    IR variables: ``{name}.target``, ``{name}.label`` (input), ``{name}.e``,
    ``{name}.u_int`` (absent for ``mode="p"``), ``{name}.u`` (the output).
    ``size`` and ``output_layer`` are filled in by :class:`~neurosim.HierarchyBuilder`.
    """

    name: str = "ctrl"
    size: int | None = None
    k_p: float = 2.0
    alpha: float = 1.389e-3
    loss: str = "mse"
    lam: float = 0.1
    proactive: bool = True
    leak_on: str = "total"
    mode: str = "pi"
    tau: float = 1.0
    target_from: str = "label"
    output_layer: str | None = None

    is_controller = True

    def __post_init__(self) -> None:
        check_name(self, self.name)
        if self.size is not None:
            super().__post_init__()
        check_positive(self, "k_p", self.k_p, allow_zero=True)
        check_positive(self, "alpha", self.alpha, allow_zero=True)
        check_choice(self, "loss", self.loss, LOSSES)
        check_positive(self, "lam", self.lam, allow_zero=True)
        check_choice(self, "proactive", self.proactive, (True, False))
        check_choice(self, "leak_on", self.leak_on, ("total", "integral"))
        check_choice(self, "mode", self.mode, ("pi", "p", "i"))
        check_positive(self, "tau", self.tau)
        check_choice(self, "target_from", self.target_from, ("label", "output"))
        if self.mode == "p" and self.k_p == 0:
            raise ValidationError(
                f"PIController '{self.name}'",
                "k_p",
                0.0,
                "gives no control with mode='p'",
                "give k_p > 0",
            )
        if self.output_layer is not None:
            check_name(self, self.output_layer)

    @property
    def has_integrator(self) -> bool:
        return self.mode != "p"

    @property
    def gain_p(self) -> float:
        """Effective proportional gain (0 for ``mode="i"``)."""
        return 0.0 if self.mode == "i" else self.k_p

    @property
    def targets(self) -> tuple[str, ...]:
        return ()

    @property
    def output(self) -> str:
        return f"{self.name}.u"

    @property
    def output_node(self) -> str:
        return f"{self.name}.u"

    def input_node(self, compartment: str) -> str:
        return f"{self.name}.e"

    def graph_parts(self) -> list[tuple[str, dict]]:
        base = {"size": self.size, "obj": self.name, "circuit": "PIController"}
        parts = [(f"{self.name}.e", {**base, "kind": "error"})]
        if self.has_integrator:
            w = 1.0 - self.alpha if self.leak_on == "integral" else 1.0
            parts.append((f"{self.name}.u_int", {**base, "kind": "AutapseIntegrator", "w": w}))
        parts.append((f"{self.name}.u", {**base, "kind": "control"}))
        return parts

    def graph_edges(self) -> list[tuple[str, str, dict]]:
        n, shape = self.name, (self.size, self.size)

        def edge(u: str, v: str, role: str, tag: str) -> tuple[str, str, dict]:
            attrs = {"name": f"{n}.{tag}", "role": role, "compartment": v, "shape": shape}
            return (f"{n}.{u}", f"{n}.{v}", {**attrs, "plastic": False})

        edges = []
        if self.output_layer is not None:
            edges.append(
                (
                    self.output_layer,
                    f"{n}.e",
                    {
                        "name": f"{n}.observe",
                        "role": "feedforward",
                        "compartment": "e",
                        "shape": shape,
                        "plastic": False,
                    },
                )
            )
        if self.gain_p:
            edges.append(edge("e", "u", "feedforward", "proportional"))
        if self.has_integrator:
            edges += [
                edge("e", "u_int", "feedforward", "integrate"),
                edge("u_int", "u", "feedforward", "integral"),
                edge("u_int", "u_int", "self", "autapse"),
            ]
            if self.leak_on == "total" and self.alpha:
                edges.append(edge("u", "u_int", "feedback", "leak"))
        return edges
