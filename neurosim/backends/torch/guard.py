"""The non-finite check of a torch run: every :data:`EVERY` steps, not per step.

One check sums each per-sample state tensor of a shard (one reduction per variable,
one synchronisation) and tests the sums against :data:`~neurosim.ir.stability.BOUND`;
a NaN or inf anywhere makes its sum non-finite, a value beyond the bound makes it
huge (a diverging run is stopped before it overflows). Only when that trips is the
state searched for the culprit, and the run stops with
:class:`~neurosim.core.errors.SimulationDivergedError` naming the steps, the variable,
the samples and the likely cause (:func:`neurosim.ir.stability.likely_causes`);
recorded traces give the exact first step. Its cost is measured by
``benchmarks/simulate.py`` (the MNIST DFC forward phase; see the CHANGELOG).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from neurosim.core.errors import SimulationDivergedError
from neurosim.ir.model import Model
from neurosim.ir.stability import BOUND, likely_causes

#: steps between two checks.
EVERY = 100


class FiniteGuard:
    """Checks ``getters`` (state variable -> current tensor of rows ``lo:``) for NaN, inf
    and magnitudes beyond :data:`~neurosim.ir.stability.BOUND`.

    Parameters
    ----------
    model : the simulated model (for the likely cause).
    getters : per-sample state variables of one shard.
    lo : first batch row of the shard (sample numbers in the message are global).
    """

    def __init__(
        self, model: Model, getters: Mapping[str, Callable[[], Tensor]], lo: int = 0
    ) -> None:
        self.model, self.getters, self.lo = model, dict(getters), lo
        self.checked = 0  # last step known to be finite

    def check(self, k: int, traces: Mapping[str, object] | None = None) -> None:
        """Raise if the state after step ``k`` (of this run) holds a NaN or inf."""
        if not self.getters:
            return
        sums = torch.stack([get().sum() for get in self.getters.values()])
        if bool((sums.abs() < BOUND).all()):
            self.checked = k
            return
        raise SimulationDivergedError(self._message(k, traces or {}))

    def _message(self, k: int, traces: Mapping[str, object]) -> str:
        culprits = []
        for var, get in self.getters.items():
            bad = ~(get().abs() < BOUND)
            if bool(bad.any()):
                rows = bad.reshape(bad.shape[0], -1).any(1).nonzero()[:, 0]
                samples = [int(b) + self.lo for b in rows.tolist()]
                shown = ", ".join(map(str, samples[:5])) + (", ..." if len(samples) > 5 else "")
                culprits.append(f"'{var}' (sample{'s' if len(samples) > 1 else ''} {shown})")
        what = ", ".join(culprits[:4]) if culprits else "the sum of a variable"
        name = self.model.meta.get("name", "model")
        return (
            f"TorchSimulator.run: the state of '{name}' became NaN/inf (or |x| > {BOUND:g}) "
            f"between steps {self.checked + 1} and {k} of this run (checked every {EVERY} "
            f"steps); diverged at step {k}: {what}{self._first_recorded(traces)}. "
            f"Likely cause: {likely_causes(self.model)}. "
            "(TorchSimulator(check_finite=False) lets a run continue past NaN/inf.)"
        )

    @staticmethod
    def _first_recorded(traces: Mapping[str, object]) -> str:
        """``"; first in the recorded traces: 'l1.v' at step 37"`` if a trace shows it."""
        best: tuple[int, str] | None = None
        for var, trace in traces.items():
            rows = trace.result()  # type: ignore[attr-defined]
            bad = ~(rows.reshape(rows.shape[0], -1).abs() < BOUND).all(1)
            if bool(bad.any()):
                step = int(bad.nonzero()[0, 0]) * trace.every  # type: ignore[attr-defined]
                if best is None or step < best[0]:
                    best = (step, var)
        if best is None:
            return ""
        return f"; first in the recorded traces: '{best[1]}' at step {best[0]}"
