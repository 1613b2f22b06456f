"""Batched simulation of a built :class:`~neurosim.ir.Model` with PyTorch.

Per-sample variables are ``(batch, n)`` tensors, parameters are shared. One step is
a generated Python function with every op inlined in IR order (each op reads the
current values: the DFC update scheme of App. E.1 is encoded in that order), the
loop-invariant ops are computed once per run, and local plasticity is accumulated
as one matmul over time x batch (see :mod:`neurosim.backends.torch.plasticity`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from neurosim.backends import progress as progress_mod
from neurosim.backends import validation
from neurosim.backends.torch import runner as runner_mod
from neurosim.backends.torch.fused import KernelsUnavailableError
from neurosim.backends.torch.kernels import make_generator
from neurosim.backends.torch.program import Program
from neurosim.backends.torch.runner import Runner, RunResult
from neurosim.backends.torch.state import StateDict
from neurosim.core.errors import ValidationError, check_count
from neurosim.ir.model import Model
from neurosim.ir.ops import SpikeSoma

#: dtypes a simulator computes in, by every name a user may give them
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    torch.float32: torch.float32,
    torch.float64: torch.float64,
}


def torch_dtype(value: object, owner: str = "TorchSimulator") -> torch.dtype:
    """``torch.float32``/``torch.float64`` from a torch dtype, its name or a numpy dtype."""
    key = value
    if not isinstance(value, (str, torch.dtype)):
        try:
            key = np.dtype(value).name  # numpy dtypes and np.float64 etc.
        except TypeError:
            key = None
    if key not in DTYPES:
        raise ValidationError(
            owner,
            "dtype",
            value,
            "is not a supported dtype",
            "give torch.float32 or torch.float64 (or 'float32' / 'float64')",
        )
    return DTYPES[key]


def torch_device(value: object, owner: str = "TorchSimulator") -> torch.device:
    """A ``torch.device`` that this torch build can use (CUDA or MPS present)."""
    try:
        device = torch.device(value)  # type: ignore[arg-type]
    except (RuntimeError, TypeError) as err:
        raise ValidationError(
            owner, "device", value, f"is not a device ({err})", "give 'cpu', 'cuda' or 'cuda:0'"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError(
            owner,
            "device",
            value,
            f"is not available: this torch {torch.__version__} has no usable CUDA device "
            f"(compiled with CUDA {torch.version.cuda or 'no'}; torch.cuda.is_available() "
            "is False)",
            "use device='cpu', or install a CUDA build of torch on a machine with an "
            "NVIDIA GPU and driver",
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValidationError(
            owner,
            "device",
            value,
            f"does not exist: {torch.cuda.device_count()} CUDA device(s) visible",
            "use 'cuda' or an index below the device count",
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValidationError(
            owner,
            "device",
            value,
            "is not available on this machine or torch build",
            "use device='cpu'",
        )
    return device


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


_default_threads: int | None = None


def set_default_threads(n: int | None) -> None:
    """Cores a ``TorchSimulator(threads=None)`` run may use (None: every available
    core); ``neurosim train --threads N`` sets it to N for the run."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_default_threads: need an integer >= 1 or None, got {n!r}")
    global _default_threads
    _default_threads = n


def default_threads() -> int:
    """Cores a ``TorchSimulator(threads=None)`` run uses (see :func:`set_default_threads`)."""
    return _default_threads or available_cores()


