"""Where the per-epoch metric records go: ``metrics.jsonl``, ``metrics.csv`` and,
with ``tensorboard=True`` (``neurosim train --tensorboard``), TensorBoard event files.

A :class:`MetricWriters` is started with the records a run already has (none, or the
resumed checkpoint's), then given each new record; the JSONL and CSV files are
rewritten from the records on start, so work discarded by an interrupt never shows.

TensorBoard (``torch.utils.tensorboard``, optional dependency ``tensorboard``:
``pip install "neurosim[tensorboard]"``) gets every numeric metric in
``RUN/tensorboard/``. One step axis serves the whole schedule: training epoch ``e``
is step ``e``, feedback pre-training epoch ``k`` of ``n`` is step ``k - n`` (``<= 0``),
as in the plots. Losses and errors are grouped (``loss/train``, ``error/val``, ...),
diagnostics keep their names (``angle_bp/layer1``); on resume, events past the
checkpoint are purged (``SummaryWriter(purge_step=...)``).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from neurosim.training import metrics as mlog

#: the first columns of ``metrics.csv``; the other keys follow in order of appearance
_LEADING = ("phase", "epoch", "pretrain_epoch")


class TensorBoardUnavailableError(ImportError):
    """``tensorboard=True`` was asked for but the ``tensorboard`` package is missing."""


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can be imported (needs ``tensorboard``)."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def require_tensorboard() -> None:
    """Raise :class:`TensorBoardUnavailableError` with the fix when it is missing."""
    if not tensorboard_available():
        raise TensorBoardUnavailableError(
            "TensorBoard logging was requested (--tensorboard / tensorboard=True) but the "
            "'tensorboard' package is not installed; install it with "
            'pip install "neurosim[tensorboard]" (or pip install tensorboard), '
            "or drop --tensorboard"
        )


def write_csv(records: list[dict[str, Any]], path: str | Path) -> None:
    """(Re)write ``records`` as CSV: one row per record, one column per key that any
    record has (``phase``, ``epoch``, ``pretrain_epoch`` first), empty where a record
    lacks the key. Written to a temporary file and renamed (never half a file)."""
    columns = [k for k in _LEADING if any(k in r for r in records)]
    for rec in records:
        columns += [k for k in rec if k not in columns]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for rec in records:
            writer.writerow(rec)
    os.replace(tmp, path)


def tensorboard_tag(key: str) -> str:
    """``train_loss`` -> ``loss/train``, ``val_error`` -> ``error/val``,
    ``seconds`` -> ``time/seconds_per_epoch``; other keys unchanged."""
    split, _, quantity = key.partition("_")
    if split in ("train", "val", "test") and quantity in ("loss", "error"):
        return f"{quantity}/{split}"
    if key == "seconds":
        return "time/seconds_per_epoch"
    return key


class MetricWriters:
    """Writes the records of one run to every sink (see the module docstring).

    Parameters
    ----------
    out
        Run directory.
    n_pretrain
        Feedback pre-training epochs of the schedule (TensorBoard step offset).
    tensorboard
        Also write TensorBoard event files to ``out / "tensorboard"``.
    """

    def __init__(self, out: Path, n_pretrain: int, tensorboard: bool = False) -> None:
        if tensorboard:
            require_tensorboard()
        self.out, self.n_pretrain, self.tensorboard = out, n_pretrain, tensorboard
        self.records: list[dict[str, Any]] = []
        self._tb: Any = None

    @property
    def jsonl_path(self) -> Path:
        return self.out / "metrics.jsonl"

    @property
    def csv_path(self) -> Path:
        return self.out / "metrics.csv"

    def start(self, records: list[dict[str, Any]]) -> None:
        """Rewrite the files from ``records`` (a resumed run's); open TensorBoard."""
        self.records = list(records)
        mlog.write_jsonl(self.records, self.jsonl_path)
        write_csv(self.records, self.csv_path)
        if self.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = mlog.schedule_position(records[-1], self.n_pretrain) + 1 if records else None
            self._tb = SummaryWriter(log_dir=str(self.out / "tensorboard"), purge_step=purge)

    def add(self, rec: dict[str, Any]) -> None:
        """Append one record to every sink."""
        self.records.append(rec)
        mlog.append_jsonl(rec, self.jsonl_path)
        write_csv(self.records, self.csv_path)
        if self._tb is not None:
            step = mlog.schedule_position(rec, self.n_pretrain)
            for key, value in rec.items():
                if key in _LEADING or isinstance(value, bool):
                    continue
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(tensorboard_tag(key), value, step)
            self._tb.flush()

    def close(self) -> None:
        """Close the TensorBoard writer (the files are complete after every :meth:`add`)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


__all__ = [
    "MetricWriters",
    "TensorBoardUnavailableError",
    "require_tensorboard",
    "tensorboard_available",
    "tensorboard_tag",
    "write_csv",
]
