"""Plasticity rule descriptions; the IR builder lowers them to ``LocalPlasticity``.

A rule is attached to a :class:`~neurosim.core.projection.Projection` (``rule=``); the
builder knows the projection's pre- and postsynaptic variables and fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.errors import ValidationError, check_choice, check_positive


@dataclass(frozen=True)
class PlasticityRule:
    """Base class of rule descriptions."""


@dataclass(frozen=True)
class DendriticPredictionRule(PlasticityRule):
    """DFC forward rule (eq. 5, App. E, DFC.md §1.4): the soma rate minus the rate the
    basal dendrite predicts, times the presynaptic rate,

    .. math::
        \\Delta W_i \\propto \\big\\langle(\\phi(v_i) - \\phi(v_i^B))\\, r_{i-1}^T\\big\\rangle,

    with the same post factor for the bias. ``window="all"``: time average over the
    whole run including the initial state (DFC); ``"last"``: last step only (DFC-SS).
    Valid on projections into a basal compartment. When the soma does not settle at
    ``v^B`` itself (conductance soma, DFC App. G) the baseline is the dendritic
    prediction ``V_B* = g_B/(g_L+g_B+g_A) v^B`` (Urbanczik & Senn 2014), the post
    node's ``basal_prediction``.
    """

    window: str = "all"

    def __post_init__(self) -> None:
        check_choice(self, "window", self.window, ("all", "last"))


@dataclass(frozen=True)
class AntiHebbianFeedbackRule(PlasticityRule):
    """DFC feedback rule (eq. 13 as implemented, App. E.2, DFC.md §1.5):

    .. math::
        \\Delta Q_i \\propto -\\frac{1}{T-1}\\sum_{k=0}^{T-2} v_i^A[k]\\, u[k+1]^T - \\beta Q_i,

    anti-Hebbian in the *previous* step's apical voltage and the new control. The
    builder adds a ``Copy`` of ``v_apical`` to ``v_apical_prev`` before the layer update.
    Valid on projections into an apical compartment.
    """

    beta: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self, "beta", self.beta, allow_zero=True)


@dataclass(frozen=True)
class ErrorDrivenRule(PlasticityRule):
    """An online outer-product rule driven by an error signal (autapse_rnn_fa.md §2.1):

    .. math::
        \\frac{dW}{dt} = -\\eta\\, m(t)\\, p(t)^T, \\qquad \\frac{db}{dt} = -\\eta\\, m(t),

    with ``m`` the output of node ``error`` (size ``n_post``) and ``p`` the output of
    node ``trace`` (size ``n_pre``; default: the projection's presynaptic node). Every
    step contributes (dt = 1: one step adds ``-eta m p^T``), no derivative of the
    activation and no unrolling in time.

    * Delta rule of a readout ``V`` into an error population ``e``: ``error="e"``,
      ``trace=None`` gives ``dV = -eta e o^T``, ``dc = -eta e``.
    * Autapse rule (Wang, Gray & Banerjee eq. 9-10, corrected): ``error`` a population
      carrying ``B e(t)``, ``trace`` the :class:`~neurosim.circuits.AutapseIntegrator`
      of the presynaptic rates, ``dW = -eta (B e) k^T``.

    ``eta`` is part of the rule, so simulators run it with ``lr=1``.
    """

    error: str = ""
    trace: str | None = None
    eta: float = 0.01

    def __post_init__(self) -> None:
        for attr in ("error", "trace"):
            value = getattr(self, attr)
            if (value is not None or attr == "error") and (not isinstance(value, str) or not value):
                raise ValidationError(
                    "ErrorDrivenRule", attr, value, "is not a node name", "give the node's name"
                )
        check_positive(self, "eta", self.eta)


RULES: dict[str, type[PlasticityRule]] = {
    cls.__name__: cls for cls in (DendriticPredictionRule, AntiHebbianFeedbackRule, ErrorDrivenRule)
}
