"""The brian2 backend: :class:`Brian2Simulator` (same reset/run interface as torch).

Each :meth:`Brian2Simulator.run` lowers the IR model (cached per plasticity mode),
materialises it as an explicit brian2 ``Network`` on the chosen target and runs one
*block* of samples in a single brian2 ``run``: inputs are 2-D ``TimedArray`` s (one
row per sample), the init ops fire once per sample on a clock of period ``T*dt``.
Weights and biases live between runs in :attr:`Brian2Simulator.parameters`; online
learning changes them inside brian2 and they are read back after the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from neurosim.backends.brian2.lowering import lower
from neurosim.backends.brian2.network import Built, build
from neurosim.backends.brian2.plan import Plan, sanitize
from neurosim.backends.brian2.targets import check_target, device
from neurosim.ir import Model

_WINDOW_SAMPLES = {"all": lambda T: T, "steps": lambda T: T - 1, "last": lambda T: 1}


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
    """

    def __init__(
        self,
        model: Model,
        target: str = "numpy",
        batch_size: int = 1,
        params: dict | None = None,
    ) -> None:
        self.model = model
        self.target = check_target(target)
        if batch_size < 1:
            raise ValueError(f"Brian2Simulator: batch_size={batch_size}; use >= 1")
        self.batch_size = batch_size
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
        (row ``k-1`` drives step ``k``, the init ops read row 0, as the torch backend)."""
        self._inputs = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}

    def run(
        self,
        steps: int,
        record: list[str] | None = None,
        plasticity: str | None = "accumulate",
        lr: float = 0.0,
        spikes: bool = False,
    ) -> RunResult:
        """Simulate ``steps`` Euler steps from the init state of the loaded inputs.

        Traces (the model's probes plus ``record``) have shape ``(steps + 1, batch, n)``
        (row 0 = initial state). Unlike torch, every call starts from the init ops of
        the loaded inputs (a run is one compiled block; there is no continuation).
        ``plasticity``: ``"accumulate"``, ``"online"`` or ``"off"``/None.
        """
        if self._inputs is None:
            raise RuntimeError("Brian2Simulator.run: call reset(inputs) first")
        block = {k: v[None] for k, v in self._inputs.items()}
        res = self.run_samples(block, steps, record, plasticity, lr, spikes)
        res.traces = {k: v[0] for k, v in res.traces.items()}
        return res

    def run_samples(
        self,
        inputs: dict[str, np.ndarray],
        steps: int,
        record: list[str] | None = None,
        plasticity: str | None = "accumulate",
        lr: float = 0.0,
        spikes: bool = False,
    ) -> RunResult:
        """Simulate a block of samples back to back in one brian2 run.

        ``inputs[name]`` has a leading sample axis: ``(n_samples, batch, size)`` (or
        ``(n_samples, steps, batch, size)`` if time-varying). Online learning carries the
        weights from one sample to the next. Traces: ``(n_samples, T, batch, n)``.
        """
        if steps < 1:
            raise ValueError(f"Brian2Simulator.run: steps={steps}; use >= 1")
        if plasticity == "online" and self.batch_size > 1 and self.model.plasticity_ops:
            raise ValueError(
                "Brian2Simulator: online plasticity needs batch_size=1 (each batch copy "
                "would learn its own weights); use plasticity='accumulate' for batches"
            )
        T = steps + 1
        plasticity = None if plasticity == "off" else plasticity
        plan = self.plan(plasticity)
        inputs, n_samples = self._check_inputs(inputs, T)
        record = list(dict.fromkeys([p.var for p in self.model.probes] + list(record or [])))
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
            self.last_schedule = built.net.scheduling_summary().__repr__()
            total, ran = runner(built.net, built.duration, built.namespace)
            self.last_timing = {"total_seconds": total, "run_seconds": ran,
                                "n_samples": n_samples, "steps": steps}  # fmt: skip
            traces = self._read_traces(plan, built, record, spikes, n_samples, T)
            updates = self._read_updates(plan, built, plasticity, T, n_samples)
        return RunResult(traces, updates, steps)

    # -- helpers ---------------------------------------------------------------------------
    def _seeds(self) -> list[int | None]:
        """Seeds of the noisy/spiking step ops. brian2 has one global random stream per
        run, so the first seed seeds it (runs are reproducible, streams are not per op)."""
        seeds = []
        for op in self.model.step_ops:
            seed = getattr(op, "noise_seed", None)
            seeds.append(seed if seed is not None else getattr(op, "seed", None))
        return seeds

    def _check_inputs(self, inputs: dict, T: int) -> tuple[dict, int]:
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
            np.add.at(acc, (post, pre), np.asarray(getattr(syn, p.acc)))
            updates[p.weight] = p.scale * acc / n - p.decay * old
            if p.bias:
                bacc = np.asarray(getattr(built.groups[p.bias_group], p.bias_acc))
                db = bacc.reshape(self.batch_size, -1).sum(0)
                updates[p.bias] = p.scale * db / n
        return updates
