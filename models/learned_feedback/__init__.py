"""Learned backward weights: weight mirror, information / symmetric / activation
alignment, Kolen–Pollack and sign symmetry, as members of one family whose R = 0
member is feedback alignment (``fa``, :mod:`neurosim.models.baselines.fa`).

Importing this package registers ``wm``, ``ia``, ``sa``, ``aa``, ``kp`` and ``sign-sym``
with :mod:`neurosim.models.registry` (``neurosim train --model wm``). Equations and
papers: ``docs/learned_feedback.md``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from neurosim.models.base import Task
from neurosim.models.baselines.fa import FAModel
from neurosim.models.learned_feedback.config import LearnedFeedbackConfig
from neurosim.models.learned_feedback.model import LearnedFeedbackModel
from neurosim.models.learned_feedback.rules import RULES, Rule, get_rule
from neurosim.models.learned_feedback.sign_symmetry import SignSymmetryModel
from neurosim.models.registry import register

#: the registered names of this family (``fa`` is registered by the baselines)
MODEL_NAMES = ("wm", "ia", "sa", "aa", "kp", "sign-sym")


def build(
    rule: str,
    task: Task,
    params: dict[str, Any] | None = None,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    seed: int = 42,
) -> FAModel:
    """The model of ``rule`` (any of :data:`~.rules.RULES`, ``fa`` included) from a
    ``params`` mapping validated by :class:`LearnedFeedbackConfig`."""
    params = dict(params or {})
    given = params.pop("rule", rule)
    if given != rule:
        raise ValueError(
            f"{rule}: params.rule is {given!r} but the model is {rule!r}; drop params.rule "
            f"or choose --model {given}"
        )
    cfg = LearnedFeedbackConfig.from_params({**params, "rule": rule})
    cls = SignSymmetryModel if get_rule(rule).sign_symmetric else LearnedFeedbackModel
    return cls(task, cfg, device=device, dtype=dtype, seed=seed)


for _name in MODEL_NAMES:
    register(_name)(partial(build, _name))  # build(rule, ...) is the registry factory

__all__ = [
    "MODEL_NAMES",
    "RULES",
    "LearnedFeedbackConfig",
    "LearnedFeedbackModel",
    "Rule",
    "SignSymmetryModel",
    "build",
    "get_rule",
]
