"""Console reporting of a training run: what will run, how long it should take, and one
line per (pre-training) epoch.

The loop calls a :class:`ConsoleReporter` at its boundaries: :meth:`~ConsoleReporter.plan`
before the first pass, :meth:`~ConsoleReporter.batch` after every minibatch,
:meth:`~ConsoleReporter.pass_done` after every pass, :meth:`~ConsoleReporter.epoch` after
every recorded (pre-training) epoch and :meth:`~ConsoleReporter.done` at the end. Lines
go to standard output (through ``tqdm.write``, so they do not tear a progress bar on the
terminal) whether or not standard error is a terminal: a log file of
``neurosim train ... > log`` holds them.

The time estimate is the mean seconds per batch of each phase ("forward",
"feedback") over its first :data:`ESTIMATE_BATCHES` batches (fewer when a pass is
shorter), times the batches of an epoch::

    seconds per epoch ~ n_batches * (t_forward + n_feedback_passes * t_feedback)

(the first batch, which builds the model's simulators, is included, and models that
simulate the sleep phase only every k-th batch average over it; evaluation is not
counted). It is printed once, as soon as the phases it needs have been measured.
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from typing import Any, TextIO

from tqdm import tqdm

#: batches of a phase timed before its per-batch time enters the estimate
ESTIMATE_BATCHES = 16


def _seconds(s: float) -> str:
    """``12.3 s``, ``4.5 min`` or ``1.2 h``."""
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    return f"{s / 3600:.3g} h"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    """``1 epoch``, ``3 epochs``; ``plural`` for irregular forms (``batches``)."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


