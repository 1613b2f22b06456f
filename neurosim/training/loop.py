"""The training loop: DFC schedule, evaluation, checkpoints, resume, divergence checks.

Schedule (DFC App. F.2, DFC.md §1.8):

1. ``epochs_fb`` pre-training epochs: feedback passes only (skipped for models
   without a feedback phase);
2. each epoch: (a) one feedback pass unless the model has none, (b) one forward
   pass, (c) ``extra_fb_epochs`` further feedback passes, then evaluation of the
   feedforward output on the validation and test sets.

Every pass draws a fresh permutation of the training set from one seeded
``torch.Generator``; the config's ``seed`` also seeds torch, numpy, python and the
model, so it determines the run. A checkpoint is written after every pre-training
epoch and every epoch. **Interrupts (Ctrl-C)**: the work since the last completed
(pre-training) epoch is discarded; the checkpoint on disk is that epoch's, and
``resume=True`` continues from it exactly (same weights, optimiser and RNG states,
hence the same batches and the same metrics as an uninterrupted run). The RNG
states saved are torch's, numpy's, python's, the data order's and those of every
``torch.Generator`` attribute of the model's modules; a model keeping random state
elsewhere (e.g. inside a cached simulator) must expose it through
``nn.Module.get_extra_state`` / ``set_extra_state`` so that it is in its ``state_dict``.
"""

from __future__ import annotations

import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from neurosim.models import registry
from neurosim.models.base import TrainableModel
from neurosim.training import metrics as mlog
from neurosim.training import plots, sequences
from neurosim.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    require_keys,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from neurosim.training.config import ConfigError, RunConfig, config_from_dict, load_config
from neurosim.training.data import (
    TensorSplit,
    TrainingData,
    batches,
    evaluate,
    load_for_config,
    n_batches,
    prepare_data,
)
from neurosim.training.divergence import (
    DivergenceMonitor,
    TrainingDivergedError,
    check_dynamics,
    check_finite,
    check_growth,
    divergence_hint,
)
from neurosim.training.reporting import ConsoleReporter
from neurosim.training.resources import is_out_of_memory, memory_error
from neurosim.training.rundir import RunDirectory, RunDirectoryError, notice
from neurosim.training.writers import MetricWriters, require_tensorboard

CHECKPOINT = "checkpoint.pt"
#: config keys that may change when a run is resumed
RESUMABLE_CHANGES = ("epochs", "device", "threads", "diagnostics", "data_dir", "divergence_factor")
#: what a training checkpoint holds besides the format tag, version and checksum
CHECKPOINT_KEYS = ("config", "model_name", "model", "optimizers", "rng", "position", "metrics")


