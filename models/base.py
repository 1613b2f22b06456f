"""The interface every trainable model implements, so one training loop runs them all.

A model owns its parameters and optimisers. The loop (``neurosim.training``) calls
``train_batch`` with ``phase="feedback"`` for feedback-weight passes (DFC sleep
phase, App. E.2) and ``phase="forward"`` for forward-weight passes, following the
schedule of DFC App. F.2 (pre-training epochs, then per epoch: one feedback pass,
one forward pass, ``extra_fb_epochs`` feedback passes). Models without feedback
learning report ``has_feedback_phase = False`` and the loop skips those passes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Task:
    """What is learned: ``kind`` is "classification" (cross-entropy on a linear
    output, softmax absorbed in the loss, DFC App. F eq. 223) or "regression" (MSE
    averaged over all elements, used for the autoencoder and student–teacher)."""

    kind: str
    n_in: int
    n_out: int

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Batch-mean loss, as the reference's ``nn.CrossEntropyLoss`` / ``nn.MSELoss``."""
        if self.kind == "classification":
            return nn.functional.cross_entropy(output, target)
        return nn.functional.mse_loss(output, target)

    def errors(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Number of misclassified samples (classification only)."""
        return (output.argmax(dim=1) != target).sum()


class TrainableModel(nn.Module, ABC):
    """Base class of models trained by :func:`neurosim.training.train`.

    Subclasses hold their weights as ``nn.Parameter`` (so ``state_dict`` checkpoints
    them), create their optimisers in ``__init__`` and expose them through
    ``optimizers()`` so the loop can checkpoint and restore their state.

    Optional, for divergence reports (:mod:`neurosim.training.divergence`): a
    ``divergence_hint(phase) -> str`` method (or a ``cfg`` with one) naming the
    parameters most likely at fault, and a ``diverged`` entry in the forward-phase
    metrics (fraction of the batch whose simulated dynamics diverged).
    """

    #: registry name, e.g. "dfc-ssa"
    name: str = ""
    #: whether ``train_batch(phase="feedback")`` does anything
    has_feedback_phase: bool = False
    #: data-parallel training (:mod:`neurosim.scale.data_parallel`): this process's share
    #: ``B_shard / B`` of the global minibatch, set around each ``train_batch``. A rule
    #: whose per-sample targets depend on the batch size (the output target
    #: ``r_L* = r_L - lambda dL/dr_L`` of the batch-mean loss, DFC.md §1.1) multiplies
    #: ``lambda`` by it, so that every sample sees the target of the whole batch.
    shard_fraction: float = 1.0
    #: data-parallel training: averages update tensors over the processes in place
    #: (see :meth:`reduce_updates`); ``None`` in single-process training.
    update_reducer: Callable[[Sequence[torch.Tensor]], None] | None = None

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feedforward pass ``r_L^-`` (DFC §1.1), shape ``(batch, n_out)``."""

    @abstractmethod
    def train_batch(self, x: torch.Tensor, y: torch.Tensor, phase: str) -> dict[str, float]:
        """Compute this batch's weight updates for ``phase`` ("forward" or
        "feedback") and apply one optimiser step. Returns scalar metrics
        (at least ``loss`` for the forward phase)."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers whose state is checkpointed with the model."""

    def reduce_updates(self, updates: Sequence[torch.Tensor]) -> None:
        """Average this batch's weight ``updates`` over the data-parallel processes, in
        place, each process weighted by its :attr:`shard_fraction`, so that every process
        holds the update of the global batch. A no-op in single-process training.

        Call it before anything that is not linear in the update (norm clipping).
        Updates that reach ``optimizer.step()`` unreduced are reduced there (data-parallel
        training adds a pre-step hook to every optimiser), which is exact for rules whose
        update is a batch mean and that do not clip.
        """
        if self.update_reducer is not None:
            self.update_reducer(updates)

    def set_noise_stream(self, stream: int) -> None:
        """Draw the noise that is independent per sample from stream ``stream``.

        Data-parallel training gives process ``r > 0`` its own stream so that the shards
        of one batch draw independent noise, as one process drawing for the whole batch
        would. Noise shared by all samples of a batch must stay on the common stream.
        Default: nothing (no per-sample noise).
        """

    def diagnostics(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Optional per-epoch diagnostics on a fixed probe batch (DFC App. F.1)."""
        return {}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Loss and (for classification) error count of the feedforward output."""
        with torch.no_grad():
            out = self.forward(x)
            metrics = {"loss": float(self.task.loss(out, y))}
            if self.task.kind == "classification":
                metrics["errors"] = float(self.task.errors(out, y))
        return metrics
