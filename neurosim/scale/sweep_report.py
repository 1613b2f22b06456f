"""What a sweep leaves behind: the trial table (CSV), the summary (Markdown, also
printed), the best configuration (YAML) and two plots.

Rows are read from the trials' own run directories (``trial.json``, ``config.yaml``,
``metrics.jsonl``), so the table is the same after any number of resumptions; Tune's
result grid only adds trials that failed before writing anything.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from neurosim.scale.sweep_spec import SweepSpec  # noqa: E402
from neurosim.scale.tables import cell, is_finite, write_csv  # noqa: E402
from neurosim.scale.trials import TrialInfo  # noqa: E402
from neurosim.training.config import load_config  # noqa: E402
from neurosim.training.metrics import read_jsonl  # noqa: E402
from neurosim.training.tasks import get_task_spec  # noqa: E402

STATUSES = ("finished", "stopped early", "diverged", "failed", "unfinished", "interrupted")


#: row statuses of trials that ``--resume`` continues
NOT_ENDED = ("unfinished", "interrupted")


def collect_rows(
    grid: Any, spec: SweepSpec, job: Any, interrupted: Collection[str] = ()
) -> list[dict[str, Any]]:
    """One row per trial, in the order the trials started; a trial in ``interrupted``
    (cut short by Ctrl-C) that had not finished is ``"interrupted"``, not ``"stopped
    early"`` (inside the trial both stops look alike)."""
    runs = Path(job.runs_dir)
    infos = [(d, TrialInfo(d).read()) for d in sorted(runs.glob("*")) if d.is_dir()]
    infos = sorted((x for x in infos if x[1]), key=lambda x: x[1].get("started", 0.0))
    metric = get_task_spec(spec.dataset).metric
    rows = [_row(d, info, spec, metric) for d, info in infos]
    for row in rows:
        if row["trial_id"] in interrupted and row["status"] != "finished":
            row["status"] = "interrupted"
    seen = {r["trial_id"] for r in rows}
    for result in grid if grid is not None else []:
        trial_id = (result.metrics or {}).get("trial_id")
        if result.error is not None and trial_id not in seen:
            rows.append(_failed_row(trial_id, result, spec))
    for i, row in enumerate(rows, 1):
        row["trial"] = i
    return rows


