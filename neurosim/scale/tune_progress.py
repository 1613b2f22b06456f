"""Progress lines of a running sweep or comparison (a Ray Tune callback).

One line when a trial starts (its values), one per reported epoch, one when it ends
(finished, stopped early by the scheduler, diverged or failed), so a long sweep shows
where it is without Tune's status tables.
"""

from __future__ import annotations

import sys
from typing import Any

from ray.tune import Callback

from neurosim.scale.trials import OBJECTIVE


class TrialPrinter(Callback):
    """Print trial progress to stdout.

    Parameters
    ----------
    objective
        The metric the trials report (shown per epoch).
    total
        Number of trials of the run (for ``trial k/total``).
    """

    def __init__(self, objective: str, total: int) -> None:
        self.objective, self.total = objective, total
        self.index: dict[str, int] = {}
        self.last: dict[str, dict[str, Any]] = {}

    def _name(self, trial: Any) -> str:
        k = self.index.setdefault(trial.trial_id, len(self.index) + 1)
        return f"trial {k}/{self.total} ({trial.trial_id})"

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        values = ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial.config.items()))
        _say(f"{self._name(trial)} started: {values}")

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        self.last[trial.trial_id] = result
        if result.get("diverged"):
            _say(f"{self._name(trial)} diverged at epoch {result.get('epoch')}")
            return
        value = result.get(self.objective)
        text = f"{self.objective} {_short(value)}" if value is not None else ""
        _say(
            f"{self._name(trial)} epoch {result.get('epoch')}: {text} "
            f"(best {_short(result.get(OBJECTIVE))})"
        )

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = self.last.get(trial.trial_id, {})
        _say(f"{self._name(trial)} done: {self.objective} best {_short(result.get(OBJECTIVE))}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        _say(f"{self._name(trial)} FAILED (see trials.csv and the trial's run directory)")


def _say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


__all__ = ["TrialPrinter"]
