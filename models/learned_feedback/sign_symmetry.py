"""Sign symmetry (Liao, Leibo & Poggio 2016; Xiao et al. 2018): the backward matrix
shares only the signs of the forward weights,

    B_l = sign(W_l^T) * s_l,       s_l = sign_scale, or mean |W_l| (default)

recomputed from the current ``W_l`` at every step, so it carries no state of its own.
With ``s_l = mean |W_l|`` the norm of ``B_l`` is ``mean|W_l| / rms(W_l)`` times that of
``W_l`` (about 0.8 for Gaussian weights) and its angle to ``W_l^T`` is
``arccos(mean|W_l| / rms(W_l))`` (about 37 degrees for Gaussian weights). A cheap
baseline: it needs the sign of ``W_l`` at ``B_l``'s synapse (not local).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from neurosim.models.base import Task
from neurosim.models.baselines.fa import FAModel
from neurosim.models.learned_feedback.config import LearnedFeedbackConfig


class SignSymmetryModel(FAModel):
    """Feedforward network whose backward pass uses ``sign(W_l^T) * s_l``."""

    has_feedback_phase = False

    def __init__(self, task: Task, cfg: LearnedFeedbackConfig, **kwargs: Any) -> None:
        super().__init__(task, cfg, **kwargs)  # same W as fa for the same seed
        self.cfg: LearnedFeedbackConfig = cfg
        self.name = "sign-sym"
        for i in range(1, self.depth):  # no stored B: it is a function of W
            del self._buffers[f"B{i}"]

    @property
    def feedback(self) -> list[Tensor]:
        """``[B_2, .., B_L]`` from the current forward weights."""
        out = []
        for W in self.weights[1:]:
            Wd = W.detach()
            scale = Wd.abs().mean() if self.cfg.sign_scale is None else self.cfg.sign_scale
            out.append(Wd.T.sign() * scale)
        return out
