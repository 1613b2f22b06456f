"""Hyperparameters of the learned-backward-weight family, validated once at construction.

The forward network and its optimiser are those of the baselines
(:class:`~neurosim.models.baselines.config.BaselineConfig`: 784-256-256-256-10 tanh,
Adam with the DFC-table values), so every method shares one results table. On top:

``coefficients``
    ``{primitive: c}`` in the reference code's convention (no 1/2 in decay, null,
    sparse); keys given here replace the rule's defaults (:data:`~.rules.RULES`), the
    others keep them. Every coefficient is a finite number >= 0.
``feedback_optimizer``, ``feedback_lr``, ``feedback_adam_epsilon``
    B's own optimiser; ``null`` means "as the forward weights" (the reference code
    trains W and B with one optimiser, which for Adam and SGD is the same as two
    optimisers with equal settings). Adam betas are the forward ones.
``regularizer_input``, ``regularizer_input_std``
    What the regularisers see as the layer input x: ``"data"`` (the layer's actual
    input on the training batch, the code default), or white noise ``"normal"``
    (std ``regularizer_input_std``) or ``"uniform"`` (same variance) drawn per layer
    and batch from the model's generator: Akrout et al.'s "mirror mode" (the code's
    ``input_distribution``/``input_stddev``).
``projection_bias``
    Whether ``y = W x + b`` (the code's default) or ``y = W x`` (default here, so the
    derived fixed points hold; fact sheet §2.7).
``oja``
    Weight mirror only: the decay term is replaced by Oja's normalising term
    (slides §2.4); ``coefficients.decay`` must then be 0.
``sign_scale``
    Sign symmetry only: ``B = sign(W^T) * sign_scale``; ``null`` uses ``mean |W|`` of
    the layer, recomputed every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from neurosim.models.baselines.config import OPTIMIZERS, BaselineConfig
from neurosim.models.learned_feedback.primitives import PRIMITIVES
from neurosim.models.learned_feedback.rules import Rule, get_rule

REGULARIZER_INPUTS = ("data", "normal", "uniform")


@dataclass(frozen=True)
class LearnedFeedbackConfig(BaselineConfig):
    """Baseline network plus a backward-weight rule (see the module docstring)."""

    rule: str = "fa"
    coefficients: dict | None = None
    feedback_optimizer: str | None = None
    feedback_lr: float | None = None
    feedback_adam_epsilon: float | None = None
    regularizer_input: str = "data"
    regularizer_input_std: float = 1.0
    projection_bias: bool = False
    oja: bool = False
    sign_scale: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        try:
            rule = get_rule(self.rule)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        object.__setattr__(self, "coefficients", self._resolve_coefficients(rule))
        if self.feedback_optimizer is not None and self.feedback_optimizer not in OPTIMIZERS:
            raise ValueError(
                f"{name}: feedback_optimizer {self.feedback_optimizer!r} is not one of "
                f"{OPTIMIZERS} (or null: as the forward weights)"
            )
        for key in ("feedback_lr", "feedback_adam_epsilon", "sign_scale"):
            v = getattr(self, key)
            if v is not None and not (_is_number(v) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: {key} must be a number > 0 or null, got {v!r}")
        if self.regularizer_input not in REGULARIZER_INPUTS:
            raise ValueError(
                f"{name}: regularizer_input {self.regularizer_input!r} is not one of "
                f"{REGULARIZER_INPUTS}"
            )
        v = self.regularizer_input_std
        if not (_is_number(v) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name}: regularizer_input_std must be a number > 0, got {v!r}")
        for key in ("projection_bias", "oja"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{name}: {key} must be true or false, got {getattr(self, key)!r}")
        if self.oja and self.rule != "wm":
            raise ValueError(
                f"{name}: oja: true is the Oja-normalised weight mirror; it needs rule 'wm', "
                f"not {self.rule!r}"
            )
        if self.sign_scale is not None and not rule.sign_symmetric:
            raise ValueError(
                f"{name}: sign_scale only applies to rule 'sign-sym', not {self.rule!r}"
            )

    def _resolve_coefficients(self, rule: Rule) -> dict[str, float]:
        name = type(self).__name__
        given = self.coefficients
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise ValueError(
                f"{name}: coefficients must be a mapping {{primitive: value}}, got {given!r}"
            )
        unknown = sorted((k for k in given if k not in PRIMITIVES), key=repr)
        if unknown:
            hint = (
                ' (YAML reads an unquoted null as "nothing": write "null": value)'
                if None in unknown
                else ""
            )
            raise ValueError(
                f"{name}: coefficients has unknown primitive(s) {unknown}; the primitives "
                f"are {list(PRIMITIVES)}{hint}"
            )
        for key, v in given.items():
            if not (_is_number(v) and math.isfinite(v)):
                raise ValueError(f"{name}: coefficients.{key} must be a finite number, got {v!r}")
            if v < 0:
                raise ValueError(
                    f"{name}: coefficients.{key} must be >= 0, got {v!r} (a negative "
                    f"coefficient ascends the {key} primitive; the sign of each primitive "
                    "is in its definition)"
                )
        if not rule.learned and any(v != 0 for v in given.values()):
            raise ValueError(
                f"{name}: rule {rule.name!r} ({rule.title}) does not learn B, so coefficients "
                f"must be empty, got {given!r}; use one of wm, ia, sa, aa, kp"
            )
        defaults = dict(rule.coefficients)
        if self.oja:
            defaults.pop("decay", None)
            if given.get("decay", 0.0) != 0.0:
                raise ValueError(
                    f"{name}: coefficients.decay must be 0 with oja: true (Oja's term "
                    f"replaces the decay of weight mirror), got {given['decay']!r}; give "
                    "coefficients without decay, e.g. {amp: 1.0e-3} as "
                    "models/configs/mnist/wm-oja.yaml does"
                )
        merged = {**defaults, **{k: float(v) for k, v in given.items()}}
        return {k: merged[k] for k in PRIMITIVES if k in merged}

    def divergence_hint(self, phase: str = "forward") -> str:
        """Likely cause of a diverged run: the forward step size, B's step size or the
        coefficients (:mod:`neurosim.training.divergence`)."""
        terms = ", ".join(f"{k}={v:g}" for k, v in self.coefficients.items()) or "none"
        return (
            f"{super().divergence_hint(phase)}; or B's step: lower params.feedback_lr (now "
            f"{self.feedback_lr_eff:.3g}, {self.feedback_optimizer_name}) or the "
            f"coefficients ({terms})"
        )

    @property
    def learned(self) -> bool:
        """Whether B has an optimiser (the rule learns it)."""
        return get_rule(self.rule).learned

    @property
    def feedback_optimizer_name(self) -> str:
        """B's optimiser (``adam`` or ``sgd``)."""
        return self.feedback_optimizer or self.optimizer

    @property
    def feedback_lr_eff(self) -> float:
        """B's learning rate (the forward ``lr_eff`` unless ``feedback_lr`` is set)."""
        return self.lr_eff if self.feedback_lr is None else self.feedback_lr


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
