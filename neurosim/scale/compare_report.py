"""The outputs of ``neurosim compare``: the paper's table and the learning curves.

The reported value of a run is its task metric (``TaskSpec.metric``: test error for
classification, test loss for the regression sets, train loss for MNIST-train) at the
epoch of lowest validation error (lowest validation loss for regression; the last epoch
without a validation set) — the protocol of DFC Table 1, read from the run's
``summary.json``. Per model: mean ± sample standard deviation (``ddof=1``) over the
seeds that finished; diverged or failed runs are counted, not averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from neurosim.scale.tables import is_finite, write_csv  # noqa: E402
from neurosim.scale.trials import TrialInfo  # noqa: E402
from neurosim.training.metrics import read_jsonl  # noqa: E402
from neurosim.training.tasks import get_task_spec  # noqa: E402


@dataclass
class CompareResult:
    """Per-run rows, per-model rows (``mean``, ``std``, ``n``) and the files written."""

    runs: list[dict[str, Any]]
    models: list[dict[str, Any]]
    files: dict[str, Path]
    table_text: str
    complete: bool = True  # False: interrupted (Ctrl-C) before every run ended


def collect_runs(plan: Any, out: Path) -> list[dict[str, Any]]:
    """One row per (model, seed) of the plan, from its run directory."""
    metric = get_task_spec(plan.dataset).metric
    rows = []
    for model in plan.models:
        for seed in plan.seeds:
            run_dir = out / "runs" / model / f"seed{seed}"
            rows.append(_run_row(model, seed, run_dir, metric))
    return rows


def _run_row(model: str, seed: int, run_dir: Path, metric: str) -> dict[str, Any]:
    info = TrialInfo(run_dir).read()
    summary_path = run_dir / "summary.json"
    summary = _read_json(summary_path) if summary_path.is_file() else {}
    status = info.get("status", "missing")
    value = summary.get("best", {}).get(metric, math.nan)
    return {
        "model": model,
        "seed": seed,
        "status": status,
        metric: value if status == "finished" else math.nan,
        "best_epoch": summary.get("best_epoch"),
        "epochs": summary.get("epochs_completed", 0),
        "seconds": round(summary.get("total_seconds", 0.0), 2),
        "run_dir": str(run_dir),
    }


def summarize_models(runs: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Mean ± std (ddof=1) of ``metric`` per model over its finished runs."""
    out = []
    for model in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == model]
        values = np.array([r[metric] for r in mine if is_finite(r[metric])], dtype=float)
        out.append(
            {
                "model": model,
                "n": len(values),
                "runs": len(mine),
                "not_finished": sum(r["status"] != "finished" for r in mine),
                "mean": float(values.mean()) if len(values) else math.nan,
                "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                "values": [float(v) for v in values],
            }
        )
    return out


def write_outputs(plan: Any, out: Path, seconds: float) -> CompareResult:
    """Write ``runs.csv``, ``table.csv``, ``table.md`` and ``learning_curves.png``."""
    spec = get_task_spec(plan.dataset)
    runs = collect_runs(plan, out)
    models = summarize_models(runs, spec.metric)
    files = {
        "runs": write_csv(runs, out / "runs.csv"),
        "table_csv": write_csv(
            [{**m, "values": " ".join(f"{v:.6g}" for v in m["values"])} for m in models],
            out / "table.csv",
        ),
    }
    text = table_markdown(models, plan, spec.metric, seconds)
    files["table_md"] = out / "table.md"
    files["table_md"].write_text(text)
    files["figure"] = plot_learning_curves(plan, out, out / "learning_curves.png")
    return CompareResult(runs=runs, models=models, files=files, table_text=text)


def table_markdown(models: list[dict[str, Any]], plan: Any, metric: str, seconds: float) -> str:
    """DFC Table 1 style: one row per model, ``mean ± std`` of the reported metric."""
    percent = metric.endswith("_error")
    label = metric.replace("_", " ") + (" (%)" if percent else "")
    scale = 100.0 if percent else 1.0
    epochs = plan.overrides.get("epochs")
    lines = [
        f"# {plan.dataset}: {', '.join(plan.models)}",
        "",
        f"{label} at the epoch of best validation (the last epoch for runs without a "
        f"validation set), mean ± std (ddof=1) over seeds {list(plan.seeds)}"
        + (f"; {epochs} epochs" if epochs is not None else "; each model's configured epochs")
        + (f"; overrides {plan.overrides}" if plan.overrides else "")
        + f". Wall time of the grid: {seconds:.0f} s.",
        "",
        f"| model | {label} | seeds | not finished |",
        "|---|---|---|---|",
    ]
    for m in models:
        if m["n"] == 0:
            cell = "—"
        elif m["n"] == 1:
            cell = f"{scale * m['mean']:.4g}"
        else:
            cell = f"{scale * m['mean']:.4g} ± {scale * m['std']:.2g}"
        lines.append(f"| {m['model']} | {cell} | {m['n']} | {m['not_finished']} |")
    return "\n".join(lines) + "\n"


def plot_learning_curves(plan: Any, out: Path, path: Path) -> Path:
    """Per model: mean over seeds (line) and ±1 std (band) of the test metric and of
    the training loss against the epoch."""
    spec = get_task_spec(plan.dataset)
    test_key = "test_error" if spec.kind == "classification" else "test_loss"
    fig, (ax_test, ax_train) = plt.subplots(1, 2, figsize=(11, 4))
    for model in plan.models:
        curves = [_curve(out / "runs" / model / f"seed{s}") for s in plan.seeds]
        for ax, key, scale in ((ax_test, test_key, 100.0 if test_key == "test_error" else 1.0),
                               (ax_train, "train_loss", 1.0)):  # fmt: skip
            epochs, mean, std = _band([c.get(key, {}) for c in curves])
            if not epochs:
                continue
            (line,) = ax.plot(epochs, scale * mean, marker=".", label=model)
            ax.fill_between(epochs, scale * (mean - std), scale * (mean + std),
                            color=line.get_color(), alpha=0.2)  # fmt: skip
    ax_test.set_ylabel(
        f"{test_key.replace('_', ' ')}" + (" (%)" if spec.kind == "classification" else "")
    )
    ax_train.set_ylabel("train loss")
    ax_train.set_yscale("log")
    for ax in (ax_test, ax_train):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.legend()
    fig.suptitle(f"{plan.dataset}: mean ± std over {len(plan.seeds)} seed(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _curve(run_dir: Path) -> dict[str, dict[int, float]]:
    """metric -> {epoch: value} of one run."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    out: dict[str, dict[int, float]] = {}
    for rec in read_jsonl(path):
        if rec.get("phase") != "train":
            continue
        for key, value in rec.items():
            if is_finite(value):
                out.setdefault(key, {})[int(rec["epoch"])] = float(value)
    return out


def _band(curves: list[dict[int, float]]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Epochs present in any run, with the mean and std (ddof=0: the band of what was
    seen) over the runs that have each epoch."""
    epochs = sorted({e for c in curves for e in c})
    mean = np.array([np.mean([c[e] for c in curves if e in c]) for e in epochs])
    std = np.array([np.std([c[e] for c in curves if e in c]) for e in epochs])
    return epochs, mean, std


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text())


__all__ = ["CompareResult", "collect_runs", "summarize_models", "table_markdown", "write_outputs"]
