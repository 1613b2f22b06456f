"""Data-parallel training: each process trains on its shard of every global minibatch.

With ``N`` processes (ranks ``r = 0..N-1``) and a global batch of ``B`` samples, every
rank draws the same batch (one seeded data-order generator per run) and rank ``r``
simulates samples ``[r B / N, (r + 1) B / N)``: the DFC phases, the sleep phase and the
baselines' gradients are computed on ``B_r`` samples. Before every optimiser step the
updates are averaged over the ranks with the shard fractions ``f_r = B_r / B``,

.. math:: g = \\sum_r f_r \\, g_r ,

which is the update of the whole batch for every rule whose update is a batch mean:
BP's autograd gradient of the batch-mean loss, FA's, and the local rules of DFC
(eq. 5 and 13 of the paper with their ``1/B``, DFC.md §1.4-1.5). Two rule-specific facts
are handled by the model contract (:class:`~neurosim.models.base.TrainableModel`):

* per-sample *targets* that depend on ``B``, the output target
  ``r_L* = r_L - (lambda / B) dL/dr_L`` of DFC and DFA (DFC.md §1.1): the model multiplies
  ``lambda`` by :attr:`~neurosim.models.base.TrainableModel.shard_fraction`;
* norm clipping is not linear in the update: a model that clips calls
  :meth:`~neurosim.models.base.TrainableModel.reduce_updates` first (DFC, BP/FA/DFA do).

Every other update is reduced by a pre-step hook on each of the model's optimisers
(``torch.optim.Optimizer.register_step_pre_hook``), so a new rule needs no code for
data-parallel training unless it clips or has batch-size dependent targets.

Metrics are reduced too: batch means (``loss``, ...) with the same weights, counts
(``errors``) summed; evaluation sums losses and errors over the shards of each chunk.
Every rank therefore holds the same metrics and, since all start from the same seed and
apply the same reduced update, the same weights.

Noise: rank ``r > 0`` draws its per-sample noise (the DFC sleep phase) from its own
stream (:meth:`~neurosim.models.base.TrainableModel.set_noise_stream`), so the shards of
one batch get independent noise, as a single process drawing for the whole batch would:
N processes reproduce the single-process run *statistically*, not bit for bit (the
noise-free parts agree to float rounding).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from neurosim.training.metrics import scalars

#: metrics that are counts over the batch (summed over the shards, not averaged)
COUNT_METRICS = ("errors",)


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of rank ``rank`` in a batch of ``n`` samples (sizes differ by at
    most one)."""
    return n * rank // world, n * (rank + 1) // world


def noise_stream(rank: int, resumed_at: int) -> int:
    """Noise stream of ``rank``: a 32-bit hash of (rank, resumption point), distinct per
    rank and per resumption so a resumed process does not replay the noise its stream
    drew before (32 bits: torch's CPU generator keeps only the low 32 bits of a seed)."""
    digest = hashlib.blake2b(f"neurosim-rank/{rank}/{resumed_at}".encode(), digest_size=4)
    return int.from_bytes(digest.digest(), "little")


