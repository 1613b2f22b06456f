"""PNG plots of a training run (matplotlib, non-interactive ``Agg`` backend).

* ``learning_curves.png``: training loss and validation/test error (or loss) per epoch.
* ``diagnostics.png``: every diagnostic the model reported (alignment angles,
  conditions 1-2, stability, ...) over training, one panel per group.
* ``reconstructions.png``: autoencoder test images and their reconstructions.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

_STANDARD = {
    "phase", "epoch", "pretrain_epoch", "seconds", "train_loss", "train_error",
    "val_loss", "val_error", "test_loss", "test_error",
}  # fmt: skip


def plot_learning_curves(records: list[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Training loss (log scale) and val/test error or loss against the epoch."""
    rows = [r for r in records if r.get("phase") == "train"]
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("train_loss", "val_loss", "test_loss"):
        values = [r.get(key) for r in rows]
        if any(isinstance(v, float) for v in values):
            ax_loss.plot(epochs, values, marker=".", label=key)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    for key in ("train_error", "val_error", "test_error"):
        values = [100 * r[key] if isinstance(r.get(key), float) else None for r in rows]
        if any(v is not None for v in values):
            ax_err.plot(epochs, values, marker=".", label=key)
    ax_err.set_xlabel("epoch")
    ax_err.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_err.set_ylabel("error (%)")
    if ax_err.lines:
        ax_err.legend()
    else:
        ax_err.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def diagnostic_keys(records: list[dict[str, Any]]) -> list[str]:
    """Numeric keys of the training records that are diagnostics."""
    keys = {
        k
        for r in records
        if r.get("phase") == "train"
        for k, v in r.items()
        if k not in _STANDARD and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return sorted(keys)


def plot_diagnostics(records: list[dict[str, Any]], path: str | Path, title: str) -> Path | None:
    """One panel per diagnostic group (``angle_bp/layer1`` belongs to ``angle_bp``);
    ``None`` when there are no diagnostics."""
    keys = diagnostic_keys(records)
    if not keys:
        return None
    groups: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        groups[k.split("/")[0]].append(k)
    rows = [r for r in records if r.get("phase") == "train"]
    n = len(groups)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.5 * nrows), squeeze=False)
    for ax, (group, members) in zip(axes.flat, sorted(groups.items()), strict=False):
        for k in members:
            pts = [(r["epoch"], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=k.split("/")[-1])
        ax.set_title(group)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if group.startswith("angle"):
            ax.set_ylabel("degrees")
        if len(members) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


@torch.no_grad()
def plot_reconstructions(model: Any, X: torch.Tensor, path: str | Path, n: int = 8) -> Path:
    """First ``n`` inputs (top) and the model's outputs (bottom) as 28x28 images."""
    x = X[:n]
    out = model(x).detach().cpu().numpy()
    x = x.cpu().numpy()
    side = int(round(x.shape[1] ** 0.5))
    fig, axes = plt.subplots(2, len(x), figsize=(1.4 * len(x), 3), squeeze=False)
    for j in range(len(x)):
        for row, img in ((0, x[j]), (1, out[j])):
            axes[row, j].imshow(img.reshape(side, side), cmap="gray")
            axes[row, j].axis("off")
    axes[0, 0].set_title("input", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