class TorchSimulator:
    """Simulate ``model`` on ``device`` in ``dtype`` (float32 or float64).

    Parameters
    ----------
    model : built IR model.
    device, dtype : where and in which precision state and parameters live (``dtype``:
        ``torch.float32``/``torch.float64`` or their names; an unavailable device, e.g.
        ``"cuda"`` on a torch without CUDA, is refused here with what to do).
    params : tensors to share by parameter name (e.g. ``nn.Parameter`` s of a trainable
        model: plasticity and online updates change them in place); missing ones are
        copied from ``Variable.value`` (the IR keeps its initial values, so every
        simulator built from the same model starts from the same weights).
    compile : wrap the generated step in ``torch.compile`` (measured here: 1.1-1.15x
        on an idle CPU, 0.84-1.0x under load, ~30 s to compile; off by default).
    progress : default progress report of :meth:`run`: None (a tqdm bar when stderr
        is a terminal and the run has >= 1000 steps), True (bar), ``"text"`` (a line
        every 10 s: steps, elapsed, remaining; for logs) or False (see
        :mod:`neurosim.backends.progress`).
    hoist : compute loop-invariant ops once per run (disable only to test hoisting).
    fast_tanh : compute ``tanh`` as ``2 sigmoid(2x) - 1`` (5-8x faster on the CPUs
        measured, absolute error < 2 ulp of 1); ``False`` uses ``torch.tanh``.
    threads : CPU cores a run may use (None: :func:`default_threads`, every core
        available to the process unless :func:`set_default_threads` said otherwise, for
        shards, and torch's intra-op setting otherwise). With more than one, a batch of
        at least ``2 * runner.MIN_SHARD_ROWS`` (64) samples is cut into that many
        shards simulated side by side on worker threads with one intra-op thread each,
        while the calling thread draws the next noise segment (see
        :mod:`~neurosim.backends.torch.runner`); runs that cannot be sharded (online
        plasticity, ``run_until_steady``, spiking ops, ``compile``, small batches) use
        ``threads`` (None: ``torch.get_num_threads()``) intra-op threads. Shards
        degrade gracefully on a CPU shared with other jobs (a shard waits for a core;
        no op waits for a peer thread), intra-op parallel ops do not (they wait for
        their slowest thread: ``benchmarks/threads.py``).
    check_finite : every 100 steps and at the end of a run, check that the state holds
        no NaN/inf; stop with :class:`~neurosim.core.errors.SimulationDivergedError`
        naming the steps, the variable and the likely cause (unstable ``dt``, large
        gains; :mod:`neurosim.ir.stability`). ``False`` lets NaN/inf through (a model
        with its own divergence filter, e.g. DFC's convergence check).
    shards : allow cutting the batch into shards (``False``: one program, intra-op
        threads only).
    fast_noise : in float64, draw the Euler-Maruyama normals in float32 and widen them
        (6x faster sampling; standard normal to 2^-24 relative resolution; see
        :class:`~neurosim.backends.torch.runner.Noise`). ``False``: float64 normals.
    graphs : capture segments of ``runner.GRAPH_STEPS`` steps and replay them
        (:class:`~neurosim.backends.torch.runner.StepGraph`: CUDA graphs; None: on for
        CUDA; on the CPU only a test of the segment logic). Runs that record traces,
        test for a steady state, read time-varying inputs or are split into shards
        run step by step.
    fused : compile the runs of elementwise step ops into C kernels
        (:mod:`~neurosim.backends.torch.fused`; cached, built with the system C
        compiler). None (default): on for CPU runs without ``compile``; without a
        compiler the eager step runs after a one-line notice.

    Examples
    --------
    >>> sim = TorchSimulator(model, dtype=torch.float64)        # doctest: +SKIP
    >>> sim.reset({"x.r": x, "ctrl.label": y})                  # doctest: +SKIP
    >>> res = sim.run(1000, record=["h1.v"])                    # doctest: +SKIP
    >>> res.traces["h1.v"].shape, res.updates["x_to_h1_basal.W"].shape  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Model,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str = torch.float32,
        params: Mapping[str, Tensor] | None = None,
        compile: bool = False,
        progress: bool | None = None,
        hoist: bool = True,
        fast_tanh: bool = True,
        threads: int | None = None,
        shards: bool = True,
        fast_noise: bool = True,
        check_finite: bool = True,
        fused: bool | None = None,
        graphs: bool | None = None,
    ) -> None:
        if not isinstance(model, Model):
            raise ValidationError(
                "TorchSimulator",
                "model",
                model,
                f"is a {type(model).__name__}, not a built neurosim.ir.Model",
                "give neurosim.build(network, dt=...)",
            )
        self.model = model
        self.dtype, self.device = torch_dtype(dtype), torch_device(device)
        self.compile, self.hoist = compile, hoist
        self.progress = progress_mod.check_progress("TorchSimulator", progress)
        self.fast_tanh, self.shards = fast_tanh, shards
        self.fast_noise, self.check_finite = fast_noise, bool(check_finite)
        if threads is not None:
            threads = check_count("TorchSimulator", "threads", threads, minimum=1)
        self.threads = threads
        self.fused = self.device.type == "cpu" and not compile if fused is None else fused
        self.graphs = self.device.type == "cuda" if graphs is None else graphs
        if self.fused and self.device.type != "cpu":
            raise ValidationError(
                "TorchSimulator",
                "fused",
                fused,
                f"compiles C kernels for the CPU, but the simulator runs on {self.device}",
                "pass fused=False (or None: the default per device)",
            )
        self.params: dict[str, Tensor] = self._make_params(dict(params or {}))
        self.state: StateDict = StateDict(self.dtype, self.device)
        self._hidden: dict[str, Tensor] = {}
        self._generators: dict[str, torch.Generator] = {}
        self._programs: dict[str, Program] = {}
        self._shard_programs: dict[tuple[str, int], Program] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._compiled: dict[str, object] = {}
        self._batch: int | None = None
        self._t = 0
        self._last_mode = "accumulate"
        self._program("off")  # lowers every op now: unsupported ops fail at construction

    # -- construction -----------------------------------------------------------------
    def _make_params(self, given: dict[str, Tensor]) -> dict[str, Tensor]:
        declared = {v.name: v for v in self.model.of_kind("parameter")}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise KeyError(
                f"TorchSimulator: params {unknown} are not parameters of model "
                f"'{self.model.meta.get('name', 'model')}'; known: {sorted(declared)}"
            )
        out: dict[str, Tensor] = {}
        for name, var in declared.items():
            if name in given:
                t = given[name]
                if t.dtype != self.dtype or t.device != self.device:
                    raise ValueError(
                        f"TorchSimulator: shared param '{name}' is {t.dtype} on {t.device}, "
                        f"the simulator runs {self.dtype} on {self.device}; convert it first "
                        "(sharing needs the same tensor)"
                    )
            elif var.value is None:
                raise ValueError(
                    f"TorchSimulator: parameter '{name}' has no value; pass it in params="
                )
            else:  # a copy: plasticity must never write into the IR's initial values
                t = torch.tensor(np.asarray(var.value), dtype=self.dtype, device=self.device)
            want = tuple(var.shape)
            if tuple(t.shape) != want:
                raise ValueError(
                    f"TorchSimulator: parameter '{name}' has shape {tuple(t.shape)}, the model "
                    f"declares {want}"
                )
            out[name] = t
        return out

    def _new_program(self, mode: str) -> Program:
        """A program for ``mode``: fused kernels if enabled and buildable, else eager
        (after a one-line notice, once)."""
        opts = {"hoist": self.hoist, "fast_tanh": self.fast_tanh, "dtype": self.dtype}
        if self.fused:
            narrow = self.fast_noise and self.dtype == torch.float64
            try:
                return Program(self.model, mode, fused=True, narrow_noise=narrow, **opts)
            except KernelsUnavailableError:
                self.fused = False
        return Program(self.model, mode, **opts)

    def _program(self, mode: str) -> Program:
        if mode not in self._programs:
            prog = self._new_program(mode)
            for name, seed in prog.emitter.generator_seeds.items():
                if name not in self._generators:
                    self._generators[name] = make_generator(seed, self.device)
            self._programs[mode] = prog
        return self._programs[mode]

    @property
    def step_source(self) -> str:
        """Generated source of the last used plasticity mode (default ``accumulate``)."""
        return self._program(self._last_mode).source

    def describe_plan(self, plasticity: str | None = None) -> str:
        """What is hoisted, inlined and how plasticity is accumulated, in step order."""
        text = self._program(plasticity or self._last_mode).describe()
        return text + f"\ncompile: {'torch.compile(step)' if self.compile else 'off'}"

    def rng_state(self) -> dict[str, Tensor]:
        """State of every noise generator (``torch.Generator.get_state``: uint8
        tensors, loadable with ``torch.load(weights_only=True)``), by generator name."""
        return {name: g.get_state() for name, g in sorted(self._generators.items())}

    def set_rng_state(self, state: Mapping[str, Tensor]) -> None:
        """Restore what :meth:`rng_state` returned (the noise continues exactly)."""
        if set(state) != set(self._generators):
            raise KeyError(
                f"TorchSimulator.set_rng_state: got generators {sorted(state)}, the model "
                f"'{self.model.meta.get('name', 'model')}' has {sorted(self._generators)}"
            )
        for name, st in state.items():
            # a fresh tensor: set_state crashes on a view with a storage offset (torch 2.13)
            self._generators[name].set_state(st.detach().to("cpu", torch.uint8).clone())

    def manual_seed(self, seed: int) -> None:
        """Re-seed every noise generator with ``op seed + seed``."""
        for prog in self._programs.values():
            for name, s in prog.emitter.generator_seeds.items():
                self._generators[name].manual_seed((s + int(seed)) % (2**63))

    # -- state ------------------------------------------------------------------------
    @property
    def batch(self) -> int:
        if self._batch is None:
            raise RuntimeError("TorchSimulator: no batch yet; call reset(inputs) first")
        return self._batch

    def _as_input(self, name: str, value: object, batch: int | None) -> Tensor:
        """One input as a tensor of the simulator's dtype and device, checked
        (:func:`neurosim.backends.validation.check_input`)."""
        return validation.check_input(
            "TorchSimulator.reset",
            self.model.variables[name],
            value,
            convert=lambda v: torch.as_tensor(v, dtype=self.dtype, device=self.device),
            nonfinite=_nonfinite,
            sim_dtype=str(self.dtype).removeprefix("torch."),
            batch=batch,
        )

    def reset(self, inputs: Mapping[str, object], batch: int | None = None) -> None:
        """Zero all per-sample state, set the inputs, run the init ops.

        Parameters
        ----------
        inputs : input variable -> ``(batch, n)`` (time-varying: ``(T, batch, n)``;
            step ``s`` of the run reads row ``s``, the init ops row 0). Numeric, finite,
            of the declared size; a float32 input of a float64 simulator is widened
            with a :class:`~neurosim.core.errors.PrecisionWarning`.
        batch : batch size when no input carries it.
        """
        owner = "TorchSimulator.reset"
        validation.check_inputs(owner, self.model, inputs)
        if batch is not None:
            batch = check_count(owner, "batch", batch, minimum=1)
        ins: dict[str, Tensor] = {}
        for k, v in inputs.items():
            first = next(iter(ins.values()), None)
            ins[k] = self._as_input(k, v, batch if first is None else first.shape[-2])
        if batch is None and not ins:
            raise ValidationError(
                owner,
                "inputs",
                {},
                "is empty and no batch size is given",
                "pass the inputs, or batch= for a model without (read) inputs",
            )
        B = batch if batch is not None else next(iter(ins.values())).shape[-2]
        read = {r for op in self.model.init_ops + self.model.step_ops for r in op.reads}
        for var in self.model.of_kind("input"):
            if var.name not in ins and var.value is None and var.name in read:
                raise ValidationError(
                    owner,
                    "inputs",
                    sorted(ins),
                    f"lacks the input '{var.name}'",
                    f"give every input the model reads: "
                    f"{sorted(v.name for v in self.model.of_kind('input') if v.name in read)}",
                )
        self._check_state_memory(B)
        try:
            self._reset(ins, B)
        except (RuntimeError, MemoryError) as err:
            raise validation.out_of_memory(
                owner, "batch", B, err, "lower the batch size (simulate the data in chunks)"
            ) from err

    def _check_state_memory(self, batch: int) -> None:
        """Refuse a batch whose per-sample state cannot fit into the free memory (CPU)."""
        if self.device.type != "cpu":
            return
        units = sum(v.size for v in self.model.variables.values() if v.kind != "parameter")
        nbytes = 2 * batch * units * torch.finfo(self.dtype).bits // 8  # state + scratch
        validation.check_memory(
            "TorchSimulator.reset",
            "batch",
            batch,
            nbytes,
            "lower the batch size (simulate the data in chunks)",
        )

    def _reset(self, ins: dict[str, Tensor], B: int) -> None:
        state = StateDict(self.dtype, self.device)
        opts = {"dtype": self.dtype, "device": self.device}
        for var in self.model.variables.values():
            if var.kind in ("state", "current"):
                state[var.name] = torch.zeros(B, var.size, **opts)
            elif var.kind == "input" and var.name not in ins and var.value is not None:
                value = torch.tensor(np.asarray(var.value), **opts).reshape(-1, var.size)
                state[var.name] = value.expand(B, var.size).contiguous()
        state.update(ins)
        self.state, self._batch, self._t = state, B, 0
        prog = self._program("off")
        for name, size in prog.emitter.hidden_sizes.items():
            self._hidden[name] = torch.zeros(B, size, **opts)
        with torch.no_grad():
            self._bind(prog)
            prog.init()

    def _bind(self, prog: Program, row: int = 0, rows: tuple[int, int] | None = None) -> None:
        """Bind ``prog`` to the current state (time-varying inputs: row ``row``);
        ``rows``: only the samples ``lo:hi`` (a shard; views of the state)."""
        lo, hi = rows if rows is not None else (0, self.batch)
        sl = slice(lo, hi)
        tensors = {k: t[sl] for k, t in self.state.items()}
        for var in self.model.variables.values():
            if var.time_varying and var.name in tensors:
                tensors[var.name] = self._row(var.name, row)[sl]
        for name, size in prog.emitter.hidden_sizes.items():
            if name not in self._hidden or self._hidden[name].shape[0] != self.batch:
                self._hidden[name] = torch.zeros(
                    self.batch, size, dtype=self.dtype, device=self.device
                )
        hidden = {k: t[sl] for k, t in self._hidden.items()}
        like = torch.empty(0, dtype=self.dtype, device=self.device)
        prog.bind(tensors, self.params, hidden, self._generators, hi - lo, like)

    def _row(self, name: str, s: int) -> Tensor:
        x = self.state[name]
        if s >= x.shape[0]:
            raise IndexError(
                f"TorchSimulator: time-varying input '{name}' has {x.shape[0]} rows, step {s} "
                "needs more; supply at least as many rows as steps"
            )
        return x[s]

    # -- running ----------------------------------------------------------------------
    def step(self) -> None:
        """One Euler step of the dynamics (no plasticity, nothing recorded)."""
        self.run(1, plasticity="off", progress=False)

    def run(
        self,
        steps: int,
        record: str | Sequence[str] = (),
        plasticity: str = "accumulate",
        lr: float | Mapping[str, float] = 0.0,
        progress: bool | str | None = None,
    ) -> RunResult:
        """Run ``steps`` Euler steps from the current state.

        Parameters
        ----------
        steps : number of steps, an int >= 0 (the traces then have ``steps // every + 1``
            rows).
        record : variables to record every step, besides the model's probes (one name
            or a list; an unknown name is refused with the close matches).
        plasticity : ``"accumulate"`` (return the updates), ``"online"`` (apply
            ``W += lr*dt*dW_k`` every step; window ``last``: once at the end) or ``"off"``.
        lr : online learning rate, one for all or per parameter name.
        progress : None (the simulator's ``progress``), True (tqdm bar), ``"text"``
            (a line every 10 s) or False.

        Raises
        ------
        SimulationDivergedError
            The state became NaN/inf (with ``check_finite``): names the steps, the
            variable and the likely cause.
        """
        return self._run(steps, record, plasticity, lr, progress, None)

    def run_until_steady(
        self,
        tol: float = 1e-8,
        max_steps: int = 100_000,
        check_every: int = 100,
        record: str | Sequence[str] = (),
        plasticity: str = "accumulate",
        lr: float | Mapping[str, float] = 0.0,
        progress: bool | str | None = None,
    ) -> RunResult:
        """Run until every sample's state changes by less than ``tol`` per step.

        The test (``max |x[k] - x[k-1]|`` over all state variables) runs every
        ``check_every`` steps; the run stops when all samples passed or after
        ``max_steps``. ``RunResult.converged_at`` gives each sample's step (-1: never).
        """
        return self._run(max_steps, record, plasticity, lr, progress, (tol, check_every))

    def _run(
        self,
        steps: int,
        record: str | Sequence[str],
        mode: str,
        lr: float | Mapping[str, float],
        progress: bool | str | None,
        steady: tuple[float, int] | None,
    ) -> RunResult:
        owner = "TorchSimulator.run"
        steps = validation.check_steps(owner, steps)
        record = validation.check_record(owner, self.model, record, list(self.model.variables))
        if progress is None:
            progress = self.progress
        progress = progress_mod.check_progress(owner, progress)
        self._check_trace_memory(steps, record, steady is not None)
        prog = self._program(mode)
        self._last_mode = mode
        n_shards, use_pool, threads = self._parallel_plan(prog, steady is not None)
        progs = [prog] + [self._shard_program(mode, i) for i in range(1, n_shards)]
        B = self.batch
        bounds = [(B * i // n_shards, B * (i + 1) // n_shards) for i in range(n_shards)]
        for p, rows in zip(progs, bounds, strict=True):
            self._bind(p, row=self._t, rows=rows)
        show = progress_mod.resolve(progress, steps)
        pool = self._worker_pool(n_shards) if use_pool else None
        runner = Runner(self, progs, bounds, steps, list(record), lr, show, steady, pool)
        before = torch.get_num_threads()
        switch = threads != before
        try:
            if switch:
                torch.set_num_threads(threads)
            with torch.no_grad():
                result = runner.run()
        finally:
            if switch:
                torch.set_num_threads(before)
        self._t += result.steps
        return result

    def _check_trace_memory(self, steps: int, record: list[str], steady: bool) -> None:
        """Refuse a recording that cannot fit into the free memory (CPU)."""
        if self.device.type != "cpu":
            return
        every = {p.var: p.every for p in self.model.probes} | {v: 1 for v in record}
        rows = steps + 1 if not steady else min(steps + 1, 1024)
        units = sum(self.model.variables[v].size * (rows // e + 1) for v, e in every.items())
        nbytes = units * self.batch * torch.finfo(self.dtype).bits // 8
        validation.check_memory(
            "TorchSimulator.run",
            "steps",
            steps,
            nbytes,
            "record fewer variables (record=, the model's probes) or every k steps "
            "(Probe.every), run fewer steps per call, or lower the batch size",
        )

    def _parallel_plan(self, prog: Program, steady: bool) -> tuple[int, bool, int]:
        """``(shards, worker pool?, intra-op threads)`` of a run (see ``threads``)."""
        intra = self.threads or torch.get_num_threads()
        cores = self.threads or default_threads()
        if cores == 1 or self.device.type != "cpu":
            return 1, False, intra
        spikes = any(isinstance(op, SpikeSoma) for op in self.model.step_ops)
        shardable = self.shards and not (spikes or steady or self.compile) and prog.mode != "online"
        n = max(1, min(cores, self.batch // runner_mod.MIN_SHARD_ROWS)) if shardable else 1
        if n > 1 or (prog.noise and not steady and not self.compile):
            return n, True, 1
        return 1, False, intra

    def _shard_program(self, mode: str, index: int) -> Program:
        key = (mode, index)
        if key not in self._shard_programs:
            self._shard_programs[key] = self._new_program(mode)
        return self._shard_programs[key]

    def _worker_pool(self, workers: int) -> ThreadPoolExecutor:
        """The simulator's worker threads (kept across runs), at least ``workers``."""
        if self._pool is None or self._pool_size < workers:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="neurosim-shard")
            self._pool_size = workers
        return self._pool

    def _step_fn(self, prog: Program):
        if not self.compile:
            return prog.step
        if prog.mode not in self._compiled:
            self._compiled[prog.mode] = torch.compile(prog.step, dynamic=False)
        return self._compiled[prog.mode]


def _nonfinite(t: Tensor) -> tuple[int, tuple[int, ...]] | None:
    """``(count, index of the first)`` of the NaN/inf entries of ``t``, or None. A
    broadcast view (``expand``: stride 0) is checked on its distinct values only."""
    distinct = t[tuple(slice(0, 1) if st == 0 else slice(None) for st in t.stride())]
    if bool(torch.isfinite(distinct).all()):
        return None
    bad = ~torch.isfinite(t)
    if not bool(bad.any()):
        return None
    return int(bad.sum()), tuple(bad.nonzero()[0].tolist())