class ConsoleReporter:
    """Plain-text progress of one training run (see the module docstring).

    Parameters
    ----------
    enabled
        ``False``: print nothing (``train(..., quiet=True)``).
    stream
        Where lines go (default: ``sys.stdout`` at the time of printing).
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream
        self._timed: dict[str, list[float]] = defaultdict(list)
        self._announced: set[str] = set()
        self._n_batches = 0
        self._n_pre = 0
        self._n_fb = 0
        self._epochs = 0
        self._start = time.perf_counter()
        self._epoch_seconds: list[float] = []
        self._remaining_pre = 0

    # -- output -----------------------------------------------------------------------
    def say(self, line: str) -> None:
        """Print one line (nothing when disabled)."""
        if self.enabled:
            tqdm.write(line, file=self.stream or sys.stdout)
            (self.stream or sys.stdout).flush()

    # -- boundaries -------------------------------------------------------------------
    def plan(
        self,
        title: str,
        *,
        n_pretrain: int,
        pretrain_done: int,
        epochs: int,
        epochs_done: int,
        feedback_passes: int,
        n_batches: int,
        n_samples: int,
        batch_size: int,
        setting: str,
    ) -> None:
        """Say what will run: pre-training epochs, epochs, passes, batches.

        Parameters
        ----------
        title
            ``"dfc-ssa on mnist"``.
        n_pretrain, pretrain_done
            Feedback pre-training epochs of the schedule / already done (resume).
        epochs, epochs_done
            Training epochs of the schedule / already done (resume).
        feedback_passes
            Feedback passes per training epoch (0: the model has none).
        n_batches, n_samples, batch_size
            Minibatches per pass, training samples, batch size.
        setting
            Device, dtype and threads, e.g. ``"float64 on cpu, 2 threads"``.
        """
        self._n_batches, self._n_pre, self._n_fb, self._epochs = (
            n_batches, n_pretrain, feedback_passes, epochs,
        )  # fmt: skip
        self._remaining_pre = max(n_pretrain - pretrain_done, 0)
        parts = []
        if n_pretrain:
            parts.append(_plural(n_pretrain, "feedback pre-training epoch"))
        parts.append(_plural(epochs, "epoch"))
        each = "1 forward pass"
        if feedback_passes:
            each = f"{_plural(feedback_passes, 'feedback pass', 'feedback passes')} and {each}"
        line = (
            f"{title}: {', then '.join(parts)} (each epoch: {each}; a pass is "
            f"{_plural(n_batches, 'batch', 'batches')} of {batch_size} "
            f"from {n_samples} training samples); {setting}"
        )
        if pretrain_done or epochs_done:
            where = (
                f"epoch {epochs_done}/{epochs}"
                if epochs_done or not n_pretrain
                else f"pre-training epoch {pretrain_done}/{n_pretrain}"
            )
            line += f"; resuming after {where}"
        self.say(line)

    def batch(self, phase: str, seconds: float) -> None:
        """Record one batch's wall time; print the estimate once it is known."""
        timed = self._timed[phase]
        if len(timed) < ESTIMATE_BATCHES:
            timed.append(seconds)
            if len(timed) == min(ESTIMATE_BATCHES, self._n_batches):
                self._estimate()

    def pass_done(self, phase: str) -> None:
        """End of a pass: a phase shorter than :data:`ESTIMATE_BATCHES` is now measured."""
        if self._timed.get(phase):
            self._estimate()

    def epoch(self, rec: dict[str, Any]) -> None:
        """One line for a finished (pre-training) epoch record of ``metrics.jsonl``."""
        seconds = float(rec.get("seconds", math.nan))
        if rec.get("phase") == "pretrain":
            head = f"pre-training {rec['pretrain_epoch']}/{self._n_pre} (feedback)"
            values = _format_values(rec, ())
        else:
            head = f"epoch {rec['epoch']}/{self._epochs} (train)"
            self._epoch_seconds.append(seconds)
            values = _format_values(rec, _TRAIN_KEYS)
        took = _seconds(seconds)
        line = f"{head}: {values}; {took}" if values else f"{head}: {took}"
        self.say(line + self._elapsed_and_left(rec))

    def done(self) -> None:
        """Total time of the run."""
        self.say(f"finished in {_seconds(time.perf_counter() - self._start)}")

    # -- helpers ----------------------------------------------------------------------
    def _mean(self, phase: str) -> float | None:
        timed = self._timed.get(phase)
        return sum(timed) / len(timed) if timed else None

    def _estimate(self) -> None:
        fb, fwd = self._mean("feedback"), self._mean("forward")
        counts = sorted({len(t) for t in self._timed.values()})
        how = f"mean of the first {'/'.join(map(str, counts))} batches of each phase"
        if "pretrain" not in self._announced and self._remaining_pre and fb is not None:
            self._announced.add("pretrain")
            per = self._n_batches * fb
            self.say(
                f"about {_seconds(per)} per feedback pre-training epoch on this machine "
                f"({how}); {_plural(self._remaining_pre, 'pre-training epoch')} "
                f"about {_seconds(per * self._remaining_pre)}"
            )
        if "epoch" in self._announced or fwd is None or (self._n_fb and fb is None):
            return
        self._announced.add("epoch")
        per = self._n_batches * (fwd + self._n_fb * (fb or 0.0))
        self.say(f"about {_seconds(per)} per epoch on this machine ({how}; evaluation excluded)")

    def _elapsed_and_left(self, rec: dict[str, Any]) -> str:
        elapsed = f"; elapsed {_seconds(time.perf_counter() - self._start)}"
        if rec.get("phase") != "train" or not self._epoch_seconds:
            return elapsed
        left = (self._epochs - rec["epoch"]) * sum(self._epoch_seconds) / len(self._epoch_seconds)
        return elapsed + (f", about {_seconds(left)} left" if left > 0 else "")


#: record keys of a training epoch line, in order, with their printed names
_TRAIN_KEYS = (
    ("train_loss", "train loss"),
    ("train_error", "train error"),
    ("val_loss", "val loss"),
    ("val_error", "val error"),
    ("test_loss", "test loss"),
    ("test_error", "test error"),
)


def _format_values(rec: dict[str, Any], keys: tuple[tuple[str, str], ...]) -> str:
    """``loss 0.2345, train error 7.12%, ...`` plus the feedback metrics (``fb_*``)."""
    out = []
    for key, name in keys:
        v = rec.get(key)
        if isinstance(v, (int, float)):
            out.append(f"{name} {100 * v:.2f}%" if key.endswith("_error") else f"{name} {v:.4g}")
    for key in sorted(rec):
        v = rec[key]
        if key.startswith("fb_") and isinstance(v, (int, float)):
            out.append(f"{key} {v:.4g}")
    return ", ".join(out)


__all__ = ["ESTIMATE_BATCHES", "ConsoleReporter"]
