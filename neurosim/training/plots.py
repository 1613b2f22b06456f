"""Figures of a training run (matplotlib, non-interactive ``Agg`` backend).

* ``learning_curves.png``: loss and classification error per training epoch
  (training, validation, test) and, for models that learn feedback weights, the
  feedback metrics over the feedback pre-training epochs (shaded) and the epochs.
* ``diagnostics.png``: every other metric the model reported (alignment angles,
  conditions 1-2, stability, convergence, ...), one panel per quantity.
* ``reconstructions.png``: autoencoder test images and their reconstructions.

Every ``*_figure`` function returns the :class:`matplotlib.figure.Figure` (for a
notebook or a paper; close it when done), every ``plot_*`` function saves it and
closes it. Conventions: one epoch axis for the whole schedule, training epoch ``e``
at ``e`` and feedback pre-training epoch ``k`` of ``n`` at ``k - n`` (``<= 0``, shaded);
integer epoch ticks; each axis names its quantity and unit
(:mod:`neurosim.training.metric_labels`); a log y axis only where the values span a
factor of 10 or more, with plain-number ticks at 1, 2 and 5 per decade.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from neurosim.training.metric_labels import (  # noqa: E402
    MODEL_TIME_NOTE,
    legend_entry,
    metric_label,
)
from neurosim.training.metrics import schedule_position  # noqa: E402

_STANDARD = {
    "phase", "epoch", "pretrain_epoch", "seconds", "train_loss", "train_error",
    "val_loss", "val_error", "test_loss", "test_error",
}  # fmt: skip
_SPLITS = (("train", "training"), ("val", "validation"), ("test", "test"))
LOSS_LABELS = {
    "classification": "cross-entropy loss (nats, mean over samples)",
    "regression": "mean squared error (per output element)",
}
DPI = 150


# -- learning curves -----------------------------------------------------------------
def learning_curves_figure(
    records: list[dict[str, Any]], title: str, kind: str = "classification"
) -> Figure:
    """Loss, error (classification) and feedback metrics against the epoch.

    Parameters
    ----------
    records
        The run's ``metrics.jsonl`` records (pre-training and training epochs).
    title
        Names the model and data set, e.g. ``"dfc-ssa on mnist (torch, float64)"``.
    kind
        ``"classification"`` or ``"regression"`` (the loss's name).
    """
    n_pre = _n_pretrain(records)
    rows = [r for r in records if r.get("phase") == "train"]
    panels = ["loss"]
    if any(isinstance(r.get(f"{s}_error"), float) for r in rows for s, _ in _SPLITS):
        panels.append("error")
    fb_keys = sorted({k for r in records for k in r if k.startswith("fb_") and _num(r[k])})
    if fb_keys:
        panels.append("feedback")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.9), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=True):
        if panel == "feedback":
            _draw_keys(ax, records, fb_keys, n_pre)
            ax.set_title(metric_label(fb_keys[0]).panel, fontsize=10)
            _epoch_axis(ax, n_pre)
            continue
        for split, name in _SPLITS:
            _draw(ax, rows, f"{split}_{panel}", name, 0, 100.0 if panel == "error" else 1.0)
        ax.set_ylabel(LOSS_LABELS.get(kind, "loss") if panel == "loss" else "error (%)")
        ax.set_title("loss" if panel == "loss" else "classification error", fontsize=10)
        _readable_y(ax, prefer_log=True)
        _epoch_axis(ax, n_pre=0)
    for ax in axes.flat:
        if len(ax.lines) > 1:
            ax.legend(fontsize=8)
    return _finish(fig, title)


def plot_learning_curves(
    records: list[dict[str, Any]], path: str | Path, title: str, kind: str = "classification"
) -> Path:
    """Save :func:`learning_curves_figure` to ``path``."""
    return _save(learning_curves_figure(records, title, kind), path)


# -- diagnostics ---------------------------------------------------------------------
def diagnostic_keys(records: list[dict[str, Any]]) -> list[str]:
    """Numeric keys of the training records that are diagnostics (not the losses,
    errors and timing, nor the feedback metrics of the learning curves)."""
    keys = {
        k
        for r in records
        if r.get("phase") == "train"
        for k, v in r.items()
        if k not in _STANDARD and not k.startswith("fb_") and _num(v)
    }
    return sorted(keys)


def diagnostics_figure(records: list[dict[str, Any]], title: str) -> Figure | None:
    """One panel per quantity (:func:`metric_label`'s ``panel``), one line per metric;
    ``None`` when there are no diagnostics."""
    keys = diagnostic_keys(records)
    if not keys:
        return None
    panels: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        panels[metric_label(k).panel].append(k)
    n = len(panels)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.7 * nrows), squeeze=False)
    for ax, (panel, members) in zip(axes.flat, sorted(panels.items()), strict=False):
        _draw_keys(ax, [r for r in records if r.get("phase") == "train"], members, 0)
        ax.set_title(panel, fontsize=10)
        _epoch_axis(ax, n_pre=0)
        if len(members) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if any(metric_label(k).model_time for k in keys):
        fig.text(0.01, 0.005, MODEL_TIME_NOTE, fontsize=7, color="0.35")
    return _finish(fig, title)


def plot_diagnostics(records: list[dict[str, Any]], path: str | Path, title: str) -> Path | None:
    """Save :func:`diagnostics_figure` to ``path``; ``None`` when there are no diagnostics."""
    fig = diagnostics_figure(records, title)
    return None if fig is None else _save(fig, path)


# -- reconstructions -----------------------------------------------------------------
@torch.no_grad()
def reconstructions_figure(model: Any, X: torch.Tensor, title: str, n: int = 8) -> Figure:
    """First ``n`` test inputs (top row) and the model's outputs (bottom row) as square
    images on one colour scale (the inputs' range), with its colour bar."""
    x = X[:n]
    out = model(x).detach().cpu().numpy()
    x = x.cpu().numpy()
    side = int(round(x.shape[1] ** 0.5))
    mse = float(((out - x) ** 2).mean())
    lo, hi = float(x.min()), float(x.max())
    fig, axes = plt.subplots(2, len(x), figsize=(1.3 * len(x) + 1.2, 3.2), squeeze=False)
    for j in range(len(x)):
        for row, img in ((0, x[j]), (1, out[j])):
            image = axes[row, j].imshow(img.reshape(side, side), cmap="gray", vmin=lo, vmax=hi)
            axes[row, j].set_xticks([])
            axes[row, j].set_yticks([])
    axes[0, 0].set_ylabel("test input", fontsize=8)
    axes[1, 0].set_ylabel("reconstruction", fontsize=8)
    bar = fig.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
    bar.set_label("pixel value (normalised input units)", fontsize=8)
    fig.suptitle(f"{title}: MSE of these {len(x)} images {mse:.3g}", fontsize=10)
    return fig


def plot_reconstructions(
    model: Any, X: torch.Tensor, path: str | Path, title: str = "reconstructions", n: int = 8
) -> Path:
    """Save :func:`reconstructions_figure` to ``path``."""
    return _save(reconstructions_figure(model, X, title, n), path)


# -- helpers -------------------------------------------------------------------------
def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _n_pretrain(records: list[dict[str, Any]]) -> int:
    return max((int(r["pretrain_epoch"]) for r in records if r.get("phase") == "pretrain"),
               default=0)  # fmt: skip


def _draw(
    ax: Axes, records: list[dict[str, Any]], key: str, label: str, n_pre: int, scale: float = 1.0
) -> None:
    """One line of ``key`` against the schedule position (skipped when absent)."""
    pts = [(schedule_position(r, n_pre), scale * r[key]) for r in records if _num(r.get(key))]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=label)


def _draw_keys(ax: Axes, records: list[dict[str, Any]], keys: list[str], n_pre: int) -> None:
    """Lines of several metrics that share a quantity; axis label from the first."""
    for k in keys:
        _draw(ax, records, k, legend_entry(k), n_pre)
    label = metric_label(keys[0])
    ax.set_ylabel(label.ylabel)
    _readable_y(ax, prefer_log=label.log)


def _epoch_axis(ax: Axes, n_pre: int) -> None:
    """Integer epoch ticks; the feedback pre-training epochs (``<= 0``) shaded."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # one epoch: tick 1
    if n_pre:
        ax.axvspan(0.5 - n_pre, 0.5, color="0.85", zorder=0)
        ax.text(0.5 - n_pre / 2, 0.02, "feedback\npre-training", transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=7, color="0.3")  # fmt: skip
        ax.set_xlabel("epoch (<= 0: feedback pre-training)")
    else:
        ax.set_xlabel("epoch")


def _readable_y(ax: Axes, prefer_log: bool) -> None:
    """Log y axis when asked and the data span a factor >= 10 (ticks 1, 2, 5 per decade
    as plain numbers); linear otherwise."""
    values = [v for line in ax.lines for v in line.get_ydata() if v == v]
    if not (prefer_log and values and min(values) > 0 and max(values) >= 10 * min(values)):
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _finish(fig: Figure, title: str) -> Figure:
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)
