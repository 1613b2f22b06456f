"""The time loop of one :meth:`TorchSimulator.run`.

Order of a run of ``T-1`` steps (``T`` time samples, DFC App. E.1):

1. ``hoist()`` (loop-invariant ops), ``prepare()`` (constant plasticity factors);
2. record row 0, plasticity samples of the initial state (window ``all``);
3. for ``k = 1 .. T-1``: ``step(slot j, noise)``, record row ``k``; every ``K`` steps
   the plasticity chunk buffers are folded into the accumulators with one matmul each;
4. final fold and scaling of the updates.

**Noise** of the step ops is drawn ahead, a segment of ``K_n`` steps at a time (at
most :data:`NOISE_BYTES` per buffer), with one ``torch.randn`` per segment and op (per
step when a step's count is no multiple of 16) from the op's own generator: the same
stream as drawing inside the step (:class:`Noise`). While the steps of
one segment run, the next segment is drawn into a second buffer (by the calling
thread, when the run uses worker threads).

**Shards.** With ``workers > 1`` the batch is cut into contiguous blocks of rows, each
simulated by its own copy of the generated program on its own thread (one intra-op
thread each): samples are independent, so the shards meet only at the noise
segments' boundaries and at the end, where their plasticity sums are added. Each
row's arithmetic is the same as in an unsharded run; the updates differ only by the
order of the final sums over shards (rounding). On a CPU shared with other jobs this
degrades gracefully (a shard waits for a core, no op waits for a peer thread), unlike
intra-op parallelism of the small matmuls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from tqdm.auto import tqdm

from neurosim.backends.progress import progress_bar
from neurosim.backends.torch import guard as guard_mod
from neurosim.backends.torch.guard import FiniteGuard
from neurosim.backends.torch.program import Program
from neurosim.backends.torch.recording import SteadyState, Trace

if TYPE_CHECKING:
    from neurosim.backends.torch.simulator import TorchSimulator

#: memory budget of the (K, batch, n) plasticity chunk buffers.
CHUNK_BYTES = 32 * 2**20
#: memory budget of one (K_n, batch, n) buffer of pre-drawn noise (two are kept).
NOISE_BYTES = 8 * 2**20
#: smallest shard worth a thread of its own (rows of the batch).
MIN_SHARD_ROWS = 32
#: steps per captured CUDA graph (graph mode, see :class:`StepGraph`)
GRAPH_STEPS = 50


class StepGraph:
    """A segment of steps captured once and replayed (``TorchSimulator(graphs=True)``).

    On CUDA a :class:`torch.cuda.CUDAGraph`: the launches of ``GRAPH_STEPS`` steps (the
    ops, the fused matmuls, the plasticity chunk folds) are recorded once per run and
    noise buffer, then replayed as one launch, so a launch-bound phase (small batch,
    ~30 kernels per step) runs at the GPU's speed. Every tensor a step touches is
    preallocated and bound for the whole run (the generated step writes with ``out=``
    and in place), the normals come from the pre-drawn buffer of the segment's parity,
    and the plasticity chunk is the segment, so every replay does exactly what the
    captured segment did, at the same addresses. On the CPU (for tests of the segment
    logic only: no speed-up) capture keeps the call and replay calls it again.
    """

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.graph = torch.cuda.CUDAGraph() if self.cuda else None
        self.fn: Callable[[], object] | None = None

    def capture(self, fn: Callable[[], object]) -> None:
        """Record ``fn`` (on CUDA its kernels are recorded, not run: replay next)."""
        if self.cuda:
            with torch.cuda.graph(self.graph):
                fn()
        else:
            self.fn = fn

    def replay(self) -> None:
        if self.cuda:
            self.graph.replay()
        else:
            self.fn()


@dataclass
class RunResult:
    """What one run returns.

    traces : var -> ``(T_rec, batch, n)``; row 0 is the state at the start of the run.
    updates : parameter -> accumulated plasticity update (``plasticity="accumulate"``)
        or the net change applied during the run (``"online"``).
    steps : Euler steps taken.
    converged_at : per-sample step of convergence (``run_until_steady``; -1: never).
    shards : how many programs simulated the batch side by side (1: unsharded).
    replays : segments replayed from a captured graph (``graphs=True``).
    """

    traces: dict[str, Tensor]
    updates: dict[str, Tensor]
    steps: int
    converged_at: Tensor | None = None
    shards: int = 1
    replays: int = 0


class Noise:
    """Pre-drawn standard normals of the noisy step ops: two ``(K_n, batch, n)``
    buffers per op (one read by the steps, one being drawn).

    With ``sim.fast_noise`` and float64 state the normals are drawn in float32:
    torch's float32 normal sampler is vectorised (2.3 vs 13.8 ns per number measured
    here). Fused kernels read them as drawn; ops of the eager step read a widened
    float64 copy. The samples are standard normal to float32 resolution (2^-24
    relative), far below any noise amplitude a model uses; ``fast_noise=False`` draws
    float64 normals.

    Each op's normals of a whole segment are drawn in one ``torch.randn`` call when a
    step's ``batch * n`` is a multiple of 16: torch fills its normals 16 at a time
    from consecutive uniforms, so this is the very stream of one call per step
    (checked by the tests); otherwise step by step.
    """

    def __init__(self, sim: TorchSimulator, prog: Program, segment: int) -> None:
        self.ops = [(name, sim._generators[g], n) for name, g, n in prog.noise]
        self.K, self.B = segment, sim.batch
        narrow = sim.fast_noise and sim.dtype == torch.float64
        direct = prog.emitter.narrow_noise_slots
        f32 = {"dtype": torch.float32, "device": sim.device}
        own = {"dtype": sim.dtype, "device": sim.device}
        self.bufs = {
            name: [torch.empty(segment, self.B, n, **(f32 if name in direct else own))
                   for _ in range(2)]
            for name, _, n in self.ops
        }  # fmt: skip
        #: float32 draws widened into ``bufs`` (eager ops of a float64 fast-noise run)
        self.narrow = {
            name: torch.empty(segment, self.B, n, **f32)
            for name, _, n in self.ops
            if narrow and name not in direct
        }

    def draw(self, parity: int, count: int) -> None:
        """Fill slots ``0 .. count-1`` of buffer ``parity``."""
        for name, gen, n in self.ops:
            into = self.narrow.get(name, self.bufs[name][parity])
            if (self.B * n) % 16 == 0:
                torch.randn((count, self.B, n), generator=gen, out=into[:count], dtype=into.dtype)
            else:
                for j in range(count):
                    torch.randn((self.B, n), generator=gen, out=into[j], dtype=into.dtype)
            if name in self.narrow:
                self.bufs[name][parity][:count].copy_(into[:count])

    def views(self, parity: int, j: int, lo: int, hi: int) -> tuple[Tensor, ...]:
        """This step's normals of rows ``lo:hi`` (arguments of ``step``)."""
        return tuple(self.bufs[name][parity][j][lo:hi] for name, _, _ in self.ops)


