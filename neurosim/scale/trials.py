"""One Ray Tune trial = one ordinary neurosim run directory.

:func:`run_trial` is the Tune trainable of sweeps and comparisons. It builds the
trial's :class:`~neurosim.training.config.RunConfig` from its job (the base run plus the
trial's values, as ``--set`` overrides), trains it with :func:`neurosim.training.train`
into a run directory of its own (``config.yaml``, ``metrics.jsonl``,
``checkpoint.pt``, ``summary.json``, plots: ``neurosim train --resume --out DIR``
continues it) and reports every epoch to Tune through the loop's ``on_epoch`` hook:

* ``epoch`` and the epoch's metrics (``train_loss``, ``val_error``, ...);
* ``objective``: the best value of the job's objective metric so far (what the search
  algorithm and the early-stopping scheduler compare);
* ``diverged``: 1 when training stopped on NaN/inf; the objective is then the worst
  possible value so that the search moves away from that region.

A trial whose run directory already holds a checkpoint (an interrupted sweep being
resumed) continues from it, after replaying its recorded epochs to Tune.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurosim.training.config import RunConfig, default_config, load_config
from neurosim.training.metrics import read_jsonl
from neurosim.training.overrides import apply_overrides

#: name of the reported best-so-far objective (Tune metric)
OBJECTIVE = "objective"


@dataclass(frozen=True)
class SweepJob:
    """Trials of a sweep: the base run, searched keys set from the trial's values.

    ``decode`` maps a searched key to the dimension that turns Tune's value back into
    the config value (non-scalar choices travel as YAML text).
    """

    base: RunConfig
    runs_dir: str
    objective: str
    mode: str
    threads: int
    device: str | None = None
    decode: dict[str, Any] = field(default_factory=dict)

    def config_for(self, values: dict[str, Any]) -> RunConfig:
        decoded = {
            k: self.decode[k].decode(v) if k in self.decode else v for k, v in values.items()
        }
        return _pinned(apply_overrides(self.base, decoded, source="trial"), self)

    def run_dir(self, values: dict[str, Any], trial_id: str) -> Path:
        return Path(self.runs_dir) / trial_id


@dataclass(frozen=True)
class CompareJob:
    """Runs of a comparison: the published config of each model (or its defaults when
    the dataset has none), the user's overrides and the trial's seed."""

    dataset: str
    overrides: dict[str, Any]
    runs_dir: str
    objective: str
    mode: str
    threads: int
    device: str | None = None

    def config_for(self, values: dict[str, Any]) -> RunConfig:
        base = model_config(values["model"], self.dataset)
        cfg = apply_overrides(base, {**self.overrides, "seed": values["seed"]}, source="compare")
        return _pinned(cfg, self)

    def run_dir(self, values: dict[str, Any], trial_id: str) -> Path:
        return Path(self.runs_dir) / str(values["model"]) / f"seed{values['seed']}"


def model_config(model: str, dataset: str, config_file: str | None = None) -> RunConfig:
    """The run config of ``model`` on ``dataset``: ``config_file``, else the published
    one (``models/configs/{dataset}/{model}.yaml``), else — for a registered model that
    has none for this dataset — the model's defaults (RunConfig defaults, empty params)."""
    from neurosim.models import registry
    from neurosim.training.config import ConfigError, default_config_path

    if config_file is not None:
        return load_config(config_file)
    if default_config_path(model, dataset).is_file():
        return default_config(model, dataset)
    if model in registry.available():
        return RunConfig(model=model, dataset=dataset)
    raise ConfigError(f"unknown model {model!r}; registered models are {registry.available()}")


def _pinned(cfg: RunConfig, job: Any) -> RunConfig:
    """The trial's resource rules: ``threads`` CPU threads, the trial's GPU if any."""
    return cfg.with_overrides(threads=job.threads, device=job.device)


