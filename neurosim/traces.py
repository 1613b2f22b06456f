"""Recorded traces on disk and in a figure: ``traces.npz`` and ``traces.png``.

``neurosim simulate`` and the examples write traces the same way:

* :func:`save_traces`: one ``(T, batch, n)`` array per variable (its IR name), plus
  ``t`` (the time of each row, model time units), ``dt`` and, for a variable recorded
  every ``k > 1`` steps, its own time vector ``t[<var>]``;
* :func:`plot_traces`: one panel per population, one colour per variable (every unit
  of it, sample 0), one legend entry per variable, time in model time units on the
  x-axis, a title naming the circuit and the backend.

Time is dimensionless in the rate models (the DFC paper's units: a soma with
``tau_v = 0.2`` relaxes in 0.2 time units); so are voltages and rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: x-axis label of every trace plot: the unit, explained once.
TIME_LABEL = "time t (model time units: dimensionless, the unit of every tau and of dt)"
#: y-axis quantity by compartment suffix of the variable name.
QUANTITY = {
    "r": "rate r",
    "v": "voltage v",
    "e": "error e",
    "u": "control u",
}


def time_vector(rows: int, dt: float, every: int = 1) -> np.ndarray:
    """Times of trace rows ``0, every, 2 every, ...``: ``k * every * dt``."""
    return np.arange(rows) * every * dt


def save_traces(
    path: Path, traces: Mapping[str, np.ndarray], dt: float, every: Mapping[str, int] | None = None
) -> None:
    """Write ``traces`` with ``t``, ``dt`` (and ``t[<var>]`` for subsampled variables)."""
    every = dict(every or {})
    arrays = {k: np.asarray(v) for k, v in traces.items()}
    full = [v.shape[0] for k, v in arrays.items() if every.get(k, 1) == 1]
    rows = max(full) if full else 0
    extra: dict[str, np.ndarray] = {"t": time_vector(rows, dt), "dt": np.asarray(dt)}
    for k, v in arrays.items():
        if every.get(k, 1) != 1:
            extra[f"t[{k}]"] = time_vector(v.shape[0], dt, every[k])
    np.savez(path, **arrays, **extra)


def quantity(var: str) -> str:
    """``"voltage v"`` etc. for a variable name ``pop.comp``."""
    comp = var.split(".", 1)[-1]
    base = comp.split("_", 1)[0]
    return QUANTITY.get(base, comp)


def trace_figure(
    traces: Mapping[str, np.ndarray],
    dt: float,
    title: str,
    every: Mapping[str, int] | None = None,
    sample: int = 0,
):
    """The figure of :func:`plot_traces` (a ``matplotlib.figure.Figure``)."""
    from matplotlib.figure import Figure

    every = dict(every or {})
    pops = sorted({k.split(".")[0] for k in traces})
    fig = Figure(figsize=(8, 1.2 + 2.2 * len(pops)))
    axes = fig.subplots(len(pops), 1, squeeze=False, sharex=True)
    colours = [f"C{i}" for i in range(10)]
    for ax, pop in zip(axes[:, 0], pops, strict=True):
        names = [k for k in traces if k.split(".")[0] == pop]
        for i, k in enumerate(names):
            v = np.asarray(traces[k])[:, sample, :]
            t = time_vector(v.shape[0], dt, every.get(k, 1))
            colour = colours[i % len(colours)]
            ax.plot(t, v, lw=0.8, color=colour, alpha=0.85)
            ax.plot([], [], color=colour, label=f"{k} ({v.shape[1]} units)")
        ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
        quantities = sorted({quantity(k) for k in names})
        ax.set_ylabel(f"{pop}: {', '.join(quantities)}\n(dimensionless)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(TIME_LABEL)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_traces(
    traces: Mapping[str, np.ndarray],
    dt: float,
    path: Path,
    title: str,
    every: Mapping[str, int] | None = None,
    sample: int = 0,
) -> None:
    """One panel per population with every recorded variable of it (``sample``), saved
    to ``path``: one colour and one legend entry per variable, time in model time
    units, ``title`` naming the circuit and the backend."""
    trace_figure(traces, dt, title, every, sample).savefig(path, dpi=110)
