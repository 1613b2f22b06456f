"""What sweeps and comparisons share around Ray Tune: the output directory's record of
what it holds (so ``--resume`` refuses a changed request) and a Tuner that is either
new or restored from ``OUT/tune``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import yaml

from neurosim.training.config import ConfigError

#: restarts of a trial whose process died
MAX_FAILURES = 2


def prepare_output(
    out: Path, record_file: str, record: dict[str, Any], what: str, resume: bool
) -> None:
    """Create ``out`` with ``record`` (YAML) in it, or check it for ``resume``.

    Raises
    ------
    FileExistsError
        ``out`` already holds a ``what`` and ``resume`` is false (nothing is overwritten).
    ConfigError
        ``resume`` without a saved record, or with a different one.
    """
    saved = out / record_file
    plain = json.loads(json.dumps(record))
    if saved.is_file() and not resume:
        raise FileExistsError(
            f"{out} already holds a {what} ({record_file}); pass --resume to continue it, "
            "or choose another --out"
        )
    if resume:
        if not saved.is_file():
            raise ConfigError(f"cannot resume: {out} holds no {what} ({record_file} missing)")
        if yaml.safe_load(saved.read_text()) != plain:
            raise ConfigError(
                f"cannot resume {out}: the request differs from the {what} it holds "
                f"({saved}); resume with the same one or choose another --out"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    saved.write_text(yaml.safe_dump(plain, sort_keys=False))


def make_tuner(
    tune: Any,
    trainable: Any,
    out: Path,
    resume: bool,
    param_space: dict[str, Any],
    tune_config: Any,
    callbacks: list[Any],
) -> Any:
    """A Tuner writing its state to ``out/tune``; with ``resume`` the one saved there
    (finished trials kept, unfinished and errored ones continued)."""
    exp_dir = out / "tune"
    if resume and tune.Tuner.can_restore(str(exp_dir)):
        return tune.Tuner.restore(
            str(exp_dir), trainable, resume_unfinished=True, resume_errored=True
        )
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune_config,
        run_config=tune.RunConfig(
            name="tune",
            storage_path=str(out),
            verbose=0,
            callbacks=callbacks,
            # a trial whose process dies (e.g. Ray's memory monitor killed it) restarts and
            # continues from its run's checkpoint
            failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
        ),
    )


#: Tune's statuses of a trial it ended (finished, stopped by a scheduler, or failed)
ENDED = ("TERMINATED", "ERROR")


def saved_statuses(out: Path) -> dict[str, str]:
    """Tune's status of every trial as saved in ``out/tune`` (``{trial_id: status}``).

    Tune saves its experiment state before it cleans up, so after Ctrl-C the trials it
    cut short are RUNNING or PENDING there (``--resume`` continues them), while the
    ResultGrid that ``Tuner.fit`` returns reports them TERMINATED like finished ones;
    inside a trial, too, that stop looks like a scheduler's. Empty when nothing is saved.
    """
    from ray.tune import ExperimentAnalysis

    try:
        analysis = ExperimentAnalysis(str(out / "tune"))
    except Exception:  # noqa: BLE001 - no saved state (or an unreadable one): nothing known
        return {}
    return {t.trial_id: t.status for t in analysis.trials}


def ended_all(statuses: dict[str, str], planned: int) -> bool:
    """Whether Tune ended all ``planned`` trials (:func:`saved_statuses`)."""
    return sum(s in ENDED for s in statuses.values()) >= planned


def cut_short(statuses: dict[str, str]) -> set[str]:
    """Ids of the trials Tune had not ended when it stopped (Ctrl-C)."""
    return {trial_id for trial_id, s in statuses.items() if s not in ENDED}


class RunStoppedError(RuntimeError):
    """Ray Tune stopped before the end; the message says how to continue."""


def fit(tuner: Any, out: Path, what: str) -> Any:
    """``tuner.fit()``; an error inside Ray or Tune becomes :class:`RunStoppedError`
    saying that finished trials are kept and ``--resume`` continues."""
    try:
        with warnings.catch_warnings():
            # a resumed trial replays its epochs: Optuna notes that it has those steps
            warnings.filterwarnings("ignore", message="The reported value is ignored")
            return tuner.fit()
    except Exception as err:  # noqa: BLE001 - Tune raises RuntimeError, TuneError, RayError
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise RunStoppedError(
            f"the {what} in {out} stopped: {type(err).__name__}: {first[:500]}. Finished "
            "trials are kept; continue with --resume"
        ) from err


__all__ = [
    "ENDED",
    "MAX_FAILURES",
    "RunStoppedError",
    "cut_short",
    "ended_all",
    "fit",
    "make_tuner",
    "prepare_output",
    "saved_statuses",
]