class EpochReporter:
    """The loop's ``on_epoch`` hook: reports each training epoch to Tune.

    The report of the last epoch (``final_epoch``) waits for :meth:`flush`, called once
    the run has finished: Tune may end the trial as soon as it gets its last result,
    and the run should first write its summary and plots.
    """

    def __init__(self, objective: str, mode: str, final_epoch: int) -> None:
        self.objective, self.mode, self.final_epoch = objective, mode, final_epoch
        self.best = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self.pending: dict[str, Any] | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        if record.get("phase") != "train":
            return
        value = record.get(self.objective)
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.best = min(self.best, value) if self.mode == "min" else max(self.best, value)
        self.last_epoch = int(record["epoch"])
        metrics = {k: v for k, v in record.items() if isinstance(v, (int, float))}
        self.pending = {**metrics, OBJECTIVE: self.best, "diverged": 0}
        if self.last_epoch < self.final_epoch:
            self.flush()

    def flush(self) -> None:
        """Send the epoch held back (if any)."""
        from ray import tune

        if self.pending is not None:
            result, self.pending = self.pending, None
            tune.report(result)

    def replay(self, records: list[dict[str, Any]]) -> None:
        """Report the epochs a resumed run already holds."""
        for record in records:
            self(record)

    def diverged(self) -> None:
        from ray import tune

        self.pending = None
        worst = math.inf if self.mode == "min" else -math.inf
        tune.report({"epoch": self.last_epoch + 1, OBJECTIVE: worst, "diverged": 1})


def run_trial(values: dict[str, Any], job: SweepJob | CompareJob) -> None:
    """Tune function trainable: train the trial's run (see the module docstring)."""
    from ray import tune

    from neurosim.training.checkpoint import CheckpointError
    from neurosim.training.divergence import TrainingDivergedError
    from neurosim.training.loop import CHECKPOINT, train

    values = {k: _plain(v) for k, v in values.items()}
    trial_id = tune.get_context().get_trial_id()
    out = job.run_dir(values, trial_id)
    info = TrialInfo(out)
    info.update(trial_id=trial_id, values=values, status="running")
    diverged = False
    try:
        cfg = job.config_for(values)
        reporter = EpochReporter(job.objective, job.mode, cfg.epochs)
        resume = (out / CHECKPOINT).is_file()
        if resume:
            reporter.replay(read_jsonl(out / "metrics.jsonl"))
        try:
            train(cfg, out, resume=resume, progress=False, quiet=True, on_epoch=reporter)
        except TrainingDivergedError as err:
            info.update(status="diverged", message=str(err))
            diverged = True
        else:
            info.update(status="finished")
    except SystemExit:  # Tune ends a trial it stops early from inside tune.report
        info.update(status="stopped")
        raise
    except BaseException as err:
        info.update(status="failed", message=f"{type(err).__name__}: {err}")
        if isinstance(err, CheckpointError):
            raise RuntimeError(f"trial run {out}: {err}") from None
        raise
    # the last report, once the run directory is complete (Tune may end the trial here)
    reporter.diverged() if diverged else reporter.flush()


class TrialInfo:
    """``trial.json`` in a trial's run directory: its Tune id, its values (as Tune
    sampled them), when it started and its status (``running``, ``finished``,
    ``stopped`` by the scheduler, ``diverged``, ``failed`` with a message)."""

    FILE = "trial.json"

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / self.FILE

    def read(self) -> dict[str, Any]:
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def update(self, **fields: Any) -> None:
        data = self.read()
        data.setdefault("started", time.time())
        data.update(fields)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
        tmp.replace(self.path)


def _plain(value: Any) -> Any:
    """numpy scalars (Tune's random sampler) -> Python numbers, as YAML would give."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (list, tuple, dict)) else value


__all__ = [
    "OBJECTIVE",
    "CompareJob",
    "EpochReporter",
    "SweepJob",
    "TrialInfo",
    "model_config",
    "run_trial",
]