def train(
    config: RunConfig | dict[str, Any] | str | Path,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool | None = None,
    *,
    dataset: Any = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    data_parallel: Any = None,
    quiet: bool = False,
    tensorboard: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train ``config.model`` on ``config.dataset`` and write the run to ``out_dir``.

    Parameters
    ----------
    config
        A :class:`RunConfig`, its mapping, or the path of a config YAML.
    out_dir
        Run directory: ``config.yaml``, ``metrics.jsonl``, ``metrics.csv``,
        ``checkpoint.pt``, ``summary.json``, the PNG plots and, with ``tensorboard``,
        ``tensorboard/``.
    resume
        Continue the run in ``out_dir`` from its checkpoint (``config`` may only
        change the keys in :data:`RESUMABLE_CHANGES`; ``epochs`` no lower than the
        epochs the run already holds).
    progress
        Show tqdm bars on stderr; ``None``: only when stderr is a terminal.
    dataset
        A preloaded :class:`neurosim.data.Dataset` (default: ``load_dataset``).
    quiet
        Print nothing to stdout. By default the run says what it will run, the
        estimated seconds per epoch once measured, and one line per (pre-training)
        epoch (:class:`neurosim.training.reporting.ConsoleReporter`), terminal or not.
    tensorboard
        Also write TensorBoard event files to ``out_dir/tensorboard`` (needs the
        optional ``tensorboard`` package; :mod:`neurosim.training.writers`).
    overwrite
        Start afresh in a directory that holds a run: its files are moved into
        ``out_dir/replaced-<time>/`` (nothing is deleted). Without it such a directory
        is refused (:mod:`neurosim.training.rundir`).
    on_epoch
        Called with each record once it is committed (written and checkpointed):
        pre-training epochs (``phase="pretrain"``) and epochs (``phase="train"``).
        Sweeps report per-epoch metrics to Ray Tune through it.
    data_parallel
        This process's part in data-parallel training
        (:class:`neurosim.scale.data_parallel.DataParallel`): its ``wrap(model,
        resumed_at)`` returns the model that trains on this process's shard of every
        batch, and only the process whose ``is_writer`` is true writes the run directory.

    Returns
    -------
    dict
        The best-validation summary (``summary.json``) plus ``out_dir``,
        ``metrics_path`` and ``plots``.
    """
    cfg = _as_config(config)
    if tensorboard:
        require_tensorboard()  # before any work
    writer = data_parallel is None or data_parallel.is_writer
    run_dir = RunDirectory(out_dir)
    # one process claims the directory: the only one, or data-parallel rank 0
    with run_dir.claimed(resume, overwrite) if writer else nullcontext(run_dir):
        ckpt_path = run_dir.path / CHECKPOINT
        state = _resume_state(cfg, ckpt_path, run_dir) if resume else None
        with _intra_op_threads(cfg.threads):
            reporter = ConsoleReporter(enabled=not quiet)
            return _train(
                cfg, run_dir.path, ckpt_path, state, progress, dataset, reporter, tensorboard,
                on_epoch, data_parallel,
            )  # fmt: skip


@contextmanager
def _intra_op_threads(n: int | None) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)`` and simulations sharded over at most ``n``
    cores (``None``: leave torch's setting; simulations use every available core)."""
    from neurosim.backends.torch import set_default_threads

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    set_default_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        set_default_threads(None)


def _train(
    cfg: RunConfig,
    out: Path,
    ckpt_path: Path,
    state: dict[str, Any] | None,
    progress: bool | None,
    dataset: Any,
    reporter: ConsoleReporter,
    tensorboard: bool,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    data_parallel: Any = None,
) -> dict[str, Any]:
    device = _resolve_device(cfg.device)
    data = prepare_data(dataset if dataset is not None else load_for_config(cfg), cfg, device)
    _seed_everything(cfg.seed)
    dtype = getattr(torch, cfg.dtype)
    model = registry.create(
        cfg.model, data.task, cfg.model_params(), device=device, dtype=dtype, seed=cfg.seed
    )
    data_gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    writers = MetricWriters(out, _n_pretrain(cfg, model), tensorboard=tensorboard)
    run = _Run(cfg, out, model, data, data_gen, progress, reporter, writers)
    run.on_epoch = on_epoch
    if state is not None:
        run.restore(state)
    if data_parallel is not None:
        run.writer = data_parallel.is_writer
        run.model = data_parallel.wrap(model, resumed_at=run.pretrain_done + run.epochs_done)
    if run.writer:
        run.save_config()
        # metrics.jsonl/.csv = the checkpoint's records (drops lines a killed run wrote later)
        writers.start(run.records)
    try:
        run.announce()
        run.execute()
        return run.finish()
    except RuntimeError as err:
        if not is_out_of_memory(err):
            raise
        raise memory_error(err, cfg.batch_size, run.current_pass, device.type) from err
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the checkpoint in {out} holds {run.position_text()}; "
            "continue with --resume",
            file=sys.stderr,
        )
        raise
    finally:
        writers.close()


def _setting(cfg: RunConfig) -> str:
    """``float64 on cpu, 2 torch threads``."""
    n = torch.get_num_threads()
    return f"{cfg.dtype} on {cfg.device}, {n} torch thread{'' if n == 1 else 's'}"


def _n_pretrain(cfg: RunConfig, model: TrainableModel) -> int:
    """Feedback pre-training epochs of the schedule (none without a feedback phase)."""
    return cfg.schedule.epochs_fb if model.has_feedback_phase else 0


def _as_config(config: RunConfig | dict[str, Any] | str | Path) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, dict):
        return config_from_dict(config)
    return load_config(config)


