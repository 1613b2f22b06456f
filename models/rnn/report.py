"""Summaries and figures of multi-seed experiments (records of :func:`run_rule`).

``runs`` everywhere maps a setting's label to its list of per-seed record lists
(``runs[label][seed_index][epoch] -> dict``). Statistics over seeds are the median and
the range (min, max): with 5 seeds a mean and standard deviation would hide the
diverged runs that the source itself reports (autapse_rnn_fa.md §1, C4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.training.sequences import draw_trajectory  # noqa: E402

Runs = dict[str, list[list[dict[str, Any]]]]


def curve(seed_runs: list[list[dict[str, Any]]], key: str) -> np.ndarray:
    """``(seeds, epochs + 1)`` array of ``key`` (NaN where missing or not finite)."""
    out = np.full((len(seed_runs), max(len(r) for r in seed_runs)), np.nan)
    for i, records in enumerate(seed_runs):
        for j, rec in enumerate(records):
            v = rec.get(key)
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[i, j] = v
    return out


def final(seed_runs: list[list[dict[str, Any]]], key: str) -> dict[str, float]:
    """Median, min and max over seeds of ``key`` at the last epoch (a NaN, i.e. a
    diverged run, counts as +inf); all NaN when no run recorded ``key``."""
    if not any(key in records[-1] for records in seed_runs):
        nan = float("nan")
        return {"median": nan, "min": nan, "max": nan, "values": [nan] * len(seed_runs)}
    values = np.array([_last(records, key) for records in seed_runs])
    values = np.where(np.isnan(values), np.inf, values)
    return {"median": float(np.median(values)), "min": float(values.min()),
            "max": float(values.max()), "values": values.tolist()}  # fmt: skip


def _last(records: list[dict[str, Any]], key: str) -> float:
    v = records[-1].get(key)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan


def fmt(stat: dict[str, float]) -> str:
    """``median [min, max]`` with 3 significant digits (``n/a``: not recorded)."""
    if math.isnan(stat["median"]):
        return "n/a"
    return f"{stat['median']:.3g} [{stat['min']:.3g}, {stat['max']:.3g}]"


def table(header: Sequence[str], rows: list[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plot_curves(
    runs: Runs,
    keys: Sequence[str],
    path: str | Path,
    title: str,
    log: bool = True,
    ylabel: str = "MSE",
) -> Path:
    """One panel per key: the median over seeds per setting, the seeds' range shaded."""
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for i, (label, seed_runs) in enumerate(runs.items()):
            y = curve(seed_runs, key)
            if np.all(np.isnan(y)):
                continue
            x = np.arange(y.shape[1])
            with np.errstate(all="ignore"):
                med = np.nanmedian(y, 0)
                lo, hi = np.nanmin(y, 0), np.nanmax(y, 0)
            ax.plot(x, med, color=f"C{i % 10}", label=label, lw=1.6)
            ax.fill_between(x, lo, hi, color=f"C{i % 10}", alpha=0.15, lw=0)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(key)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_predictions(
    panels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    path: str | Path,
    title: str,
) -> Path:
    """One panel per label: true (grey), predicted (orange) and, if given, the
    affine-corrected prediction (dashed blue) of one trajectory, each (T, 2)."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.6), squeeze=False)
    for ax, (label, (true, pred, corrected)) in zip(axes[0], panels.items(), strict=True):
        draw_trajectory(ax, true, pred, corrected)
        ax.set_title(label, fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
