"""The time loop of one :meth:`TorchSimulator.run`.

Order of a run of ``T-1`` steps (``T`` time samples, DFC App. E.1):

1. ``hoist()`` (loop-invariant ops), ``prepare()`` (constant plasticity factors);
2. record row 0, plasticity samples of the initial state (window ``all``);
3. for ``k = 1 .. T-1``: ``step(slot j)``, record row ``k``; every ``K`` steps the plasticity
   chunk buffers are folded into the accumulators with one matmul each;
4. final fold and scaling of the updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from tqdm.auto import tqdm

from neurosim.backends.torch.program import Program
from neurosim.backends.torch.recording import SteadyState, Trace

if TYPE_CHECKING:
    from neurosim.backends.torch.simulator import TorchSimulator

#: memory budget of the (K, batch, n) plasticity chunk buffers.
CHUNK_BYTES = 32 * 2**20


@dataclass
class RunResult:
    """What one run returns.

    traces : var -> ``(T_rec, batch, n)``; row 0 is the state at the start of the run.
    updates : parameter -> accumulated plasticity update (``plasticity="accumulate"``)
        or the net change applied during the run (``"online"``).
    steps : Euler steps taken.
    converged_at : per-sample step of convergence (``run_until_steady``; -1: never).
    """

    traces: dict[str, Tensor]
    updates: dict[str, Tensor]
    steps: int
    converged_at: Tensor | None = None


class Runner:
    """Executes one run of ``prog`` on the simulator's current state."""

    def __init__(
        self,
        sim: TorchSimulator,
        prog: Program,
        steps: int,
        record: list[str],
        lr: float | Mapping[str, float],
        progress: bool,
        steady: tuple[float, int] | None,
    ) -> None:
        self.sim, self.prog, self.steps, self.progress = sim, prog, steps, progress
        self.ns, self.B = prog.ns, sim.batch
        model = sim.model
        for v in record:
            if v not in model.variables:
                raise KeyError(f"TorchSimulator.run: cannot record unknown variable '{v}'")
        every = {p.var: p.every for p in model.probes}
        every.update({v: 1 for v in record})
        rows = steps + 1 if steady is None else min(steps + 1, 1024)
        self.traces = {v: Trace(self._getter(v), e, (rows + e - 1) // e) for v, e in every.items()}
        self.time_varying = [
            v.name for v in model.variables.values() if v.time_varying and v.name in sim.state
        ]
        per_slot = (
            sum(
                (r.n_post + r.n_pre)
                for r in prog.rules
                if r.strategy == "buffer" and r.op.window != "last"
            )
            * self.B
            * torch.finfo(sim.dtype).bits
            // 8
        )
        self.chunk = max(1, min(steps + 1, CHUNK_BYTES // per_slot)) if per_slot else 1
        self.lr = lr
        self.steady = None
        if steady is not None:
            state_vars = [v.name for v in model.of_kind("state")]
            self.steady = SteadyState(
                lambda: [sim.state[v] for v in state_vars], steady[0], steady[1], self.B
            )

    def _getter(self, var: str):
        name = self.prog.emitter.v(var)
        if var in self.sim.params:
            p = self.sim.params[var]
            return lambda: p.unsqueeze(0).expand(self.B, *p.shape)
        return lambda: self.ns[name]

    def _lr(self, param: str) -> float:
        if isinstance(self.lr, Mapping):
            if param not in self.lr:
                raise KeyError(f"TorchSimulator.run: lr has no entry for plastic '{param}'")
            return float(self.lr[param])
        return float(self.lr)

    def run(self) -> RunResult:
        prog, ns, sim = self.prog, self.ns, self.sim
        like = torch.empty(0, dtype=sim.dtype, device=sim.device)
        for rule in prog.rules:
            rule.allocate(ns, self.B, self.chunk, like)
            if prog.mode == "online":
                rule.set_online(ns, self._lr(rule.op.weight), sim.model.dt, self.B)
        online = {p for r in prog.rules for p in r.op.updates} if prog.mode == "online" else set()
        start = {p: sim.params[p].clone() for p in online}
        prog.hoist()
        prog.prepare()
        for tr in self.traces.values():
            tr.record(0)
        j0 = 0
        if any(r.samples_initial for r in prog.rules):
            prog.sample0(*prog.slot_args(0))
            j0 = 1
        steps = self._loop(j0)
        ns_rows = {"all": steps + 1, "steps": steps, "last": 1}
        updates: dict[str, torch.Tensor] = {}
        for rule in prog.rules:
            if rule.strategy == "online":
                continue
            n = max(ns_rows[rule.op.window], 1)
            updates.update(rule.finalize(ns, n, self.B))
            if prog.mode == "online":  # window "last": applied once, at the end
                for p in rule.op.updates:
                    sim.params[p].add_(updates[p], alpha=self._lr(rule.op.weight) * sim.model.dt)
        for p, w0 in start.items():
            updates[p] = sim.params[p] - w0
        traces = {v: tr.result() for v, tr in self.traces.items()}
        conv = self.steady.converged_at if self.steady else None
        return RunResult(traces=traces, updates=updates, steps=steps, converged_at=conv)

    def _loop(self, j0: int) -> int:
        prog, ns, sim = self.prog, self.ns, self.sim
        step = sim._step_fn(prog)
        buffered = [r for r in prog.rules if r.strategy == "buffer" and r.op.window != "last"]
        last = [r for r in prog.rules if r.strategy == "buffer" and r.op.window == "last"]
        tv = [(prog.emitter.v(v), v) for v in self.time_varying]
        traces = list(self.traces.values())
        steady, K, t0 = self.steady, self.chunk, sim._t
        first_lo = {r.op.name: 0 if r.samples_initial else j0 for r in buffered}
        bar = tqdm(total=self.steps, disable=not self.progress, unit="step", leave=False)
        tick = max(1, self.steps // 200)
        slots = [prog.slot_args(i) for i in range(K)]
        j, k = j0, 0
        for k in range(1, self.steps + 1):
            for name, var in tv:
                ns[name] = sim._row(var, t0 + k - 1)
            if j == K:
                for r in buffered:
                    r.flush(ns, first_lo.get(r.op.name, 0), K)
                first_lo.clear()
                j = 0
            if steady is not None:
                steady.before(k)
            step(*slots[j])
            j += 1
            for tr in traces:
                tr.record(k)
            if k % tick == 0:
                bar.update(tick)
            if steady is not None and steady.after(k):
                break
        bar.close()
        for r in buffered:
            r.flush(ns, first_lo.get(r.op.name, 0), j)
        if k > 0:
            for r in last:
                r.flush(ns, 0, 1)
        for name, var in tv:  # leave the current row bound for the state of the simulator
            ns[name] = sim._row(var, min(t0 + k, sim.state[var].shape[0] - 1))
        return k