def _row(run_dir: Path, info: dict[str, Any], spec: SweepSpec, metric: str) -> dict[str, Any]:
    records = read_jsonl(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").is_file() else []
    epochs = [r for r in records if r.get("phase") == "train"]
    scored = [r for r in epochs if is_finite(r.get(spec.objective))]
    pick = min if spec.mode == "min" else max
    best = pick(scored, key=lambda r: r[spec.objective]) if scored else None
    planned = (
        load_config(run_dir / "config.yaml").epochs if (run_dir / "config.yaml").is_file() else None
    )
    status = info.get("status", "running")
    if status in ("running", "stopped", "finished"):
        complete = planned is None or len(epochs) >= planned
        status = (
            "finished" if complete else ("stopped early" if status == "stopped" else "unfinished")
        )
    values = info.get("values", {})
    row: dict[str, Any] = {
        "trial": 0,
        "trial_id": info.get("trial_id", run_dir.name),
        "status": status,
        spec.objective: best[spec.objective] if best else math.nan,
        "best_epoch": best["epoch"] if best else None,
        "epochs": len(epochs),
        "seconds": round(sum(r.get("seconds", 0.0) for r in records), 2),
    }
    for dim in spec.space:
        row[dim.key] = dim.decode(values.get(dim.key))
    if metric != spec.objective and best is not None:
        row[f"{metric} at best epoch"] = best.get(metric, math.nan)
    row["run_dir"] = str(run_dir)
    row["message"] = info.get("message", "")
    return row


def _failed_row(trial_id: Any, result: Any, spec: SweepSpec) -> dict[str, Any]:
    values = result.config or {}
    row = {"trial": 0, "trial_id": trial_id or "?", "status": "failed", spec.objective: math.nan,
           "best_epoch": None, "epochs": 0, "seconds": 0.0}  # fmt: skip
    for dim in spec.space:
        row[dim.key] = dim.decode(values.get(dim.key))
    row.update(run_dir="", message=str(result.error).splitlines()[-1][:300])
    return row


def best_row(rows: list[dict[str, Any]], objective: str, mode: str) -> dict[str, Any] | None:
    """The row with the best finite objective (``None`` if no trial got one)."""
    scored = [r for r in rows if is_finite(r.get(objective)) and r["status"] != "diverged"]
    if not scored:
        return None
    return (min if mode == "min" else max)(scored, key=lambda r: r[objective])


def write_outputs(
    rows: list[dict[str, Any]], spec: SweepSpec, out: Path, seconds: float
) -> tuple[dict[str, Path], str]:
    """Write ``trials.csv``, ``summary.md``, ``best_config.yaml`` and the plots; returns
    the paths and the summary text."""
    files = {"csv": write_csv(rows, out / "trials.csv")}
    best = best_row(rows, spec.objective, spec.mode)
    if best is not None and best["run_dir"]:
        files["best_config"] = out / "best_config.yaml"
        shutil.copyfile(Path(best["run_dir"]) / "config.yaml", files["best_config"])
    text = summary_text(rows, spec, best, seconds)
    files["summary"] = out / "summary.md"
    files["summary"].write_text(text)
    files["objective_plot"] = plot_objective_vs_trial(rows, spec, out / "objective_vs_trial.png")
    files["params_plot"] = plot_params_vs_objective(rows, spec, out / "params_vs_objective.png")
    return files, text


def summary_text(
    rows: list[dict[str, Any]], spec: SweepSpec, best: dict[str, Any] | None, seconds: float
) -> str:
    """The Markdown summary: best configuration, objective, trial counts, time."""
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    count_text = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    train_s = sum(r.get("seconds") or 0.0 for r in rows)
    lines = [
        f"# Sweep {spec.name}",
        "",
        f"- run: {spec.model} on {spec.dataset}; search: {spec.algorithm} "
        f"(seed {spec.seed}); early stopping: {spec.early_stopping.kind}",
        f"- trials: {len(rows)} of {spec.trials} ({count_text or 'none'})",
        f"- time: {seconds:.0f} s wall for the sweep, {train_s:.0f} s of training in all trials",
    ]
    if best is None:
        lines += [f"- objective: {spec.objective} ({spec.mode}): no trial reported a value", ""]
        return "\n".join(lines) + "\n"
    lines += [
        f"- objective: {spec.objective} ({spec.mode}) = **{best[spec.objective]:.6g}** "
        f"(trial {best['trial']}, epoch {best['best_epoch']})",
        f"- best run: {best['run_dir']} (full config: best_config.yaml)",
        "",
        "## Best configuration",
        "",
        "| key | value |",
        "|---|---|",
        *(f"| {d.key} | {cell(best.get(d.key))} |" for d in spec.space),
        "",
        "## All trials",
        "",
    ]
    keys = ["trial", "status", spec.objective, "best_epoch", *(d.key for d in spec.space)]
    lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot_objective_vs_trial(rows: list[dict[str, Any]], spec: SweepSpec, path: Path) -> Path:
    """Each trial's objective in start order, and the best so far."""
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["trial"] for r in rows if is_finite(r.get(spec.objective))]
    ys = [r[spec.objective] for r in rows if is_finite(r.get(spec.objective))]
    ax.plot(xs, ys, "o", label="trial")
    best, running = [], math.inf if spec.mode == "min" else -math.inf
    for y in ys:
        running = min(running, y) if spec.mode == "min" else max(running, y)
        best.append(running)
    if xs:
        ax.step(xs, best, where="post", label="best so far")
    bad = [r["trial"] for r in rows if r["status"] in ("diverged", "failed")]
    if bad:
        ax.plot(bad, [max(ys) if ys else 1.0] * len(bad), "x", color="red", label="diverged/failed")
    ax.set_xlabel("trial")
    ax.set_ylabel(spec.objective)
    ax.set_title(f"sweep {spec.name}: {spec.objective} per trial")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_params_vs_objective(rows: list[dict[str, Any]], spec: SweepSpec, path: Path) -> Path:
    """One panel per searched key: the key's value against the trial's objective."""
    n = len(spec.space)
    cols = min(n, 3)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.3 * nrows), squeeze=False)
    scored = [r for r in rows if is_finite(r.get(spec.objective))]
    for ax, dim in zip(axes.flat, spec.space, strict=False):
        ys = [r[spec.objective] for r in scored]
        if dim.kind == "choice":
            labels = [cell(v) for v in dim.values]
            xs = [labels.index(cell(r.get(dim.key))) if cell(r.get(dim.key)) in labels else -1
                  for r in scored]  # fmt: skip
            ax.set_xticks(range(len(labels)), labels, rotation=20)
        else:
            xs = [r.get(dim.key) for r in scored]
            if dim.is_log:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # no overlapping 2x10^-4 labels
        ax.plot(xs, ys, "o")
        ax.set_xlabel(dim.key)
        ax.set_ylabel(spec.objective)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(f"sweep {spec.name}: parameters vs {spec.objective}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["best_row", "collect_rows", "summary_text", "write_outputs"]
