"""Sequence tasks (``TaskSpec.sequence``): trajectories, their data options and plots.

A sequence task's samples are whole trajectories: the data set delivers rows (one per
time step, :func:`neurosim.data.synthetic.prediction_pairs`) and
``meta["sequence_shape"][split] = (sequences, steps)``; :func:`to_sequences` turns
them back into ``(sequences, steps, features)`` tensors, so that minibatches, subsets
and evaluation work on trajectories. :func:`data_options` checks a run config's
``data_options`` against the task's defaults (unknown keys, a prediction horizon that
does not fit in the trajectory), and :func:`plot_trajectories` draws predicted against
true trajectories at the end of a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from neurosim.training.config import ConfigError  # noqa: E402
from neurosim.training.tasks import TaskSpec  # noqa: E402


def data_options(spec: TaskSpec, given: dict[str, Any]) -> dict[str, Any]:
    """The task's default data options updated with ``given`` (a config's
    ``data_options``).

    Raises
    ------
    ConfigError
        For a key the task does not know, or (trajectories) a horizon that is not
        shorter than the trajectory.
    """
    unknown = sorted(set(given) - set(spec.data_options))
    if unknown:
        allowed = sorted(spec.data_options) or "none"
        raise ConfigError(
            f"dataset {spec.name!r}: unknown data_options {unknown}; allowed keys are {allowed}"
        )
    options = {**spec.data_options, **given}
    if "horizon" in options and "n_steps" in options:
        horizon, steps = options["horizon"], options["n_steps"]
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ConfigError(
                f"dataset {spec.name!r}: data_options horizon={horizon!r} must be an integer "
                ">= 1 (steps ahead to predict)"
            )
        if horizon >= steps:
            raise ConfigError(
                f"dataset {spec.name!r}: data_options horizon={horizon} is not shorter than "
                f"the trajectory (n_steps={steps} positions), so no step has a target; give "
                f"horizon < {steps} or longer trajectories (data_options n_steps > {horizon})"
            )
    return options


def to_sequences(X: Tensor, Y: Tensor, shape: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Rows ``(S*T, d)`` -> trajectories ``(S, T, d)`` (``shape = (S, T)``)."""
    S, T = (int(n) for n in shape)
    if X.shape[0] != S * T or Y.shape[0] != S * T:
        raise ValueError(
            f"to_sequences: {X.shape[0]} rows do not make {S} sequences of {T} steps; "
            "the data set's meta['sequence_shape'] does not match its arrays"
        )
    return X.reshape(S, T, -1), Y.reshape(S, T, -1)


@torch.no_grad()
def plot_trajectories(
    model: Any, X: Tensor, Y: Tensor, path: str | Path, title: str, n: int = 3
) -> Path:
    """True (``Y``) and predicted (``model(X)``) trajectories of the first ``n``
    sequences, in the plane of the first two features (e.g. a ball's x, y)."""
    n = min(n, X.shape[0])
    pred = model(X[:n]).detach().cpu()
    true = Y[:n].detach().cpu()
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    for i, ax in enumerate(axes[0]):
        draw_trajectory(ax, true[i], pred[i])
        ax.set_title(f"sequence {i}")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def draw_trajectory(ax: Any, true: Any, pred: Any, corrected: Any = None) -> None:
    """Draw one true (grey) and predicted (orange) trajectory ``(T, >=2)`` on ``ax``
    (start points as dots), and optionally a corrected prediction (dashed blue)."""
    ax.plot(true[:, 0], true[:, 1], "-", color="0.4", lw=1.5, label="true")
    ax.plot(pred[:, 0], pred[:, 1], "-", color="C1", lw=1.2, label="predicted")
    ax.plot(true[0, 0], true[0, 1], "o", color="0.4", ms=4)
    ax.plot(pred[0, 0], pred[0, 1], "o", color="C1", ms=4)
    if corrected is not None:
        ax.plot(corrected[:, 0], corrected[:, 1], "--", color="C0", lw=1.0,
                label="affine-corrected")  # fmt: skip
    ax.set_aspect("equal", adjustable="datalim")