class DataParallel:
    """This process's part in data-parallel training (the ``data_parallel`` argument of
    :func:`neurosim.training.train`).

    Parameters
    ----------
    rank, world
        This process's rank and the number of processes (an initialised
        ``torch.distributed`` process group).
    """

    def __init__(self, rank: int, world: int) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"DataParallel: rank {rank} is not in [0, {world})")
        self.rank, self.world = rank, world

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes the run directory (config, metrics, checkpoints, plots)."""
        return self.rank == 0

    def wrap(self, model: Any, resumed_at: int = 0) -> ShardedModel:
        """The model as the loop should see it: trains on this rank's shards.

        ``resumed_at`` (completed pre-training epochs + epochs) selects a fresh noise
        stream for ranks > 0 after a resume; rank 0 keeps the checkpointed one.
        """
        if self.rank > 0:
            model.set_noise_stream(noise_stream(self.rank, resumed_at))
        return ShardedModel(model, self.rank, self.world)


class ShardedModel:
    """A :class:`~neurosim.models.base.TrainableModel` seen through data-parallel
    training: ``train_batch`` and ``evaluate`` receive the global batch, compute on this
    rank's shard and return metrics reduced over all ranks; everything else (``forward``,
    ``state_dict``, ``optimizers``, ``diagnostics``, ...) is the model's own, so
    checkpoints are those of a single-process run."""

    def __init__(self, model: Any, rank: int, world: int) -> None:
        self.model, self.rank, self.world = model, rank, world
        self._fraction: float | None = None  # set while a train_batch runs
        self._reduced: list[Tensor] = []
        for opt in model.optimizers().values():
            opt.register_step_pre_hook(self._before_step)

    def __getattr__(self, name: str) -> Any:
        if "model" not in self.__dict__:  # during copy/unpickling
            raise AttributeError(name)
        return getattr(self.__dict__["model"], name)

    def __call__(self, x: Tensor) -> Tensor:
        return self.model(x)

    # -- training ---------------------------------------------------------------------
    def train_batch(self, x: Tensor, y: Tensor, phase: str) -> dict[str, float]:
        """``model.train_batch`` on this rank's shard of ``(x, y)``; metrics of the
        global batch."""
        lo, hi = shard_bounds(x.shape[0], self.rank, self.world)
        if hi <= lo:
            raise ValueError(
                f"data-parallel training: a minibatch of {x.shape[0]} samples cannot be "
                f"split over {self.world} processes; use fewer processes or larger batches"
            )
        fraction = (hi - lo) / x.shape[0]
        model = self.model
        self._fraction, self._reduced = fraction, []
        model.shard_fraction, model.update_reducer = fraction, self._reduce
        try:
            metrics = scalars(model.train_batch(x[lo:hi], y[lo:hi], phase))
        finally:
            model.shard_fraction, model.update_reducer = 1.0, None
            self._fraction, self._reduced = None, []
        return self._reduce_metrics(metrics, fraction)

    def _reduce(self, updates: Sequence[Tensor]) -> None:
        """``model.update_reducer``: weighted all-reduce in place, remembered so the
        pre-step hook does not reduce the same tensors again."""
        all_reduce_weighted(list(updates), self._fraction)
        self._reduced.extend(updates)

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """Optimiser pre-step hook: reduce the gradients not reduced yet."""
        if self._fraction is None:
            return  # a step outside train_batch is not a data-parallel step
        pending = [
            p.grad
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None and not any(p.grad is t for t in self._reduced)
        ]
        if pending:
            all_reduce_weighted(pending, self._fraction)
            self._reduced.extend(pending)

    def _reduce_metrics(self, metrics: dict[str, float], fraction: float) -> dict[str, float]:
        keys = sorted(metrics)
        weights = [1.0 if k in COUNT_METRICS else fraction for k in keys]
        vec = torch.tensor(
            [metrics[k] * w for k, w in zip(keys, weights, strict=True)],
            dtype=torch.float64,
            device=self._device(),
        )
        dist.all_reduce(vec)
        return dict(zip(keys, vec.tolist(), strict=True))

    # -- evaluation -------------------------------------------------------------------
    def evaluate(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Mean loss and error count of the global chunk ``(x, y)``, each rank
        evaluating its shard."""
        n = x.shape[0]
        lo, hi = shard_bounds(n, self.rank, self.world)
        loss_sum, errors = 0.0, 0.0
        if hi > lo:
            m = self.model.evaluate(x[lo:hi], y[lo:hi])
            loss_sum, errors = m["loss"] * (hi - lo), m.get("errors", 0.0)
        vec = torch.tensor([loss_sum, errors], dtype=torch.float64, device=self._device())
        dist.all_reduce(vec)
        out = {"loss": float(vec[0]) / n}
        if self.model.task.kind == "classification":
            out["errors"] = float(vec[1])
        return out

    def _device(self) -> torch.device:
        return next(iter(self.model.parameters())).device


def all_reduce_weighted(tensors: list[Tensor], weight: float | None) -> None:
    """In place: ``t <- sum over ranks of weight_r * t_r`` for every tensor, with one
    all-reduce per (dtype, device) group of tensors."""
    if weight is None:
        raise RuntimeError("all_reduce_weighted: called outside a data-parallel train_batch")
    groups: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for group in groups.values():
        flat = torch.cat([t.reshape(-1) for t in group]).mul_(weight)
        dist.all_reduce(flat)
        offset = 0
        for t in group:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()


__all__ = ["DataParallel", "ShardedModel", "all_reduce_weighted", "noise_stream", "shard_bounds"]
