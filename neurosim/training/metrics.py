"""Per-epoch metrics: ``metrics.jsonl`` and the best-validation summary.

Each line of ``metrics.jsonl`` is one JSON object. Training epochs carry
``phase="train"``, ``epoch`` (1-based), ``train_loss`` (mean over the forward pass's
minibatches of the batch loss before each update, as the reference), ``val_error``
/ ``test_error`` (classification, fractions) or ``val_loss`` / ``test_loss``,
``seconds`` and, with ``--diagnostics``, the model's diagnostics. Feedback
pre-training epochs (DFC App. F.2) carry ``phase="pretrain"`` and ``pretrain_epoch``.

The summary follows the paper's protocol: the reported test error is the one at the
epoch of lowest validation error (lowest validation loss for regression); without a
validation set, the last epoch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch


def write_jsonl(records: list[dict[str, Any]], path: str | Path) -> None:
    """(Re)write all ``records``, one JSON object per line."""
    with open(path, "w") as fh:
        for rec in records:
            fh.write(json.dumps(_jsonable(rec)) + "\n")


def append_jsonl(record: dict[str, Any], path: str | Path) -> None:
    """Append one record."""
    with open(path, "a") as fh:
        fh.write(json.dumps(_jsonable(record)) + "\n")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl`` file."""
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _jsonable(rec: dict[str, Any]) -> dict[str, Any]:
    """NaN/inf become strings so the file stays strict JSON."""
    out = {}
    for k, v in rec.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        out[k] = v
    return out


def schedule_position(rec: dict[str, Any], n_pretrain: int) -> int:
    """Position of a record on the run's one epoch axis: training epoch ``e`` at ``e``,
    feedback pre-training epoch ``k`` of ``n_pretrain`` at ``k - n_pretrain`` (``<= 0``).
    Used by the plots and as the TensorBoard step."""
    if rec.get("phase") == "pretrain":
        return int(rec["pretrain_epoch"]) - n_pretrain
    return int(rec["epoch"])


def summarize(records: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Best-validation summary of the training epochs in ``records``.

    Parameters
    ----------
    records
        Metrics records (``phase="pretrain"`` entries are ignored).
    kind
        ``"classification"`` (select on ``val_error``) or ``"regression"``
        (select on ``val_loss``).
    """
    epochs = [r for r in records if r.get("phase") == "train"]
    if not epochs:
        return {"epochs_completed": 0}
    key = "val_error" if kind == "classification" else "val_loss"
    with_val = [r for r in epochs if isinstance(r.get(key), (int, float))]
    if with_val:
        best = min(with_val, key=lambda r: r[key])
        selection = f"lowest {key}"
    else:
        best = epochs[-1]
        selection = "last epoch (no validation set)"
    last = epochs[-1]
    report = ("test_error", "test_loss", "val_error", "val_loss", "train_loss", "train_error")
    summary: dict[str, Any] = {
        "epochs_completed": last["epoch"],
        "selection": selection,
        "best_epoch": best["epoch"],
        "best": {k: best[k] for k in report if k in best},
        "final": {k: last[k] for k in report if k in last},
        "total_seconds": sum(r.get("seconds", 0.0) for r in records),
    }
    if kind == "classification" and "test_error" in best:
        summary["test_accuracy_at_best"] = 1.0 - best["test_error"]
    return summary


def write_summary(summary: dict[str, Any], path: str | Path) -> None:
    """Write ``summary.json``."""
    Path(path).write_text(json.dumps(_jsonable(summary), indent=2) + "\n")


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric scalar entries of a model's metrics (tensors of one element included)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
            out[k] = float(v)
    return out


def mean_records(records: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for r in records for k in r}
    return {k: float(np.mean([r[k] for r in records if k in r])) for k in sorted(keys)}
