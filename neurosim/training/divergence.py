"""Divergence checks: a NaN/inf loss or weight stops the run with the likely cause."""

from __future__ import annotations

import math

import torch

from neurosim.models.base import TrainableModel


class TrainingDivergedError(RuntimeError):
    """The loss or the weights became NaN/inf; the message names the likely cause."""


def divergence_hint(model: TrainableModel) -> str:
    """Most likely cause of a NaN/inf for this model family (a model may set its own
    ``divergence_hint`` attribute)."""
    hint = getattr(model, "divergence_hint", None)
    if hint:
        return str(hint)
    if model.name.startswith("dfc"):
        return (
            "the controller is probably unstable: raise alpha_di (or alpha_fb) or k_p, "
            "or lower dt_di (dt_di_fb) in params"
        )
    return "the learning rate is probably too high: lower params.lr"


def check_finite(
    model: TrainableModel, where: str, loss: float | None, check_weights: bool, context: str
) -> None:
    """Raise :class:`TrainingDivergedError` if ``loss`` is NaN/inf or, with
    ``check_weights``, if any parameter holds a NaN/inf.

    Parameters
    ----------
    where
        Position in the schedule, e.g. ``"epoch 3, forward pass, batch 17"``.
    context
        Appended to the message (e.g. where the last good checkpoint is).
    """
    what = None
    if loss is not None and not math.isfinite(loss):
        what = f"the loss is {loss}"
    elif check_weights:
        bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            what = f"weights {bad[:4]} contain NaN/inf"
    if what is not None:
        raise TrainingDivergedError(
            f"{model.name}: training diverged ({where}): {what}. {divergence_hint(model)}. "
            f"{context}"
        )
