"""Progress of a long simulation: a tqdm bar on a terminal, text lines in a log.

Both simulators take the same settings (``TorchSimulator(progress=...)`` and its
``run(progress=...)``; ``Brian2Simulator(progress=...)``, whose ``run(report=...)``
also takes brian2's own ``report`` values):

``None``    automatic: a bar when stderr is a terminal and the run has at least
            :data:`AUTO_STEPS` steps, else nothing;
``True``    a bar (tqdm, on stderr);
``"text"``  one line every :data:`TEXT_PERIOD` seconds of wall time on stderr
            (steps done, percent, elapsed, estimated remaining): for logs and pipes;
``False``   nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm.auto import tqdm

from neurosim.core.errors import ValidationError

#: runs with at least this many steps show a bar by default on a terminal.
AUTO_STEPS = 1000
#: seconds between two lines of the text report.
TEXT_PERIOD = 10.0
SETTINGS = (None, True, False, "text")


def check_progress(owner: str, value: object) -> object:
    """Raise unless ``value`` is one of :data:`SETTINGS`."""
    if not (value is None or value is True or value is False or value == "text"):
        raise ValidationError(owner, "progress", value, "is not allowed", f"use one of {SETTINGS}")
    return value


def resolve(progress: object, steps: int) -> bool | str:
    """``True`` (bar), ``"text"`` or ``False`` for a run of ``steps`` steps."""
    if progress is None:
        return sys.stderr.isatty() and steps >= AUTO_STEPS
    return progress  # type: ignore[return-value]


class TextProgress:
    """tqdm's ``update``/``close`` interface, writing a line every ``period`` seconds
    (default :data:`TEXT_PERIOD`) and one at the end:
    ``"simulating: 4200/10000 steps (42%), 12.3 s elapsed, ~17 s left"``."""

    def __init__(
        self,
        total: int,
        desc: str = "simulating",
        period: float | None = None,
        file: TextIO | None = None,
    ) -> None:
        self.total, self.desc = total, desc
        self.period = TEXT_PERIOD if period is None else period
        self.file = file if file is not None else sys.stderr
        self.done = 0
        self.start = self.last = time.perf_counter()

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.period:
            self.last = now
            print(self.line(now), file=self.file, flush=True)

    def line(self, now: float | None = None) -> str:
        """The current progress as one line."""
        elapsed = (now or time.perf_counter()) - self.start
        frac = self.done / self.total if self.total else 1.0
        left = f", ~{elapsed * (1 - frac) / frac:.0f} s left" if 0 < frac < 1 else ""
        return (
            f"{self.desc}: {self.done}/{self.total} steps ({100 * frac:.0f}%), "
            f"{elapsed:.1f} s elapsed{left}"
        )

    def close(self) -> None:
        """The final line (steps done, total elapsed time)."""
        print(self.line(), file=self.file, flush=True)


def progress_bar(setting: bool | str, total: int, desc: str = "simulating"):
    """A tqdm bar, a :class:`TextProgress` or a disabled bar for ``setting``."""
    if setting == "text":
        return TextProgress(total, desc)
    return tqdm(total=total, disable=not setting, unit="step", leave=False, desc=desc)