def _resume_state(cfg: RunConfig, ckpt_path: Path, run_dir: RunDirectory) -> dict[str, Any] | None:
    """The checkpoint to resume from; ``None`` for a run killed before it finished its
    first (pre-training) epoch, which restarts from the beginning."""
    if not ckpt_path.exists():
        if run_dir.interrupted_before_first_epoch():
            saved_path = run_dir.path / "config.yaml"
            _check_same_run(cfg, load_config(saved_path), saved_path)
            notice(
                f"{run_dir.path}: the run was stopped before its first epoch finished (no "
                "checkpoint, no metrics): starting it from the beginning"
            )
            return None
        others = run_dir.results()
        raise RunDirectoryError(
            f"cannot resume: no {CHECKPOINT} in {ckpt_path.parent}"
            + (
                f" (it holds {others}); pass {{overwrite}} instead of {{resume}} to start again"
                if others
                else "; start a new run without {resume}"
            )
        )
    state = load_checkpoint(ckpt_path)
    require_keys(state, CHECKPOINT_KEYS, ckpt_path, "neurosim training checkpoint")
    saved = config_from_dict(state["config"], source=f"{ckpt_path} (saved config)")
    _check_same_run(cfg, saved, ckpt_path)
    done = int(state["position"]["epochs_done"])
    if cfg.epochs < done:
        raise ConfigError(
            f"cannot resume {ckpt_path.parent} with epochs={cfg.epochs}: the run already "
            f"holds {done} epochs, and its config.yaml must keep saying so; ask for at "
            f"least {done} epochs (more to train further)"
        )
    return state


def _check_same_run(cfg: RunConfig, saved: RunConfig, where: Path) -> None:
    """Refuse to resume with a config that differs beyond :data:`RESUMABLE_CHANGES`."""
    new, old = cfg.to_dict(), saved.to_dict()
    new["params"], old["params"] = cfg.model_params(), saved.model_params()
    changed = sorted(k for k in new if k not in RESUMABLE_CHANGES and new[k] != old[k])
    if changed:
        raise ConfigError(
            f"cannot resume {where.parent}: the config differs from the saved run in "
            f"{changed} (only {list(RESUMABLE_CHANGES)} may change); use the run's "
            "config.yaml or a new output directory"
        )


