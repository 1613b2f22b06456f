"""``neurosim compare``: every model x seed of a grid, on Ray Tune, and the paper's table.

Each (model, seed) pair is one ordinary run directory ``OUT/runs/{model}/seed{seed}``
trained from the model's published configuration for the data set
(``models/configs/{dataset}/{model}.yaml``; a registered model without one runs with its
defaults), the user's ``--set`` overrides and ``--epochs``. The grid runs on Ray Tune
(``tune.grid_search``) with the resource rules of sweeps (:mod:`~neurosim.scale.
ray_backend`): a local Ray by default, ``address`` for a cluster; an interrupted
comparison resumes without redoing finished runs.

Then (:mod:`~neurosim.scale.compare_report`): ``table.md`` / ``table.csv`` (the task's
metric — test error for classification — at the epoch of best validation, mean ± std
over seeds per model, as DFC Table 1), ``runs.csv`` (one row per run) and
``learning_curves.png`` (mean and ±1 std band per model).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurosim.scale import compare_report
from neurosim.scale.ray_backend import plan_concurrency, ray_session, require_ray
from neurosim.scale.sweep_spec import resolve_objective
from neurosim.scale.trials import OBJECTIVE, CompareJob, model_config, run_trial
from neurosim.scale.tune_runs import ended_all, fit, make_tuner, prepare_output, saved_statuses
from neurosim.training.config import ConfigError, get_task_spec_checked
from neurosim.training.overrides import apply_overrides

PLAN_FILE = "compare.yaml"


@dataclass(frozen=True)
class ComparePlan:
    """The grid: ``models`` x ``seeds`` on ``dataset`` with ``overrides`` (dotted keys,
    ``epochs`` included when given)."""

    models: tuple[str, ...]
    dataset: str
    seeds: tuple[int, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    cpus_per_run: int = 1
    gpus_per_run: float = 0.0
    concurrency: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "dataset": self.dataset,
            "seeds": list(self.seeds),
            "overrides": self.overrides,
        }


def make_plan(
    models: list[str],
    dataset: str,
    seeds: int,
    first_seed: int = 42,
    epochs: int | None = None,
    overrides: dict[str, Any] | None = None,
    cpus_per_run: int = 1,
    gpus_per_run: float = 0.0,
    concurrency: int | None = None,
) -> ComparePlan:
    """Validate a comparison before anything runs: every model has a configuration on
    ``dataset`` and accepts the overrides.

    Raises
    ------
    ConfigError
        Unknown model or dataset, a bad override for any model, bad counts.
    """
    get_task_spec_checked(dataset)
    if not models:
        raise ConfigError("compare: give at least one model (--models bp dfa ...)")
    if len(set(models)) != len(models):
        raise ConfigError(f"compare: models {models} contain duplicates")
    if seeds < 1:
        raise ConfigError(f"compare: --seeds must be >= 1, got {seeds}")
    if cpus_per_run < 1 or gpus_per_run < 0:
        raise ConfigError("compare: --cpus-per-run must be >= 1 and --gpus-per-run >= 0")
    over = dict(overrides or {})
    if "threads" in over or "seed" in over:
        raise ConfigError(
            "compare: threads and seed are set by the grid (--cpus-per-run, --seeds, "
            "--first-seed); do not --set them"
        )
    if epochs is not None:
        over["epochs"] = epochs
    for model in models:
        cfg = apply_overrides(model_config(model, dataset), over, source=f"compare ({model})")
        if gpus_per_run == 0 and cfg.device.startswith("cuda"):
            raise ConfigError(f"compare ({model}): device {cfg.device!r} needs --gpus-per-run > 0")
    return ComparePlan(
        models=tuple(models),
        dataset=dataset,
        seeds=tuple(range(first_seed, first_seed + seeds)),
        overrides=over,
        cpus_per_run=cpus_per_run,
        gpus_per_run=gpus_per_run,
        concurrency=concurrency,
    )


def run_compare(
    plan: ComparePlan,
    out: str | Path,
    *,
    resume: bool = False,
    address: str | None = None,
    verbose: bool = True,
) -> compare_report.CompareResult:
    """Run the grid of ``plan`` into ``out`` and write the table and figure."""
    require_ray("neurosim compare")
    out = Path(out).resolve()
    prepare_output(out, PLAN_FILE, plan.to_dict(), "comparison", resume)
    first = apply_overrides(model_config(plan.models[0], plan.dataset), plan.overrides)
    objective = resolve_objective("auto", first)
    with ray_session(address, gpus=plan.gpus_per_run > 0) as ray:
        from ray import tune

        from neurosim.scale.tune_progress import TrialPrinter

        concurrency = plan_concurrency(ray, plan.cpus_per_run, plan.gpus_per_run, plan.concurrency)
        job = CompareJob(
            dataset=plan.dataset,
            overrides=plan.overrides,
            runs_dir=str(out / "runs"),
            objective=objective,
            mode="min",
            threads=plan.cpus_per_run,
            device="cuda" if plan.gpus_per_run > 0 else None,
        )
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, job=job),
            {"cpu": plan.cpus_per_run, "gpu": plan.gpus_per_run},
        )
        n = len(plan.models) * len(plan.seeds)
        if verbose:
            print(
                f"compare: {', '.join(plan.models)} on {plan.dataset}, seeds "
                f"{list(plan.seeds)}: {n} runs, {concurrency} at a time on "
                f"{'Ray cluster ' + address if address else 'local Ray'}, "
                f"{plan.cpus_per_run} CPU thread(s) per run; output: {out}",
                flush=True,
            )
        t0 = time.perf_counter()
        tuner = make_tuner(
            tune,
            trainable,
            out,
            resume,
            {
                "model": tune.grid_search(list(plan.models)),
                "seed": tune.grid_search(list(plan.seeds)),
            },
            tune.TuneConfig(
                metric=OBJECTIVE, mode="min", max_concurrent_trials=concurrency, reuse_actors=True
            ),
            [TrialPrinter(objective, n)] if verbose else [],
        )
        fit(tuner, out, "comparison")
        seconds = time.perf_counter() - t0
    result = compare_report.write_outputs(plan, out, seconds)
    result.complete = ended_all(saved_statuses(out), n)
    if verbose:
        print("\n" + result.table_text, end="", flush=True)
    return result


__all__ = ["ComparePlan", "make_plan", "run_compare"]
