"""Divergence checks: a run stops, with the likely cause, when its loss explodes.

Two checks, both raising :class:`TrainingDivergedError`:

* **Non-finite values**: a NaN/inf training or evaluation loss, or NaN/inf weights at
  the end of a pass (:func:`check_finite`).
* **Diverged dynamics**: a model that simulates dynamics reports ``diverged``, the
  fraction of a batch whose simulation diverged (DFC: DFC.md §1.3); a forward pass
  whose mean is at least :data:`DIVERGED_FRACTION` stops the run
  (:func:`check_dynamics`) instead of training on garbage updates.
* **Growth** (:class:`DivergenceMonitor`): the training loss, smoothed over the
  minibatches by an exponential moving average ``s_t = 0.9 s_{t-1} + 0.1 L_t``
  (about the last ten batches; ``s_1 = L_1``), exceeds ``factor`` (the run config's
  ``divergence_factor``, default 1000: three orders of magnitude) times its running
  minimum. The minimum counts no lower than ``s_1 / factor``, so a run that lowered
  its loss more than ``factor``-fold stops once the loss climbs back above its
  initial value. ``divergence_factor: null`` turns this check off (NaN/inf still stop).

The message says where (epoch, pass, batch), what happened, the parameters most likely
at fault for this model (:func:`divergence_hint`) and where the last good checkpoint is,
if one was written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from neurosim.models.base import TrainableModel

#: smoothing weight of the newest batch loss in the moving average
EMA_WEIGHT = 0.1
DEFAULT_FACTOR = 1000.0
#: mean fraction of diverged samples in a forward pass that stops the run
DIVERGED_FRACTION = 0.5


class TrainingDivergedError(RuntimeError):
    """The loss or the weights became NaN/inf or grew by orders of magnitude; the
    message names the likely cause."""


class DivergenceMonitor:
    """The growth check of the module docstring.

    Parameters
    ----------
    factor
        Allowed growth of the smoothed loss over its running minimum (``None``: off).
    """

    def __init__(self, factor: float | None = DEFAULT_FACTOR) -> None:
        self.factor = factor
        self.smoothed: float | None = None
        self.minimum = math.inf
        self.initial: float | None = None

    def update(self, loss: float | None) -> str | None:
        """Feed one batch loss; return what went wrong, or ``None`` while all is well."""
        if self.factor is None or loss is None or not math.isfinite(loss):
            return None
        if self.smoothed is None:
            self.smoothed = self.initial = loss
        else:
            self.smoothed = (1 - EMA_WEIGHT) * self.smoothed + EMA_WEIGHT * loss
        reference = max(self.minimum, abs(self.initial) / self.factor)
        self.minimum = min(self.minimum, self.smoothed)
        if reference > 0 and self.smoothed > self.factor * reference:
            return (
                f"the smoothed training loss is {self.smoothed:.4g}, more than "
                f"divergence_factor={self.factor:g} times its running minimum "
                f"{reference:.4g} (this batch: {loss:.4g})"
            )
        return None

    def state(self) -> dict[str, Any]:
        """Plain values for the checkpoint (so a resumed run checks the same way)."""
        return {"smoothed": self.smoothed, "minimum": self.minimum, "initial": self.initial}

    def load_state(self, state: dict[str, Any] | None) -> None:
        """Restore :meth:`state` (``None``: a checkpoint written before the monitor)."""
        if state:
            self.smoothed, self.minimum = state["smoothed"], state["minimum"]
            self.initial = state["initial"]


def divergence_hint(model: TrainableModel, phase: str = "forward") -> str:
    """The parameters most likely at fault when ``model`` diverged in ``phase``.

    Asked in order: the model's own ``divergence_hint`` (a string, or a method taking
    the phase), its config's ``divergence_hint(phase)``, else the learning rate.
    """
    own = getattr(model, "divergence_hint", None)
    if callable(own):
        return str(own(phase))
    if own:
        return str(own)
    cfg_hint = getattr(getattr(model, "cfg", None), "divergence_hint", None)
    if callable(cfg_hint):
        return str(cfg_hint(phase))
    return "the learning rate is probably too high: lower params.lr"


def check_finite(
    model: TrainableModel,
    where: str,
    loss: float | None,
    check_weights: bool,
    context: str,
    phase: str = "forward",
) -> None:
    """Raise :class:`TrainingDivergedError` if ``loss`` is NaN/inf or, with
    ``check_weights``, if any parameter holds a NaN/inf.

    Parameters
    ----------
    where
        Position in the schedule, e.g. ``"epoch 3, forward pass, batch 17"``.
    context
        Appended to the message (e.g. where the last good checkpoint is).
    phase
        ``"forward"``, ``"feedback"`` or ``"evaluation"`` (chooses the hint).
    """
    what = None
    if loss is not None and not math.isfinite(loss):
        what = f"the loss is {loss}"
    elif check_weights:
        bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            what = f"weights {bad[:4]} contain NaN/inf"
    if what is not None:
        hint = divergence_hint(model, "feedback" if phase == "feedback" else "forward")
        raise TrainingDivergedError(
            f"{model.name}: training diverged ({where}): {what}. {hint}. {context}"
        )


def check_growth(
    model: TrainableModel,
    monitor: DivergenceMonitor,
    where: str,
    loss: float | None,
    context: Callable[[], str],
) -> None:
    """Feed ``loss`` to ``monitor``; raise :class:`TrainingDivergedError` when it reports
    growth (``context()`` is appended, e.g. where the last good checkpoint is)."""
    what = monitor.update(loss)
    if what is not None:
        raise TrainingDivergedError(
            f"{model.name}: training diverged ({where}): {what}. "
            f"{divergence_hint(model, 'forward')}. {context()}"
        )


def check_dynamics(model: TrainableModel, where: str, fraction: float | None, context: str) -> None:
    """Raise :class:`TrainingDivergedError` if the pass-mean ``diverged`` fraction
    reported by the model is at least :data:`DIVERGED_FRACTION`."""
    if fraction is not None and fraction >= DIVERGED_FRACTION:
        raise TrainingDivergedError(
            f"{model.name}: training diverged ({where}): the simulated dynamics diverged for "
            f"{100 * fraction:.0f}% of the samples (the model's `diverged` metric). "
            f"{divergence_hint(model, 'forward')}. {context}"
        )