def _resolve_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device {name!r} requested but torch.cuda.is_available() is False; use --device cpu"
        )
    return torch.device(name)


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class _Run:
    """State of one run: model, data order, schedule position and records."""

    def __init__(
        self,
        cfg: RunConfig,
        out: Path,
        model: TrainableModel,
        data: TrainingData,
        data_gen: torch.Generator,
        progress: bool | None,
        reporter: ConsoleReporter,
        writers: MetricWriters,
    ) -> None:
        self.cfg, self.out, self.model, self.data, self.data_gen = cfg, out, model, data, data_gen
        self.show = sys.stderr.isatty() if progress is None else progress
        self.reporter, self.writers = reporter, writers
        self.pretrain_done = 0
        self.epochs_done = 0
        self.records: list[dict[str, Any]] = []
        self.model_reports_errors: bool | None = None
        self.current_pass = "the start of training"
        self.monitor = DivergenceMonitor(cfg.divergence_factor)
        self.on_epoch: Callable[[dict[str, Any]], None] | None = None
        self.writer = True  # False: another data-parallel process writes the run directory

    # -- persistence ------------------------------------------------------------------
    def save_config(self) -> None:
        self.cfg.with_overrides(params=self.cfg.model_params()).save(self.out / "config.yaml")

    def checkpoint(self) -> None:
        state = {
            "config": self.cfg.to_dict(),
            "model_name": self.model.name,
            "model": self.model.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.model.optimizers().items()},
            "rng": rng_state(self.data_gen, self.model),
            "position": {"pretrain_done": self.pretrain_done, "epochs_done": self.epochs_done},
            "metrics": self.records,
            "divergence_monitor": self.monitor.state(),
        }
        save_checkpoint(state, self.out / CHECKPOINT)

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("model_name") != self.model.name:
            raise CheckpointError(
                f"checkpoint in {self.out} is of model {state.get('model_name')!r}, "
                f"not {self.model.name!r}"
            )
        device = next(iter(self.model.parameters())).device
        self.model.load_state_dict({k: v.to(device) for k, v in state["model"].items()})
        opts = self.model.optimizers()
        if sorted(opts) != sorted(state["optimizers"]):
            raise CheckpointError(
                f"checkpoint optimisers {sorted(state['optimizers'])} do not match the "
                f"model's {sorted(opts)}"
            )
        for key, opt in opts.items():
            opt.load_state_dict(state["optimizers"][key])
        set_rng_state(state["rng"], self.data_gen, self.model)
        self.pretrain_done = int(state["position"]["pretrain_done"])
        self.epochs_done = int(state["position"]["epochs_done"])
        self.records = list(state["metrics"])
        self.monitor.load_state(state.get("divergence_monitor"))

    def position_text(self) -> str:
        if self.epochs_done == 0 and self.pretrain_done > 0:
            return f"pre-training epoch {self.pretrain_done}/{self.cfg.schedule.epochs_fb}"
        return f"epoch {self.epochs_done}/{self.cfg.epochs}"

    def announce(self) -> None:
        """Say what will run (:meth:`ConsoleReporter.plan`)."""
        cfg, split, fb = self.cfg, self.data.train, self.model.has_feedback_phase
        self.reporter.plan(
            f"{self.model.name} on {cfg.dataset}",
            n_pretrain=_n_pretrain(cfg, self.model),
            pretrain_done=self.pretrain_done,
            epochs=cfg.epochs,
            epochs_done=self.epochs_done,
            feedback_passes=1 + cfg.schedule.extra_fb_epochs if fb else 0,
            n_batches=n_batches(len(split), cfg.batch_size),
            n_samples=len(split),
            batch_size=cfg.batch_size,
            setting=_setting(cfg),
        )

    # -- schedule ---------------------------------------------------------------------
    def execute(self) -> None:
        cfg, fb = self.cfg, self.model.has_feedback_phase
        n_pre = cfg.schedule.epochs_fb if fb else 0
        for k in range(self.pretrain_done, n_pre):
            t0 = time.perf_counter()
            m = self.run_pass("feedback", f"pre-train {k + 1}/{n_pre}")
            rec = {"phase": "pretrain", "pretrain_epoch": k + 1}
            rec.update({_fb_key(key): v for key, v in m.items()})
            rec["seconds"] = time.perf_counter() - t0
            self.pretrain_done = k + 1
            self.commit(rec)
        for epoch in range(self.epochs_done + 1, cfg.epochs + 1):
            self.commit(self.run_epoch(epoch))

    def run_epoch(self, epoch: int) -> dict[str, Any]:
        cfg, fb = self.cfg, self.model.has_feedback_phase
        tag = f"epoch {epoch}/{cfg.epochs}"
        t0 = time.perf_counter()
        fb_metrics: list[dict[str, float]] = []
        if fb:
            fb_metrics.append(self.run_pass("feedback", f"{tag} feedback"))
        fwd = self.run_pass("forward", f"{tag} forward")
        if fb:
            for j in range(cfg.schedule.extra_fb_epochs):
                fb_metrics.append(self.run_pass("feedback", f"{tag} feedback +{j + 1}"))
        rec: dict[str, Any] = {"phase": "train", "epoch": epoch}
        rec["train_loss"] = fwd.pop("loss", float("nan"))
        if "error" in fwd:
            rec["train_error"] = fwd.pop("error")
        rec.update({f"train_{k}": v for k, v in fwd.items()})
        for k, v in mlog.mean_records(fb_metrics).items():
            rec[_fb_key(k)] = v
        for name, split in (("val", self.data.val), ("test", self.data.test)):
            if split is not None:
                ev = evaluate(self.model, split)
                rec[f"{name}_loss"] = ev["loss"]
                if "error" in ev:
                    rec[f"{name}_error"] = ev["error"]
        rec["seconds"] = time.perf_counter() - t0
        self.check_finite(epoch, "evaluation", None, rec.get("test_loss"))
        if cfg.diagnostics:
            rec.update(self.diagnostics())
        return rec

    def commit(self, rec: dict[str, Any]) -> None:
        """Record a finished (pre-training) epoch: checkpoint first, then the metric
        files, so they never hold an epoch the checkpoint does not (a kill in between
        loses the line, which the next resume rewrites from the checkpoint)."""
        if rec["phase"] == "train":
            self.epochs_done = rec["epoch"]
        self.records.append(rec)
        if self.writer:
            self.checkpoint()  # first: metrics never hold an epoch the checkpoint lacks
            self.writers.add(rec)
            mlog.write_summary(
                mlog.summarize(self.records, self.data.task.kind), self.out / "summary.json"
            )
        self.reporter.epoch(rec)
        if self.on_epoch is not None:
            self.on_epoch(rec)

    def run_pass(self, phase: str, desc: str) -> dict[str, float]:
        """One shuffled pass over the training set; mean metrics over its batches
        (``error``: fraction of misclassified samples before each update)."""
        split = self.data.train
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        n_err, n_seen = 0.0, 0
        classification = self.data.task.kind == "classification"
        total = n_batches(len(split), self.cfg.batch_size)
        self.current_pass = f"the {desc} pass"
        bar = tqdm(total=total, desc=desc, disable=not self.show, leave=False, dynamic_ncols=True)
        with bar:
            t_batch = time.perf_counter()
            for b, (x, y) in enumerate(batches(split, self.cfg.batch_size, self.data_gen)):
                pre_errors = None
                if phase == "forward" and classification and self.model_reports_errors is not True:
                    with torch.no_grad():
                        pre_errors = float(self.model.task.errors(self.model(x), y))
                m = mlog.scalars(self.model.train_batch(x, y, phase))
                if phase == "forward":
                    if self.model_reports_errors is None:
                        self.model_reports_errors = "errors" in m
                    errors = m.pop("errors", pre_errors)
                    if errors is not None:
                        n_err += errors
                    n_seen += x.shape[0]
                    self.check_finite(self.epochs_done + 1, phase, b, m.get("loss"))
                    where = f"epoch {self.epochs_done + 1}, forward pass, batch {b}"
                    check_growth(
                        self.model, self.monitor, where, m.get("loss"), self.checkpoint_text
                    )
                for k, v in m.items():
                    sums[k] += v
                    counts[k] += 1
                post = {"loss": f"{sums['loss'] / counts['loss']:.4f}"} if "loss" in counts else {}
                if phase == "forward" and classification and n_seen:
                    post["acc"] = f"{100 * (1 - n_err / n_seen):.2f}%"
                bar.set_postfix(post, refresh=False)
                bar.update()
                now = time.perf_counter()
                self.reporter.batch(phase, now - t_batch)
                t_batch = now
        self.reporter.pass_done(phase)
        self.check_finite(self.epochs_done + 1, phase, None, None)
        out = {k: sums[k] / counts[k] for k in sums}
        if phase == "forward":
            where = f"epoch {self.epochs_done + 1}, forward pass"
            check_dynamics(self.model, where, out.get("diverged"), self.checkpoint_text())
        if phase == "forward" and classification and n_seen:
            out["error"] = n_err / n_seen
        return out

    def check_finite(self, epoch: int, phase: str, batch: int | None, loss: float | None) -> None:
        """Stop on a NaN/inf loss, or at the end of a pass (``batch is None``) on NaN/inf
        weights (:func:`neurosim.training.divergence.check_finite`)."""
        where = f"epoch {epoch}, {phase}" + (f" pass, batch {batch}" if batch is not None else "")
        check_finite(self.model, where, loss, batch is None, self.checkpoint_text(), phase)

    def checkpoint_text(self) -> str:
        """Where the last good state is, naming a checkpoint only if one exists."""
        if (self.out / CHECKPOINT).is_file():
            return f"The last good checkpoint ({self.position_text()}) is {self.out / CHECKPOINT}."
        return "No checkpoint was written: the run diverged before its first epoch finished."

    def diagnostics(self) -> dict[str, float]:
        probe = self.data.val if self.data.val is not None else self.data.train
        x, y = probe.X[: self.cfg.batch_size], probe.Y[: self.cfg.batch_size]
        return mlog.scalars(self.model.diagnostics(x, y))

    # -- end of run -------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        cfg, kind = self.cfg, self.data.task.kind
        summary = mlog.summarize(self.records, kind)
        if not self.writer:
            return {**summary, "out_dir": str(self.out), "plots": []}
        title = f"{self.model.name} on {cfg.dataset} (torch, {cfg.dtype}, seed {cfg.seed})"
        made = [plots.plot_learning_curves(self.records, self.out / "learning_curves.png",
                                           title, kind)]  # fmt: skip
        diag = plots.plot_diagnostics(self.records, self.out / "diagnostics.png", title)
        if diag is not None:
            made.append(diag)
        if self.data.spec.sequence:
            split = self.data.val if self.data.val is not None else self.data.test
            path = self.out / "trajectories.png"
            made.append(sequences.plot_trajectories(self.model, split.X, split.Y, path, title))
        if self.data.spec.autoencoder:
            made.append(
                plots.plot_reconstructions(
                    self.model, self.data.test.X, self.out / "reconstructions.png", title
                )
            )
        mlog.write_summary(summary, self.out / "summary.json")
        self.reporter.done()
        return {
            **summary,
            "out_dir": str(self.out),
            "metrics_path": str(self.writers.jsonl_path),
            "metrics_csv": str(self.writers.csv_path),
            "plots": [str(p) for p in made],
        }


def _fb_key(key: str) -> str:
    """Record key of a feedback-pass metric: prefixed ``fb_`` unless it already is."""
    return key if key.startswith("fb_") else f"fb_{key}"


__all__ = ["CHECKPOINT", "TensorSplit", "TrainingDivergedError", "divergence_hint", "train"]