class Shard:
    """Rows ``lo:hi`` of the batch, simulated by one program (its own namespace)."""

    def __init__(
        self, runner: Runner, prog: Program, lo: int, hi: int, steady: SteadyState | None
    ) -> None:
        self.runner, self.prog, self.lo, self.hi = runner, prog, lo, hi
        self.ns, self.B = prog.ns, hi - lo
        sim = runner.sim
        self.traces = {
            v: Trace(self._getter(v), e, (runner.rows + e - 1) // e)
            for v, e in runner.every.items()
        }
        self.steady = steady
        self.buffered = [r for r in prog.rules if r.strategy == "buffer" and r.op.window != "last"]
        self.last = [r for r in prog.rules if r.strategy == "buffer" and r.op.window == "last"]
        self.tv = [(prog.emitter.v(v), v) for v in runner.time_varying]
        self.step_fn = sim._step_fn(prog)
        self.guard = (
            FiniteGuard(
                sim.model, {v.name: self._getter(v.name) for v in sim.model.of_kind("state")}, lo
            )
            if sim.check_finite
            else None
        )
        self.j = 0
        self.first_lo: dict[str, int] = {}
        self.k = 0

    def _getter(self, var: str) -> Callable[[], Tensor]:
        name = self.prog.emitter.v(var)
        sim = self.runner.sim
        if var in sim.params:
            p = sim.params[var]
            return lambda: p.unsqueeze(0).expand(self.B, *p.shape)
        return lambda: self.ns[name]

    def start(self) -> None:
        """Allocate the plasticity buffers, record and sample row 0, hoist, prepare.

        Hoisting comes after row 0: a hoisted op writes its value as the first step
        would (``Program`` hoists only ops that no earlier op of the step reads), so
        the initial state, its trace row and its plasticity sample stay unchanged."""
        prog, ns, run = self.prog, self.ns, self.runner
        like = torch.empty(0, dtype=run.sim.dtype, device=run.sim.device)
        for rule in prog.rules:
            rule.allocate(ns, self.B, run.chunk, like)
            if prog.mode == "online":
                rule.set_online(ns, run.lr_of(rule.op.weight), run.sim.model.dt, self.B)
        for tr in self.traces.values():
            tr.record(0)
        self.j = 0
        if any(r.samples_initial for r in prog.rules):
            prog.sample0(*prog.slot_args(0))
            self.j = 1
        prog.hoist()
        prog.prepare()
        prog.bind_kernels(run.sim.params, self.B)
        self.first_lo = {r.op.name: 0 if r.samples_initial else self.j for r in self.buffered}
        self.slots = [prog.slot_args(i) for i in range(run.chunk)]
        nz, K = run.noise, run.segment
        self.noise_args = (
            [[nz.views(p, j, self.lo, self.hi) for j in range(K)] for p in (0, 1)] if nz else None
        )

    def run(self, k0: int, k1: int, parity: int, bar: tqdm | None) -> bool:
        """Steps ``k0 .. k1`` (1-based, inclusive) reading noise buffer ``parity`` from
        slot 0; True if the run converged (``run_until_steady``) and stopped."""
        run, ns, sim = self.runner, self.ns, self.runner.sim
        K, t0 = run.chunk, run.t0
        noise_args = self.noise_args[parity] if self.noise_args else None
        steady, traces, tick = self.steady, list(self.traces.values()), run.tick
        guard, every = self.guard, guard_mod.EVERY
        for k in range(k0, k1 + 1):
            if run.stop.is_set():
                raise RuntimeError("TorchSimulator.run: stopped (another shard failed)")
            for name, var in self.tv:
                ns[name] = sim._row(var, t0 + k - 1)[self.lo : self.hi]
            if self.j == K:
                for r in self.buffered:
                    r.flush(ns, self.first_lo.get(r.op.name, 0), K)
                self.first_lo.clear()
                self.j = 0
            if steady is not None:
                steady.before(k)
            if noise_args is None:
                self.step_fn(*self.slots[self.j])
            else:
                self.step_fn(*self.slots[self.j], *noise_args[k - k0])
            self.j += 1
            self.k = k
            for tr in traces:
                tr.record(k)
            if bar is not None and k % tick == 0:
                bar.update(tick)
            if guard is not None and k % every == 0:
                guard.check(k, self.traces)
            if steady is not None and steady.after(k):
                return True
        return False

    def finish(self) -> None:
        """Fold the last partial chunk (and window ``last`` rules)."""
        for r in self.buffered:
            r.flush(self.ns, self.first_lo.get(r.op.name, 0), self.j)
        if self.k > 0:
            for r in self.last:
                r.flush(self.ns, 0, 1)
        sim = self.runner.sim
        for name, var in self.tv:  # leave the current row bound for the simulator's state
            last = min(self.runner.t0 + self.k, sim.state[var].shape[0] - 1)
            self.ns[name] = sim._row(var, last)[self.lo : self.hi]


class Runner:
    """Executes one run of the programs ``progs`` (one per shard) on the simulator's
    current state; ``bounds`` are the shards' row ranges, ``pool`` the executor of the
    shards (``None``: everything on the calling thread)."""

    def __init__(
        self,
        sim: TorchSimulator,
        progs: list[Program],
        bounds: list[tuple[int, int]],
        steps: int,
        record: list[str],
        lr: float | Mapping[str, float],
        progress: bool,
        steady: tuple[float, int] | None,
        pool: object | None = None,
    ) -> None:
        self.sim, self.progs, self.steps, self.progress = sim, progs, steps, progress
        self.B, self.lr, self.pool, self.t0 = sim.batch, lr, pool, sim._t
        model, prog = sim.model, progs[0]
        for v in record:
            if v not in model.variables:
                raise KeyError(f"TorchSimulator.run: cannot record unknown variable '{v}'")
        self.every = {p.var: p.every for p in model.probes}
        self.every.update({v: 1 for v in record})
        self.rows = steps + 1 if steady is None else min(steps + 1, 1024)
        self.time_varying = [
            v.name for v in model.variables.values() if v.time_varying and v.name in sim.state
        ]
        self.chunk = self._plasticity_chunk(prog)
        self.segment = self._noise_segment(prog, steady is not None)
        #: captured segments by noise parity (graph mode), see :class:`StepGraph`
        self.graphs: dict[int, StepGraph] | None = None
        self.replays = 0
        if self._graph_mode(progs, record, steady is not None):
            self.chunk = self.segment = GRAPH_STEPS
            self.graphs = {}
        self.noise = Noise(sim, prog, self.segment) if prog.noise else None
        self.tick = max(1, steps // 200)
        self.stop = threading.Event()
        st = None
        if steady is not None:
            state_vars = [v.name for v in model.of_kind("state")]
            st = SteadyState(
                lambda: [sim.state[v] for v in state_vars], steady[0], steady[1], self.B
            )
        self.steady = st
        self.shards = [
            Shard(self, p, lo, hi, st) for p, (lo, hi) in zip(progs, bounds, strict=True)
        ]

    def _graph_mode(self, progs: list[Program], record: list[str], steady: bool) -> bool:
        """Capture segments (``sim.graphs``) when every replay can do the same thing:
        one program, nothing recorded or tested per step, inputs fixed in time, and at
        least one segment to replay after the first (run eagerly: the warm-up)."""
        return bool(
            self.sim.graphs
            and len(progs) == 1
            and not steady
            and not self.every
            and not self.time_varying
            and self.steps >= 2 * GRAPH_STEPS
        )

    def _plasticity_chunk(self, prog: Program) -> int:
        itemsize = torch.finfo(self.sim.dtype).bits // 8
        per_slot = sum(
            r.n_post + r.n_pre
            for r in prog.rules
            if r.strategy == "buffer" and r.op.window != "last"
        )
        if not per_slot:
            return 1
        return max(1, min(self.steps + 1, CHUNK_BYTES // (per_slot * self.B * itemsize)))

    def _noise_segment(self, prog: Program, steady: bool) -> int:
        """Steps per noise segment: one when the run may stop early (no normals are
        drawn that a step does not use), else :data:`NOISE_BYTES` per buffer."""
        if not prog.noise:
            return max(1, self.steps)
        if steady:
            return 1
        itemsize = torch.finfo(self.sim.dtype).bits // 8
        per_step = sum(n for _, _, n in prog.noise) * self.B * itemsize
        return max(1, min(self.steps, NOISE_BYTES // per_step))

    def lr_of(self, param: str) -> float:
        """Online learning rate of ``param``."""
        if isinstance(self.lr, Mapping):
            if param not in self.lr:
                raise KeyError(f"TorchSimulator.run: lr has no entry for plastic '{param}'")
            return float(self.lr[param])
        return float(self.lr)

    def run(self) -> RunResult:
        sim, prog = self.sim, self.progs[0]
        online = {p for r in prog.rules for p in r.op.updates} if prog.mode == "online" else set()
        start = {p: sim.params[p].clone() for p in online}
        for shard in self.shards:
            shard.start()
        steps = self._loop()
        for shard in self.shards:
            if shard.guard is not None:
                shard.guard.check(shard.k, shard.traces)
            shard.finish()
        updates = self._updates(steps)
        for p, w0 in start.items():
            updates[p] = sim.params[p] - w0
        traces = {}
        for v in self.every:
            parts = [s.traces[v].result() for s in self.shards]
            traces[v] = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        conv = self.steady.converged_at if self.steady else None
        return RunResult(traces, updates, steps, conv, len(self.shards), self.replays)

    def _updates(self, steps: int) -> dict[str, Tensor]:
        sim, prog = self.sim, self.progs[0]
        ns_rows = {"all": steps + 1, "steps": steps, "last": 1}
        updates: dict[str, Tensor] = {}
        for i, rule in enumerate(prog.rules):
            if rule.strategy == "online":
                continue
            sums = [s.prog.rules[i].fold(s.ns) for s in self.shards]
            accW, accb = sums[0]
            for w, b in sums[1:]:
                accW, accb = accW + w, accb + b
            n = max(ns_rows[rule.op.window], 1)
            updates.update(rule.result(accW, accb, sim.params[rule.op.weight], n, self.B))
            if prog.mode == "online":  # window "last": applied once, at the end
                for p in rule.op.updates:
                    sim.params[p].add_(updates[p], alpha=self.lr_of(rule.op.weight) * sim.model.dt)
        return updates

    def _loop(self) -> int:
        """Run the segments; returns the number of steps taken."""
        K, noise = self.segment, self.noise
        segments = [(a, min(a + K - 1, self.steps)) for a in range(1, self.steps + 1, K)]
        bar = progress_bar(self.progress, self.steps)
        try:
            if noise is not None and segments:
                noise.draw(0, segments[0][1] - segments[0][0] + 1)
            for i, (a, b) in enumerate(segments):
                nxt = segments[i + 1] if i + 1 < len(segments) else None
                if self._segment(a, b, i % 2, nxt, bar):
                    return self.shards[0].k
        finally:
            bar.close()
        return self.steps

    def _segment(self, a: int, b: int, parity: int, nxt: tuple[int, int] | None, bar: tqdm) -> bool:
        """Steps ``a..b`` on every shard while the next segment's noise is drawn."""
        draw_next = (
            (lambda: self.noise.draw(1 - parity, nxt[1] - nxt[0] + 1))
            if self.noise is not None and nxt is not None
            else None
        )
        shards = self.shards
        if self.graphs is not None and a > 1 and b - a + 1 == self.segment:
            shard = shards[0]
            graph = self.graphs.get(parity)
            if graph is None:
                graph = self.graphs[parity] = StepGraph(self.sim.device)
                guard, shard.guard = shard.guard, None  # no synchronising check captured
                try:
                    graph.capture(lambda: shard.run(a, b, parity, None))
                finally:
                    shard.guard = guard
            graph.replay()
            self.replays += 1
            shard.k = b
            if shard.guard is not None and b // guard_mod.EVERY > (a - 1) // guard_mod.EVERY:
                shard.guard.check(b, shard.traces)  # after the replay (every EVERY steps)
            if bar is not None:
                bar.update(b - a + 1)
            if draw_next is not None:
                draw_next()
            return False
        if self.pool is None:
            done = shards[0].run(a, b, parity, bar)
            if draw_next is not None and not done:
                draw_next()
            return done
        futures: list[Future] = [
            self.pool.submit(_on_worker, s, a, b, parity, bar if s is shards[0] else None)  # type: ignore[attr-defined]
            for s in shards
        ]
        try:
            if draw_next is not None:
                draw_next()
            return any([f.result() for f in futures])
        except BaseException:
            self.stop.set()
            for f in futures:
                f.exception()  # wait: no shard may still be writing when we return
            raise


def _on_worker(shard: Shard, a: int, b: int, parity: int, bar: tqdm | None) -> bool:
    """:meth:`Shard.run` on a worker thread with one intra-op thread.

    ``torch.set_num_threads`` in the calling thread sets only that thread's OpenMP
    (and MKL) thread count: a worker thread starts with the process default (all
    cores), so without this each shard's matmuls would fan out over every core and the
    shards would oversubscribe the CPU (measured here, 2 cores, two 64-row shards of
    the DFC forward phase: 0.76 s per run instead of 0.45 s). ~2 us per segment.
    """
    torch.set_num_threads(1)
    return shard.run(a, b, parity, bar)
