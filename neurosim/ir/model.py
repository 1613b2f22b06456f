"""The built model: named variables and ordered ops, independent of any backend.

``neurosim.build(network, dt=...)`` produces a :class:`Model`; the torch and brian2
backends consume it. All random numbers a simulation needs up front (initial
weights, noise seeds) are already drawn and stored here, so both backends start
from identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from neurosim.ir.ops import LocalPlasticity, Op

VariableKind = Literal["state", "current", "input", "parameter"]


@dataclass(frozen=True)
class Variable:
    """One named variable of the model.

    Kinds
    -----
    ``state``     per-sample, carried from step to step (voltages, rates, control).
    ``current``   per-sample, recomputed every step (projection outputs).
    ``input``     per-sample, supplied from outside (images, labels); constant over a
                  run unless ``time_varying`` (then shape ``(T, batch, size)``).
    ``parameter`` shared over the batch (weights ``(post, pre)``, biases ``(post,)``);
                  ``value`` holds the initial array; ``plastic`` marks learnable ones.
    """

    name: str
    kind: VariableKind
    shape: tuple[int, ...]
    value: np.ndarray | None = field(default=None, compare=False, repr=False)
    plastic: bool = False
    time_varying: bool = False
    population: str | None = None
    compartment: str | None = None

    @property
    def size(self) -> int:
        """Units per sample (last axis)."""
        return self.shape[-1]


@dataclass(frozen=True)
class Probe:
    """Record ``var`` every ``every`` steps (step 0 = the initial state)."""

    var: str
    every: int = 1


@dataclass
class Model:
    """Backend-neutral model: variables, init ops, step ops, probes.

    Parameters
    ----------
    variables : mapping name -> :class:`Variable`.
    init_ops : run once per sample after all per-sample state is zeroed.
    step_ops : one time step, in order (see :mod:`neurosim.ir.ops` for semantics).
    dt : Euler step (dimensionless time of the rate model).
    probes : what to record.
    meta : free-form description (network name, seeds, options used to build).
    """

    variables: dict[str, Variable]
    init_ops: list[Op]
    step_ops: list[Op]
    dt: float
    probes: list[Probe] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # -- queries -----------------------------------------------------------------
    def of_kind(self, kind: VariableKind) -> list[Variable]:
        """Variables of one kind, in declaration order."""
        return [v for v in self.variables.values() if v.kind == kind]

    @property
    def plasticity_ops(self) -> list[LocalPlasticity]:
        """The local learning rules among the step ops."""
        return [op for op in self.step_ops if isinstance(op, LocalPlasticity)]

    @property
    def dynamics_ops(self) -> list[Op]:
        """Step ops that change state (everything but plasticity)."""
        return [op for op in self.step_ops if not isinstance(op, LocalPlasticity)]

    def loop_invariant_ops(self) -> list[Op]:
        """Step ops whose result never changes during a run (e.g. the drive ``W x``
        from a static input): a backend may compute them once per sample.

        An op qualifies when every variable it reads is an input that is static in
        time, a parameter, or the output of an op that qualified before it; and it
        is not stateful (noise, spikes), does not read its own output, and is the
        only step op writing each of its outputs (a variable written twice per step
        holds different values within the step)."""
        writers: dict[str, int] = {}
        for op in self.dynamics_ops:
            for w in op.writes:
                writers[w] = writers.get(w, 0) + 1
        invariant: list[Op] = []
        hoisted: set[str] = set()
        for op in self.dynamics_ops:
            static_reads = all(r not in writers or r in hoisted for r in op.reads)
            no_time_input = all(not self.variables[r].time_varying for r in op.reads)
            self_read = any(w in op.reads for w in op.writes)
            single_writer = all(writers[w] == 1 for w in op.writes)
            if static_reads and no_time_input and single_writer and not (op.stateful or self_read):
                invariant.append(op)
                hoisted.update(op.writes)
        return invariant

    # -- checks ------------------------------------------------------------------
    def validate(self) -> None:
        """Every op reads and writes declared variables of compatible kind."""
        names = [op.name for op in self.init_ops + self.step_ops]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"Model: op names must be unique, repeated: {sorted(dup)}")
        for op in self.init_ops + self.step_ops:
            for v in op.reads + op.writes:
                if v not in self.variables:
                    raise ValueError(
                        f"Model: op '{op.name}' ({type(op).__name__}) uses undeclared "
                        f"variable '{v}'; declare it in Model.variables"
                    )
            for v in op.writes:
                if self.variables[v].kind in ("input", "parameter"):
                    raise ValueError(
                        f"Model: op '{op.name}' writes {self.variables[v].kind} '{v}'; "
                        "only state and current variables change during a run"
                    )
        for p in self.probes:
            if p.var not in self.variables:
                raise ValueError(f"Model: probe on unknown variable '{p.var}'")
            if p.every < 1:
                raise ValueError(f"Model: probe on '{p.var}' needs every >= 1, got {p.every}")

    # -- printing ----------------------------------------------------------------
    def __str__(self) -> str:
        lines = [f"Model '{self.meta.get('name', 'model')}'  dt={self.dt:g}"]
        lines.append("variables:")
        for v in self.variables.values():
            flags = " plastic" if v.plastic else ""
            flags += " time-varying" if v.time_varying else ""
            lines.append(f"  {v.kind:<9} {v.name:<28} {str(v.shape):<12}{flags}")
        lines.append("init (once per sample):")
        lines += [f"  {i:>3}. {op.describe()}" for i, op in enumerate(self.init_ops)]
        lines.append("step (every dt, in this order):")
        lines += [f"  {i:>3}. {op.describe()}" for i, op in enumerate(self.step_ops)]
        if self.probes:
            lines.append("probes: " + ", ".join(f"{p.var}/{p.every}" for p in self.probes))
        return "\n".join(lines)
