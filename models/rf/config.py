"""Hyperparameters of deep pseudoinverse (reciprocal) feedback, validated at construction.

The forward network and its optimiser are those of the baselines
(:class:`~neurosim.models.baselines.config.BaselineConfig`); the RF models add how
their feedback matrices are obtained (recirculation_pinv.md §2.4, open choices).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.models.baselines.config import BaselineConfig
from neurosim.models.config_checks import check_range


@dataclass(frozen=True)
class RFConfig(BaselineConfig):
    """Deep RF with feedback ``B_l`` learned by noise-driven Recirculation pairs.

    Each ``B_l`` (l = 2..L) is the top-down matrix of a
    :class:`~neurosim.circuits.ReciprocalPair` whose bottom-up matrix is the frozen
    ``W_l`` (``eta_A = 0``, §2.4): white noise ``xi ~ N(0, noise_sigma² I)`` at layer
    ``l - 1``, ``h = W_l xi``, ``Delta B_l = lr_feedback (xi - B_l h) hᵀ``, batch mean
    over ``noise_batch`` noise samples, simulated online on the torch backend.

    Attributes
    ----------
    lr_feedback : eta_B. The LMS step is stable while ``lr_feedback * noise_sigma² *
        lambda_max(W_l W_lᵀ) < 2`` (§2.1); its noise floor on ``||B - W⁺||`` grows like
        ``sqrt(lr_feedback / noise_batch)``.
    noise_sigma : standard deviation of the injected noise.
    noise_batch : noise samples per step.
    feedback_steps : noise steps per training batch in a feedback pass (the
        pre-training epochs ``schedule.epochs_fb`` and the pass that opens every epoch).
    track_steps : noise steps per training batch just before each forward update, so
        that ``B_l`` follows ``W_l`` as it learns ("trained concurrently").
    """

    lr_feedback: float = 0.05
    noise_sigma: float = 1.0
    noise_batch: int = 128
    feedback_steps: int = 2
    track_steps: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "lr_feedback", 0.0, why="eta_B of the noise-driven rule")
        check_range(self, "noise_sigma", 0.0, why="standard deviation of the noise")
        check_range(self, "noise_batch", 1, inclusive=True, why="noise samples per step")
        for name in ("feedback_steps", "track_steps"):
            check_range(self, name, 0, inclusive=True, why="noise steps per batch")
        if self.feedback_steps == 0 and self.track_steps == 0:
            raise ValueError(
                "RFConfig: feedback_steps and track_steps are both 0, so the feedback "
                "B_l would never be learned; give at least one of them > 0"
            )


@dataclass(frozen=True)
class RFExactConfig(BaselineConfig):
    """The oracle: ``B_l = pinv(W_l)`` recomputed at every update.

    ``damping`` > 0 uses the ridge inverse ``W_lᵀ (W_l W_lᵀ + damping I)⁻¹`` instead of
    ``pinv(W_l)`` (§4: small singular values of ``W_l`` blow ``W_l⁺`` up).
    """

    damping: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "damping", 0.0, inclusive=True, why="0: the exact pinv")
