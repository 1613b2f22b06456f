"""``neurosim sweep``: a hyperparameter search on Ray Tune.

The search algorithm is Tree-structured Parzen Estimators (TPE, Bergstra et al. 2011)
from Optuna inside Ray Tune (``ray.tune.search.optuna.OptunaSearch`` with a seeded
``optuna.samplers.TPESampler``) or Tune's seeded random search; bad trials are stopped
by Tune's ASHA or median-stopping scheduler on the per-epoch objective. The DFC paper
ran TPE from hyperopt inside Ray Tune; Optuna's TPE is the same estimator, maintained,
with wheels for every Python and numpy neurosim supports (hyperopt's last release is
from 2021).

Layout of the output directory ``OUT``::

    OUT/spec.yaml          the spec as given (a resumed sweep must use the same)
    OUT/runs/<trial id>/   one ordinary run directory per trial (neurosim train --resume)
    OUT/tune/              Ray Tune's experiment state (how an interrupted sweep resumes)
    OUT/trials.csv         every trial: values, objective, best epoch, status, run dir
    OUT/summary.md         best configuration, objective, trial count, time
    OUT/best_config.yaml   the best trial's full run config (neurosim train --config)
    OUT/objective_vs_trial.png, OUT/params_vs_objective.png

Resuming (``resume=True``) restores Tune's state: finished trials are kept, the search
algorithm's history too, unfinished trials continue from their run's checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurosim.scale import sweep_report
from neurosim.scale.ray_backend import plan_concurrency, ray_session, require_optuna, require_ray
from neurosim.scale.sweep_spec import SweepSpec
from neurosim.scale.trials import OBJECTIVE, SweepJob, run_trial
from neurosim.scale.tune_progress import TrialPrinter
from neurosim.scale.tune_runs import (
    cut_short,
    ended_all,
    fit,
    make_tuner,
    prepare_output,
    saved_statuses,
)

SPEC_FILE = "spec.yaml"
STATE_FILE = "sweep_state.json"


@dataclass
class SweepResult:
    """Outcome of a sweep: the trial table (rows as in ``trials.csv``), the best row and
    the files written."""

    rows: list[dict[str, Any]]
    best: dict[str, Any] | None
    files: dict[str, Path]
    seconds: float
    complete: bool = True  # False: interrupted (Ctrl-C) before every trial ended


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    resume: bool = False,
    address: str | None = None,
    verbose: bool = True,
) -> SweepResult:
    """Run (or resume) the sweep ``spec`` into ``out`` (see the module docstring).

    Raises
    ------
    FileExistsError
        ``out`` already holds a sweep and ``resume`` is false.
    ConfigError
        Bad input (checked before any trial starts), or ``resume`` with a changed spec.
    """
    require_ray()
    if spec.algorithm == "tpe":
        require_optuna()
    out = Path(out).resolve()
    prepare_output(out, SPEC_FILE, spec.raw, "sweep", resume)
    with ray_session(address, gpus=spec.gpus_per_trial > 0) as ray:
        from ray import tune

        concurrency = plan_concurrency(
            ray, spec.cpus_per_trial, spec.gpus_per_trial, spec.concurrency
        )
        job = make_job(spec, out)
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, job=job),
            {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial},
        )
        if verbose:
            print(_banner(spec, out, concurrency, address), flush=True)
        t0 = time.perf_counter()
        tuner = _tuner(tune, spec, out, trainable, concurrency, resume, verbose)
        try:
            grid = fit(tuner, out, "sweep")
        finally:  # an interrupted part counts too
            seconds = _add_wall_time(out, time.perf_counter() - t0)
    statuses = saved_statuses(out)
    rows = sweep_report.collect_rows(grid, spec, job, interrupted=cut_short(statuses))
    files, text = sweep_report.write_outputs(rows, spec, out, seconds)
    if verbose:
        print("\n" + text, end="", flush=True)
    best = sweep_report.best_row(rows, spec.objective, spec.mode)
    ended = sum(r["status"] not in sweep_report.NOT_ENDED for r in rows)
    complete = ended >= spec.trials and ended_all(statuses, spec.trials)
    return SweepResult(rows, best, files, seconds, complete=complete)


def make_job(spec: SweepSpec, out: Path) -> SweepJob:
    """What every trial shares (base config with absolute data_dir, resources)."""
    base = spec.base_config()
    if base.data_dir is not None:
        base = base.with_overrides(data_dir=str(Path(base.data_dir).resolve()))
    return SweepJob(
        base=base,
        runs_dir=str(out / "runs"),
        objective=spec.objective,
        mode=spec.mode,
        threads=spec.cpus_per_trial,
        device="cuda" if spec.gpus_per_trial > 0 else None,
        decode={d.key: d for d in spec.space if d.encoded},
    )


def _tuner(
    tune: Any,
    spec: SweepSpec,
    out: Path,
    trainable: Any,
    concurrency: int,
    resume: bool,
    verbose: bool,
) -> Any:
    tune_config = tune.TuneConfig(
        metric=OBJECTIVE,
        mode=spec.mode,
        num_samples=spec.trials,
        search_alg=_search_algorithm(spec),
        scheduler=_scheduler(tune, spec),
        max_concurrent_trials=concurrency,
        reuse_actors=True,
    )
    space = {d.key: d.tune_domain(tune) for d in spec.space}
    callbacks = [TrialPrinter(spec.objective, spec.trials)] if verbose else []
    return make_tuner(tune, trainable, out, resume, space, tune_config, callbacks)


def _search_algorithm(spec: SweepSpec) -> Any:
    if spec.algorithm == "random":
        from ray.tune.search.basic_variant import BasicVariantGenerator

        return BasicVariantGenerator(random_state=spec.seed)
    optuna = require_optuna()
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=spec.startup_trials)
    return OptunaSearch(sampler=sampler)


def _scheduler(tune: Any, spec: SweepSpec) -> Any:
    stop = spec.early_stopping
    if stop.kind == "none":
        return None
    epochs = spec.base_config().epochs
    if stop.kind == "asha":
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(
            time_attr="epoch",
            max_t=max(epochs, 1),
            grace_period=min(stop.grace_period, max(epochs, 1)),
            reduction_factor=stop.reduction_factor,
        )
    from ray.tune.schedulers import MedianStoppingRule

    return MedianStoppingRule(
        time_attr="epoch", grace_period=stop.grace_period, min_samples_required=stop.min_samples
    )


def _add_wall_time(out: Path, seconds: float) -> float:
    """Accumulate the sweep's wall time over resumptions; returns the total."""
    path = out / STATE_FILE
    total = seconds
    if path.is_file():
        total += float(json.loads(path.read_text()).get("wall_seconds", 0.0))
    path.write_text(json.dumps({"wall_seconds": total}) + "\n")
    return total


def _banner(spec: SweepSpec, out: Path, concurrency: int, address: str | None) -> str:
    where = f"Ray cluster {address}" if address else "local Ray"
    lines = [
        f"sweep {spec.name!r}: {spec.trials} trials of {spec.model} on {spec.dataset}, "
        f"{spec.algorithm} search (seed {spec.seed}), objective {spec.objective} ({spec.mode})",
        f"  {concurrency} at a time on {where}, {spec.cpus_per_trial} CPU thread(s)"
        + (f" and {spec.gpus_per_trial:g} GPU" if spec.gpus_per_trial else "")
        + f" per trial; early stopping: {spec.early_stopping.kind}",
        *(f"  {d.key}: {d.describe()}" for d in spec.space),
        f"  output: {out}",
    ]
    return "\n".join(lines)


__all__ = ["SweepResult", "make_job", "run_sweep"]
