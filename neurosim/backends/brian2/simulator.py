"""The brian2 backend: :class:`Brian2Simulator` (same reset/run interface as torch).

Each :meth:`Brian2Simulator.run` lowers the IR model (cached per plasticity mode),
materialises it as an explicit brian2 ``Network`` on the chosen target and runs one
*block* of samples in a single brian2 ``run``: inputs are 2-D ``TimedArray`` s (one
row per sample), the init ops fire once per sample on a clock of period ``T*dt``.
Weights and biases live between runs in :attr:`Brian2Simulator.parameters`; online
learning changes them inside brian2 and they are read back after the run, as is the
final state of every per-sample variable (:attr:`Brian2Simulator.state`), on every
target. A run never continues the previous one (unlike ``TorchSimulator.run``): it
starts from the init ops, so a second :meth:`~Brian2Simulator.run` without
:meth:`~Brian2Simulator.reset` is refused rather than silently restarted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from neurosim.backends import progress as progress_mod
from neurosim.backends import validation
from neurosim.backends.brian2.lowering import lower
from neurosim.backends.brian2.network import Built, build, check_schedule
from neurosim.backends.brian2.plan import Plan, sanitize
from neurosim.backends.brian2.targets import check_callback, check_target, device
from neurosim.core.errors import (
    SimulationDivergedError,
    Summary,
    ValidationError,
    check_count,
)
from neurosim.ir import Model
from neurosim.ir.stability import BOUND, likely_causes

_WINDOW_SAMPLES = {"all": lambda T: T, "steps": lambda T: T - 1, "last": lambda T: 1}

#: ``callback(sample, step, state)``: block sample index, step within the sample (0 =
#: the initial state), live per-sample state ``var -> (batch, n)``.
Callback = Callable[[int, int, Mapping[str, np.ndarray]], None]


@dataclass
class RunResult:
    """Traces ``var -> (T, batch, n)`` (``(n_samples, T, batch, n)`` for blocks),
    parameter updates ``name -> array`` and the number of Euler steps."""

    traces: dict[str, np.ndarray]
    updates: dict[str, np.ndarray] = field(default_factory=dict)
    steps: int = 0


class Brian2Simulator:
    """Simulate an IR :class:`~neurosim.ir.model.Model` with brian2.

    Parameters
    ----------
    model : the built IR model.
    target : ``"numpy"``, ``"cython"`` or ``"cpp_standalone"`` (see
        :mod:`neurosim.backends.brian2.targets`).
    batch_size : samples simulated side by side (batch copies of every group).
    params : options: ``time_unit`` (brian2 time of one model time unit, default
        1 second), ``hoist`` (compute loop-invariant projections once per sample,
        default True), ``event_driven`` (spikes of a spiking soma reach their targets
        as brian2 events, threshold + ``on_pre``; default False).
    progress : default progress report of :meth:`run` (the settings of
        :mod:`neurosim.backends.progress`, as ``TorchSimulator``): None (brian2's report
        on stderr when stderr is a terminal and the run has >= 1000 steps), True or
        ``"text"`` (brian2's report on stderr: simulated fraction, elapsed and remaining
        wall time, every ``report_period`` seconds), False (none).
    check_finite : after each run, check the recorded traces and the final state for
        NaN/inf and raise :class:`~neurosim.core.errors.SimulationDivergedError` with
        the first step, the variable and the likely cause.
    """

    def __init__(
        self,
        model: Model,
        target: str = "numpy",
        batch_size: int = 1,
        params: dict | None = None,
        progress: bool | str | None = None,
        check_finite: bool = True,
    ) -> None:
        if not isinstance(model, Model):
            raise ValidationError(
                "Brian2Simulator",
                "model",
                model,
                f"is a {type(model).__name__}, not a built neurosim.ir.Model",
                "give neurosim.build(network, dt=...)",
            )
        self.model = model
        self.target = check_target(target)
        self.batch_size = check_count("Brian2Simulator", "batch_size", batch_size, minimum=1)
        self.progress = progress_mod.check_progress("Brian2Simulator", progress)
        self.check_finite = bool(check_finite)
        opts = dict(params or {})
        self.time_unit = opts.pop("time_unit", 1 * b2.second)
        if not b2.have_same_dimensions(self.time_unit, b2.second):
            raise ValueError(f"Brian2Simulator: time_unit={self.time_unit!r} must be a time")
        self.hoist = bool(opts.pop("hoist", True))
        self.event_driven = bool(opts.pop("event_driven", False))
        if opts:
            raise ValueError(
                f"Brian2Simulator: unknown params {sorted(opts)}; "
                "use time_unit, hoist, event_driven"
            )
        self.parameters = {
            v.name: np.array(v.value, dtype=float, copy=True) for v in model.of_kind("parameter")
        }
        self._plans: dict[str | None, Plan] = {}
        self._inputs: dict[str, np.ndarray] | None = None
        self._simulated = False  # the loaded inputs were run already
        #: final per-sample state of the last run: var -> (batch, n)
        self.state: dict[str, np.ndarray] = {}
        self.last_schedule = ""
        #: wall-clock of the last run: total, simulation only (standalone: the binary's)
        self.last_timing: dict[str, float] = {}

    def plan(self, plasticity: str | None = "accumulate") -> Plan:
        """The lowered plan for one plasticity mode (cached)."""
        if plasticity not in self._plans:
            self._plans[plasticity] = lower(
                self.model, plasticity, hoist=self.hoist, event_driven=self.event_driven
            )
        return self._plans[plasticity]

    # -- interface shared with the torch backend ------------------------------------------
    def reset(self, inputs: dict[str, np.ndarray]) -> None:
        """Load one batch of inputs: ``(batch, size)``; time-varying ``(steps, batch, size)``
        (row ``k-1`` drives step ``k``, the init ops read row 0, as the torch backend).

        Checked as by ``TorchSimulator.reset`` (:mod:`neurosim.backends.validation`):
        declared names, numeric, finite, ``batch_size`` rows; float32 inputs are widened
        to float64 with a :class:`~neurosim.core.errors.PrecisionWarning`."""
        validation.check_inputs("Brian2Simulator.reset", self.model, inputs)
        self._inputs = {
            k: validation.check_input(
                "Brian2Simulator.reset",
                self.model.variables[k],
                v,
                convert=lambda x: np.asarray(x, dtype=float),
                nonfinite=validation.numpy_nonfinite,
                sim_dtype="float64",
                batch=self.batch_size,
            )
            for k, v in inputs.items()
        }
        self._simulated = False

    def run(
        self,
        steps: int,
        record: list[str] | None = None,
        plasticity: str | None = "accumulate",
        lr: float = 0.0,
        spikes: bool = False,
        callback: Callback | None = None,
        callback_every: int = 1,
        report: object = None,
        report_period: float = 10.0,
    ) -> RunResult:
        """Simulate ``steps`` Euler steps from the init state of the loaded inputs.

        Traces (the model's probes plus ``record``, one name or a list) have shape
        ``(steps + 1, batch, n)`` (row 0 = initial state). ``plasticity``:
        ``"accumulate"``, ``"online"`` or ``"off"``/None. ``callback`` (runtime targets
        only): called every ``callback_every`` steps during the run, see
        :data:`Callback`. ``report``: brian2's progress report (as
        :meth:`brian2.Network.run`: ``"text"``/``"stdout"``, ``"stderr"``, or on the
        runtime targets a callable ``report(elapsed, completed, start, duration)``),
        every ``report_period`` seconds of wall time; None: the simulator's
        ``progress``; False: none.

        A brian2 run is one block that starts from the init ops; it cannot continue the
        previous run as ``TorchSimulator.run`` does. Running the same loaded inputs twice
        is therefore refused: call :meth:`reset` again (a deliberate restart), or
        simulate all steps in one call.
        """
        if self._inputs is None:
            raise RuntimeError("Brian2Simulator.run: call reset(inputs) first")
        if self._simulated:
            raise RuntimeError(
                "Brian2Simulator.run: these inputs were simulated already and a brian2 run "
                "cannot continue the previous one (every run starts from the init ops, "
                "unlike TorchSimulator.run); call reset(inputs) to start again from the "
                "init state, or run all steps in one call"
            )
        block = {k: v[None] for k, v in self._inputs.items()}
        res = self.run_samples(block, steps, record, plasticity, lr, spikes, callback,
                               callback_every, report, report_period)  # fmt: skip
        res.traces = {k: v[0] for k, v in res.traces.items()}
        self._simulated = True
        return res

    def run_samples(
        self,
        inputs: dict[str, np.ndarray],
        steps: int,
        record: list[str] | None = None,
        plasticity: str | None = "accumulate",
        lr: float = 0.0,
        spikes: bool = False,
        callback: Callback | None = None,
        callback_every: int = 1,
        report: object = None,
        report_period: float = 10.0,
    ) -> RunResult:
        """Simulate a block of samples back to back in one brian2 run.

        ``inputs[name]`` has a leading sample axis: ``(n_samples, batch, size)`` (or
        ``(n_samples, steps, batch, size)`` if time-varying). Online learning carries the
        weights from one sample to the next. Traces: ``(n_samples, T, batch, n)``.
        ``callback``, ``report``: as in :meth:`run` (a callback, or a callable report, is
        refused on ``cpp_standalone``).
        """
        steps = validation.check_steps("Brian2Simulator.run", steps, minimum=1)
        check_callback(self.target, callback, callback_every)
        if plasticity == "online" and self.batch_size > 1 and self.model.plasticity_ops:
            raise ValueError(
                "Brian2Simulator: online plasticity needs batch_size=1 (each batch copy "
                "would learn its own weights); use plasticity='accumulate' for batches"
            )
        T = steps + 1
        plasticity = None if plasticity == "off" else plasticity
        plan = self.plan(plasticity)
        inputs, n_samples = self._check_inputs(inputs, T)
        record = validation.check_record(
            "Brian2Simulator.run", self.model, record, list(plan.homes)
        )
        record = list(dict.fromkeys([p.var for p in self.model.probes] + record))
        report = self._report(report, steps * n_samples)
        self._check_memory(plan, record, T, n_samples)
        monitored = self._monitored(plan, record, spikes)
        key = f"{plan.describe()}|{self.batch_size}|{sorted(monitored.items())}"
        seeds = [s for s in self._seeds() if s is not None]
        with device(self.target, key) as runner:
            if seeds:
                b2.seed(seeds[0])
            built = build(
                plan,
                dt=self.model.dt,
                batch=self.batch_size,
                T=T,
                n_samples=n_samples,
                inputs=inputs,
                time_varying={v.name for v in self.model.of_kind("input") if v.time_varying},
                params=self.parameters,
                record=monitored,
                lr=lr,
                time_unit=self.time_unit,
            )
            if callback is not None:
                built.net.add(self._operation(built, plan, callback, callback_every, T))
            check_schedule(built)
            self.last_schedule = built.net.scheduling_summary().__repr__()
            total, ran = runner(built.net, built.duration, built.namespace, report, report_period)
            self.last_timing = {"total_seconds": total, "run_seconds": ran,
                                "n_samples": n_samples, "steps": steps}  # fmt: skip
            traces = self._read_traces(plan, built, record, spikes, n_samples, T)
            updates = self._read_updates(plan, built, plasticity, T, n_samples)
            self.state = self._read_state(plan, built)
        if self.check_finite:
            self._check_finite(traces)
        return RunResult(traces, updates, steps)

    # -- helpers ---------------------------------------------------------------------------
    def _report(self, report: object, steps: int) -> object:
        """brian2's ``report`` argument from ``report`` or the ``progress`` default."""
        if report is False:
            return None
        if report is None:
            setting = progress_mod.resolve(self.progress, steps)
            report = "stderr" if setting else None
        if callable(report) and self.target == "cpp_standalone":
            raise ValidationError(
                "Brian2Simulator.run",
                "report",
                report,
                "is a Python callable, which the standalone binary cannot call",
                "use report='text' or 'stderr' on cpp_standalone",
            )
        if not (report is None or callable(report) or report in ("text", "stdout", "stderr")):
            raise ValidationError(
                "Brian2Simulator.run",
                "report",
                report,
                "is not allowed",
                "use None, False, 'text', 'stdout', 'stderr' or a callable",
            )
        return report

    def _check_memory(self, plan: Plan, record: list[str], T: int, n_samples: int) -> None:
        """Refuse a network or a recording that cannot fit into the free memory: every
        group and synapse variable of every batch copy, the indices of the synapses
        (brian2 keeps about four per synapse) and the monitors, in float64."""
        per_copy = sum(len(g.variables) * g.size for g in plan.groups.values())
        per_copy += sum((len(s.variables) + 4) * s.n_pre * s.n_post for s in plan.synapses.values())
        rows = n_samples * T
        monitored = sum(plan.groups[plan.homes[v]].size for v in record) * rows
        validation.check_memory(
            "Brian2Simulator.run",
            "batch_size",
            self.batch_size,
            8 * self.batch_size * (per_copy + monitored),
            "lower the batch size (Brian2Simulator(batch_size=)), record fewer variables or "
            "simulate fewer samples per run_samples call",
        )

    def _check_finite(self, traces: dict[str, np.ndarray]) -> None:
        """Raise :class:`SimulationDivergedError` if the run produced NaN/inf: the first
        step from the recorded traces, the variables from the final state."""
        bad_vars = [v for v, x in self.state.items() if not (np.abs(x) < BOUND).all()]
        first = None
        for var, tr in traces.items():
            rows = ~(np.abs(tr.reshape(*tr.shape[:2], -1)) < BOUND).all(-1)  # (samples, T)
            if rows.any():
                sample, row = np.argwhere(rows)[0]
                step = int(row) * {p.var: p.every for p in self.model.probes}.get(var, 1)
                if first is None or (sample, step) < first[:2]:
                    first = (int(sample), step, var)
        if not bad_vars and first is None:
            return
        where = "" if first is None else (
            f" first in the recorded traces: '{first[2]}' at step {first[1]}"
            + (f" of sample block {first[0]}" if first[0] else "") + ";"
        )  # fmt: skip
        name = self.model.meta.get("name", "model")
        raise SimulationDivergedError(
            f"Brian2Simulator.run: the state of '{name}' became NaN/inf (or |x| > {BOUND:g});"
            f"{where} diverged at the end: {bad_vars[:6]}. "
            f"Likely cause: {likely_causes(self.model)}. "
            "(Brian2Simulator(check_finite=False) returns such results without raising.)"
        )

    def _read_state(self, plan: Plan, built: Built) -> dict[str, np.ndarray]:
        """Current value of every per-sample IR variable: ``var -> (batch, n)``."""
        return dict(_LiveState(plan, built, self.batch_size))

    def _operation(
        self, built: Built, plan: Plan, callback: Callback, every: int, T: int
    ) -> b2.NetworkOperation:
        """A ``network_operation`` after every step's actions: ``callback(sample, step,
        state)`` at steps 0, every, 2*every, ... of each sample (runtime targets)."""
        state = _LiveState(plan, built, self.batch_size)
        clock = built.groups[next(iter(built.groups))].clock

        def operation() -> None:
            j = int(np.asarray(clock.timestep[:]).ravel()[0])
            sample, step = divmod(j, T)
            if step % every == 0:
                callback(sample, step, state)

        return b2.NetworkOperation(operation, when="end", clock=clock, name="neurosim_callback")

    def _seeds(self) -> list[int | None]:
        """Seeds of the noisy/spiking step ops. brian2 has one global random stream per
        run, so the first seed seeds it (runs are reproducible, streams are not per op)."""
        seeds = []
        for op in self.model.step_ops:
            seed = getattr(op, "noise_seed", None)
            seeds.append(seed if seed is not None else getattr(op, "seed", None))
        return seeds

    def _check_inputs(self, inputs: dict, T: int) -> tuple[dict, int]:
        """Blocks ``(n_samples, [T-1,] batch, n)`` of every input (``run_samples``)."""
        validation.check_inputs("Brian2Simulator.run_samples", self.model, inputs)
        out, n = {}, None
        for var in self.model.of_kind("input"):
            if var.name not in inputs:
                raise ValueError(
                    f"Brian2Simulator: input '{var.name}' missing; pass all of "
                    f"{[v.name for v in self.model.of_kind('input')]}"
                )
            x = np.asarray(inputs[var.name], dtype=float)
            want = (self.batch_size, var.size)
            if var.time_varying:
                if x.ndim == 4 and x.shape[1] >= T - 1:
                    x = x[:, : T - 1]
                want = (T - 1, *want)
            if x.shape[1:] != want:
                raise ValueError(
                    f"Brian2Simulator: input '{var.name}' has shape {x.shape[1:]} per "
                    f"sample, expected {want} (T={T}, batch_size={self.batch_size})"
                )
            bad = validation.numpy_nonfinite(x)
            if bad is not None:
                raise ValidationError(
                    "Brian2Simulator.run_samples",
                    f"inputs['{var.name}']",
                    Summary(f"<array of shape {x.shape}>"),
                    f"holds {bad[0]} NaN/inf values (first at index {bad[1]})",
                    "clean or impute the data before simulating",
                )
            n = x.shape[0] if n is None else n
            if x.shape[0] != n:
                raise ValueError(f"Brian2Simulator: inputs disagree on the number of samples ({n})")
            out[var.name] = x
        return out, n or 1

    def _monitored(self, plan: Plan, record: list[str], spikes: bool) -> dict[str, list[str]]:
        mon: dict[str, list[str]] = {k: [] for k in plan.groups}
        for var in record:
            if var not in plan.homes:
                raise ValueError(
                    f"Brian2Simulator: cannot record '{var}'; recordable: {sorted(plan.homes)}"
                )
            mon[plan.homes[var]].append(sanitize(var))
        if spikes:
            for dst, spk in plan.spikes.items():
                mon[plan.homes[dst]].append(spk)
        return mon

    def _read_traces(self, plan, built: Built, record, spikes, n_samples, T) -> dict:
        out = {}
        names = [(v, plan.homes[v], sanitize(v)) for v in record]
        if spikes:
            names += [(f"{d}.spikes", plan.homes[d], s) for d, s in plan.spikes.items()]
        every = {p.var: p.every for p in self.model.probes}
        for key, home, local in names:
            data = np.asarray(getattr(built.monitors[home], local))  # (neurons, time)
            size = plan.groups[home].size
            trace = data.T.reshape(n_samples, T, self.batch_size, size)
            out[key] = trace[:, :: every.get(key, 1)]  # Probe.every: rows 0, k, 2k, ...
        return out

    def _read_updates(self, plan, built: Built, plasticity, T, n_samples) -> dict:
        updates: dict[str, np.ndarray] = {}
        for p in plan.plasticity:
            syn = built.synapses[p.synapse]
            bi, post, pre = built.index[p.synapse]
            old = self.parameters[p.weight]
            if plasticity == "online":
                new = np.zeros_like(old)
                new[post, pre] = np.asarray(syn.w)
                updates[p.weight] = new - old
                self.parameters[p.weight] = new
                if p.bias:
                    b = np.asarray(getattr(built.groups[p.bias_group], sanitize(p.bias)))
                    b = b[: self.parameters[p.bias].size].copy()  # batch copy 0 (batch is 1)
                    updates[p.bias] = b - self.parameters[p.bias]
                    self.parameters[p.bias] = b
                continue
            n = _WINDOW_SAMPLES[p.window](T) * self.batch_size * n_samples
            acc = np.zeros_like(old)
            per_synapse = np.asarray(getattr(syn, p.acc), dtype=float)
            if p.fold is not None:  # the last sample's sum, not yet folded in brian2
                post_group, dsum, pre_group, pre_var = p.fold
                dsum = np.asarray(getattr(built.groups[post_group], dsum), dtype=float)
                x = np.asarray(getattr(built.groups[pre_group], pre_var), dtype=float)
                per_synapse = (
                    per_synapse + dsum[bi * old.shape[0] + post] * x[bi * old.shape[1] + pre]
                )
            np.add.at(acc, (post, pre), per_synapse)
            updates[p.weight] = p.scale * acc / n - p.decay * old
            if p.bias:
                bacc = np.asarray(getattr(built.groups[p.bias_group], p.bias_acc))
                db = bacc.reshape(self.batch_size, -1).sum(0)
                updates[p.bias] = p.scale * db / n
        return updates


class _LiveState(Mapping):
    """Read-only view of the current per-sample state of a running network:
    ``var -> (batch, n)`` (each access reads brian2's arrays)."""

    def __init__(self, plan: Plan, built: Built, batch: int) -> None:
        self._plan, self._built, self._batch = plan, built, batch

    def __getitem__(self, var: str) -> np.ndarray:
        if var not in self._plan.homes:
            raise KeyError(f"'{var}' is not a per-sample variable; see sim.plan().homes")
        home = self._plan.homes[var]
        values = np.asarray(getattr(self._built.groups[home], sanitize(var))[:], dtype=float)
        return values.reshape(self._batch, self._plan.groups[home].size).copy()

    def __iter__(self):
        return iter(self._plan.homes)

    def __len__(self) -> int:
        return len(self._plan.homes)
