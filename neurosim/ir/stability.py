"""Explicit-Euler stability of a built model: the build-time ``dt`` warning and the
likely causes named when a simulation's state becomes NaN or inf.

Every ``Integrate`` op with a time constant is one explicit Euler update
(:class:`~neurosim.ir.ops.Integrate`)::

    x <- x + dt/tau * (-leak_eff * x + drive),   leak_eff = leak - (self-input gains)

On its own (drive held fixed) this multiplies the deviation from the fixed point by
``1 - a`` per step, ``a = dt * leak_eff / tau``:

* ``a < 1``: monotone approach (accurate when ``a`` is small; the DFC configs use up
  to 0.57, the sleep phase's ``dt_fb / tau_v,fb``);
* ``a = 1``: the exact assignment ``x <- dt/tau * drive`` (an instantaneous dendrite
  written as ``tau = dt``, DFC.md §1.2): fine;
* ``1 < a < 2``: the update overshoots and oscillates around the fixed point;
* ``a >= 2``: unstable, the state grows without bound (NaN/inf within a few hundred
  steps).

:func:`euler_rates` lists ``a`` per op; :func:`check_time_step` warns at build time
(:class:`~neurosim.core.errors.TimeStepWarning`) when ``a >= CLOSE`` (except the exact
``a = 1``); :func:`likely_causes` is what a backend appends when the state diverged:
the ops with ``a > 1``, then large input gains (e.g. a controller's ``k_p``), which make
the coupled loop unstable even when each op alone is stable. The analysis looks at
each op's own leak only (the diagonal of the update), not at the coupled system.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from neurosim.core.errors import TimeStepWarning
from neurosim.ir.model import Model
from neurosim.ir.ops import Integrate

#: ``dt * leak / tau`` at or above which the build warns ("dt comes close to tau").
CLOSE = 0.8
#: an input gain above this is named as a likely cause of divergence.
LARGE_GAIN = 100.0
#: a state of larger magnitude counts as diverged, like NaN and inf (rate models live
#: near O(1); a run that reaches 1e100 has left every meaningful range and overflows soon).
BOUND = 1e100


@dataclass(frozen=True)
class EulerRate:
    """``ratio = dt * leak / tau`` of one explicit Euler update (see module docstring)."""

    op: str
    var: str
    tau: float
    leak: float
    ratio: float

    @property
    def limit(self) -> float:
        """The ``dt`` at which ``ratio`` reaches 1 (``tau / leak``)."""
        return self.tau / self.leak

    def verdict(self) -> str:
        """What the ratio means for the update, in words."""
        if self.ratio >= 2.0:
            return "explicit Euler is unstable (the state grows without bound)"
        if self.ratio > 1.0:
            return "explicit Euler overshoots and oscillates around the fixed point"
        return "explicit Euler is inaccurate this close to the time constant"

    def describe(self, dt: float) -> str:
        """One sentence: which op, which time constant, what happens, the fix."""
        return (
            f"dt={dt:g} gives dt*leak/tau = {self.ratio:.3g} for '{self.var}' (op "
            f"'{self.op}', tau={self.tau:g}, leak={self.leak:g}): {self.verdict()}; use "
            f"dt <= {self.limit / 10:.3g} (tau/leak/10) or a larger tau"
        )


def euler_rates(model: Model) -> list[EulerRate]:
    """``dt * leak_eff / tau`` of every Integrate op with a time constant, largest first."""
    out = []
    for op in model.init_ops + model.step_ops:
        if not isinstance(op, Integrate) or op.tau is None:
            continue
        leak = op.leak - sum(c for c, v in op.inputs if v == op.var)
        if leak > 0:
            out.append(EulerRate(op.name, op.var, op.tau, leak, model.dt * leak / op.tau))
    return sorted(out, key=lambda r: -r.ratio)


def risky_rates(model: Model, threshold: float = CLOSE) -> list[EulerRate]:
    """The rates at or above ``threshold``, without the exact assignment ``ratio == 1``."""
    return [r for r in euler_rates(model) if r.ratio >= threshold and r.ratio != 1.0]


def check_time_step(model: Model, stacklevel: int = 3) -> list[EulerRate]:
    """Warn (:class:`TimeStepWarning`) once per model if ``dt`` comes close to
    (``ratio >= CLOSE``) or exceeds a time constant; returns the offending rates."""
    risky = risky_rates(model)
    if risky:
        worst, more = risky[0], len(risky) - 1
        also = f" ({more} more op{'s' if more != 1 else ''} likewise)" if more else ""
        name = model.meta.get("name", "model")
        warnings.warn(
            f"model '{name}': {worst.describe(model.dt)}{also}",
            TimeStepWarning,
            stacklevel=stacklevel,
        )
    return risky


def large_gains(model: Model, threshold: float = LARGE_GAIN) -> list[tuple[str, float, str]]:
    """``(op description, gain, input)`` for every Integrate input gain above
    ``threshold`` in magnitude (e.g. ``u <- u_int + k_p e`` with a huge ``k_p``)."""
    out = []
    for op in model.step_ops:
        if isinstance(op, Integrate):
            out += [(op.describe(), c, v) for c, v in op.inputs if abs(c) > threshold]
    return sorted(out, key=lambda g: -abs(g[1]))


def _grouped(rates: list[EulerRate], dt: float) -> list[str]:
    """One sentence per distinct ratio, naming every variable that has it."""
    groups: dict[float, list[EulerRate]] = {}
    for r in rates:
        groups.setdefault(round(r.ratio, 12), []).append(r)
    out = []
    for same in groups.values():
        others = [f"'{r.var}'" for r in same[1:4]] + (["..."] if len(same) > 4 else [])
        also = f" (likewise {', '.join(others)})" if others else ""
        out.append(same[0].describe(dt) + also)
    return out


def likely_causes(model: Model) -> str:
    """The probable reasons a simulation of ``model`` diverged, most likely first."""
    causes = _grouped(risky_rates(model, threshold=1.0 + 1e-12), model.dt)
    causes += [
        f"the gain {gain:g} on '{var}' in `{text}` is large: with dt={model.dt:g} the "
        "feedback loop it closes is probably unstable; lower it (or dt)"
        for text, gain, var in large_gains(model)
    ]
    if not causes:
        return (
            "no single update is unstable (dt*leak/tau < 1 everywhere, no input gain "
            f"above {LARGE_GAIN:g}): the coupled dynamics probably are (feedback loop "
            "gains such as k_p or the weights, or extreme inputs); lower dt or the gains"
        )
    return "; ".join(causes[:3])
