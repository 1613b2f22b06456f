"""Data for a training run: tensors on the run's device, the task and the batch order.

:func:`prepare_data` turns a :class:`neurosim.data.Dataset` into :class:`TrainingData`
(inputs in the run's dtype, targets = labels, regression targets, or the inputs for
the autoencoder), applies ``subset`` and builds the :class:`~neurosim.models.base.Task`.
:func:`batches` yields shuffled minibatches from a seeded ``torch.Generator`` whose
state is checkpointed, so the seed fixes the data order and a resumed run continues it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neurosim.models.base import Task
from neurosim.training.config import RunConfig
from neurosim.training.sequences import data_options, to_sequences
from neurosim.training.tasks import TaskSpec, get_task_spec


@dataclass
class TensorSplit:
    """Inputs ``X`` (N, d) and targets ``Y`` (labels (N,) or targets (N, k))."""

    X: Tensor
    Y: Tensor

    def __len__(self) -> int:
        return int(self.X.shape[0])


@dataclass
class TrainingData:
    """Everything the loop needs from the data set."""

    task: Task
    spec: TaskSpec
    train: TensorSplit
    val: TensorSplit | None
    test: TensorSplit
    meta: dict[str, Any]


def load_for_config(cfg: RunConfig, download: bool = True) -> Any:
    """Load the :class:`neurosim.data.Dataset` behind ``cfg.dataset``."""
    from neurosim.data import load_dataset

    spec = get_task_spec(cfg.dataset)
    return load_dataset(
        spec.source,
        data_dir=cfg.data_dir,
        val_size=cfg.val_size,
        split_seed=42,
        download=download,
        **data_options(spec, cfg.data_options),
    )


def prepare_data(dataset: Any, cfg: RunConfig, device: torch.device) -> TrainingData:
    """Convert ``dataset`` (with ``train``/``val``/``test`` splits of numpy ``X``, ``y``
    and a ``meta`` dict) into tensors for the run ``cfg``.

    Raises
    ------
    ValueError
        If ``subset`` exceeds the training set, or labels/targets do not fit the task.
    """
    spec = get_task_spec(cfg.dataset)
    dtype = getattr(torch, cfg.dtype)
    # sequence tasks: (sequences, steps, features), so batches and subsets are trajectories
    shapes = dataset.meta["sequence_shape"] if spec.sequence else {}
    train = _split(dataset.train, spec, dtype, device, shapes.get("train"))
    if cfg.subset is not None:
        if cfg.subset > len(train):
            raise ValueError(
                f"subset={cfg.subset} exceeds the {len(train)} training samples of "
                f"{cfg.dataset!r}; use a smaller --subset"
            )
        train = TensorSplit(train.X[: cfg.subset], train.Y[: cfg.subset])
    val = _split(dataset.val, spec, dtype, device, shapes.get("val")) if dataset.val else None
    if val is not None and len(val) == 0:
        val = None
    test = _split(dataset.test, spec, dtype, device, shapes.get("test"))
    n_in = int(train.X.shape[-1])
    if spec.kind == "classification":
        meta_classes = dict(getattr(dataset, "meta", {}) or {}).get("n_classes")
        n_out = int(meta_classes) if meta_classes else int(train.Y.max()) + 1
        for name, split in (("train", train), ("val", val), ("test", test)):
            if split is not None and (int(split.Y.min()) < 0 or int(split.Y.max()) >= n_out):
                raise ValueError(
                    f"{cfg.dataset}: {name} labels must lie in [0, {n_out}); got "
                    f"[{int(split.Y.min())}, {int(split.Y.max())}]"
                )
    else:
        n_out = int(train.Y.shape[-1])
    task = Task(kind=spec.kind, n_in=n_in, n_out=n_out)
    meta = dict(getattr(dataset, "meta", {}) or {})
    return TrainingData(task=task, spec=spec, train=train, val=val, test=test, meta=meta)


def _split(
    split: Any, spec: TaskSpec, dtype: torch.dtype, device: torch.device, shape: Any = None
) -> TensorSplit:
    X = torch.as_tensor(np.asarray(split.X)).to(device=device, dtype=dtype)
    if spec.autoencoder:
        return TensorSplit(X, X)
    y = torch.as_tensor(np.asarray(split.y))
    if spec.kind == "classification":
        if y.ndim != 1 or y.is_floating_point():
            raise ValueError(
                f"{spec.name}: classification needs integer labels of shape (N,), got "
                f"{tuple(y.shape)} {y.dtype}"
            )
        return TensorSplit(X, y.to(device=device, dtype=torch.int64))
    if y.ndim == 1:
        y = y[:, None]
    y = y.to(device=device, dtype=dtype)
    return TensorSplit(*to_sequences(X, y, shape)) if shape is not None else TensorSplit(X, y)


def n_batches(n: int, batch_size: int) -> int:
    """Number of minibatches of one pass (the last one may be smaller)."""
    return -(-n // batch_size)


def batches(
    split: TensorSplit, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[Tensor, Tensor]]:
    """One shuffled pass over ``split``; the permutation is drawn from ``generator``
    (CPU) when the pass starts."""
    order = torch.randperm(len(split), generator=generator).to(split.X.device)
    for start in range(0, len(split), batch_size):
        idx = order[start : start + batch_size]
        yield split.X[idx], split.Y[idx]


@torch.no_grad()
def evaluate(model: Any, split: TensorSplit, chunk: int = 2048) -> dict[str, float]:
    """Sample-mean ``loss`` and (classification) error fraction ``error`` of the
    feedforward output on ``split``, evaluated in chunks."""
    total_loss, total_err, n = 0.0, 0.0, len(split)
    for start in range(0, n, chunk):
        x, y = split.X[start : start + chunk], split.Y[start : start + chunk]
        m = model.evaluate(x, y)
        total_loss += m["loss"] * x.shape[0]
        total_err += m.get("errors", 0.0)
    out = {"loss": total_loss / n}
    if model.task.kind == "classification":
        out["error"] = total_err / n
    return out
