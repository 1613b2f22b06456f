"""Projections: dense synaptic connections from one node's output to a compartment."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.errors import ValidationError, check_choice, check_name
from neurosim.core.init import WeightInit, XavierNormal, Zeros
from neurosim.core.rules import PlasticityRule

ROLES = ("feedforward", "feedback", "lateral", "self", "recurrent")
#: roles that may close a cycle in the graph
CYCLE_ROLES = ("feedback", "lateral", "self", "recurrent")


@dataclass(frozen=True)
class Projection:
    """``I = W r_pre (+ b)`` into compartment ``compartment`` of ``post``.

    IR variables (docs/design.md): weight ``"{name}.W"`` shape ``(n_post, n_pre)``, bias
    ``"{name}.b"`` shape ``(n_post,)``, current ``"{name}.I"``. ``name`` defaults to
    ``"{pre}_to_{post}_{compartment}"``.

    Parameters
    ----------
    pre, post : node names (or the node objects themselves).
    compartment : target compartment of ``post`` (``"basal"``, ``"apical"``, ``"soma"``...).
    weight : initialiser of ``W`` (default :class:`~neurosim.core.init.XavierNormal`).
    bias : ``False``, ``True`` (zeros) or an initialiser for ``b``.
    plastic : whether ``W`` (and ``b``) are learnable parameters.
    role : ``"feedforward"``, ``"feedback"``, ``"lateral"``, ``"self"`` or ``"recurrent"``;
        only non-feedforward projections may close cycles.
    rule : a :class:`~neurosim.core.rules.PlasticityRule` (implies ``plastic``).
    """

    pre: str
    post: str
    compartment: str = "soma"
    weight: WeightInit = XavierNormal()
    bias: bool | WeightInit = False
    plastic: bool = False
    role: str = "feedforward"
    rule: PlasticityRule | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        for attr in ("pre", "post"):
            value = getattr(self, attr)
            if not isinstance(value, str):
                object.__setattr__(self, attr, getattr(value, "name", value))
        if self.name is None:
            object.__setattr__(self, "name", f"{self.pre}_to_{self.post}_{self.compartment}")
        check_name(self, self.name)
        who = f"Projection '{self.name}'"
        for attr in ("pre", "post", "compartment"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value:
                raise ValidationError(who, attr, value, "is not a name", "give a string")
        check_choice(self, "role", self.role, ROLES)
        if not isinstance(self.weight, WeightInit):
            raise ValidationError(
                who,
                "weight",
                self.weight,
                "is not an initialiser",
                "give e.g. XavierNormal(), Zeros(), Identity(1.0) or Given(array)",
            )
        if not (isinstance(self.bias, (bool, WeightInit))):
            raise ValidationError(
                who, "bias", self.bias, "is invalid", "give True, False or an initialiser"
            )
        check_choice(self, "plastic", self.plastic, (True, False))
        if self.rule is not None and not isinstance(self.rule, PlasticityRule):
            raise ValidationError(
                who,
                "rule",
                self.rule,
                "is not a rule",
                "give DendriticPredictionRule(...), AntiHebbianFeedbackRule(...) or None",
            )
        if self.rule is not None and not self.plastic:
            object.__setattr__(self, "plastic", True)
        if self.pre == self.post and self.role not in ("self", "recurrent"):
            raise ValidationError(
                who,
                "role",
                self.role,
                f"connects '{self.pre}' to itself",
                "mark it role='recurrent' (or 'self')",
            )

    @property
    def bias_init(self) -> WeightInit | None:
        """The bias initialiser, or None without a bias."""
        if self.bias is True:
            return Zeros()
        return self.bias or None
