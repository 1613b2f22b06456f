"""The generated program of one model and plasticity mode.

:class:`Program` lowers the model into Python source of five functions, ``exec``\\ s
it once and binds the tensors they use in the functions' global namespace:

``init()``       the init ops (feedforward sweep, output target), once per sample;
``sample0(...)`` plasticity samples of the initial state (window ``all``);
``hoist()``      the loop-invariant step ops (``Model.loop_invariant_ops``), once per run,
                 after row 0 (see :func:`invariant_ops`: hoisting never changes step 0);
``prepare()``    constant plasticity factors (``f(v_B)`` of a hoisted basal drive);
``step(...)``    one Euler step: every other op, inlined in op order, and the
                 plasticity samples at their place; the arguments are this step's
                 slots of the plasticity chunk buffers, then this step's standard
                 normals of each noisy op (tensors, so that ``torch.compile`` sees one
                 signature for every step).

The source is kept (``Program.source``) so the plan can be read and checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from neurosim.backends.torch import fused as fused_mod
from neurosim.backends.torch.codegen import Emitter, continue_spike_trace
from neurosim.backends.torch.fused import FusedKernels
from neurosim.backends.torch.kernels import NAMESPACE
from neurosim.backends.torch.plasticity import RulePlan
from neurosim.ir.deviation import check_plasticity
from neurosim.ir.model import Model
from neurosim.ir.ops import LocalPlasticity, Nonlinearity, NonlinearityDifference, Op, SpikeSoma

MODES = ("accumulate", "online", "off")
_CALL = re.compile(r"(?:torch\.\w+|\.\w+_)\(")


def invariant_ops(model: Model, hoist: bool, online_params: set[str]) -> list[Op]:
    """``Model.loop_invariant_ops()`` (static reads, single writer, not stateful) minus
    the ops that (transitively) read parameters updated online, every step, and minus
    the ops whose output an earlier op of the step reads.

    Hoisting must never change what a run computes. ``hoist()`` runs after row 0 is
    recorded and sampled (see ``runner.Shard.start``), so the initial state is what
    the init ops left; a hoisted op then writes the value the first step would write at
    the op's place. That is the same for every reader only if no op before it in the
    step reads its output (such a reader would see the hoisted value one step early)."""
    if not hoist:
        return []
    varying = set(online_params)
    position = {op.name: i for i, op in enumerate(model.step_ops)}
    kept: list[Op] = []
    for op in model.loop_invariant_ops():
        earlier = model.step_ops[: position[op.name]]
        read_early = any(w in o.reads for o in earlier for w in op.writes)
        if read_early or any(r in varying for r in op.reads):
            varying.update(op.writes)
        else:
            kept.append(op)
    return kept


def _continued_spike_traces(model: Model, em: Emitter) -> list[str]:
    """Init lines starting each step spiking soma's trace from the rate an init op
    other than a spiking soma wrote (see :func:`codegen.continue_spike_trace`)."""
    started = {op.dst for op in model.init_ops if isinstance(op, SpikeSoma)}
    written = {w for op in model.init_ops for w in op.writes}
    return [
        ln
        for op in model.step_ops
        if isinstance(op, SpikeSoma) and op.dst in written and op.dst not in started
        for ln in continue_spike_trace(op, em)
    ]


def _track(known: dict[tuple[str, str], str], op: Op) -> None:
    """Update the facts ``known[(fn, src)] = dst`` ("dst holds fn(src)") after ``op``."""
    for w in op.writes:
        for key in [k for k, d in known.items() if w in (k[1], d, k[0].partition("@")[2])]:
            del known[key]
    if isinstance(op, Nonlinearity) and op.src != op.dst:
        known[(op.fn, op.src)] = op.dst
    if (
        isinstance(op, NonlinearityDifference)
        and op.src_baseline is None
        and op.dst not in (op.src, op.at)
    ):
        known[(f"{op.fn}@{op.at}", op.src)] = op.dst  # dst holds fn(at + src) - fn(at)


def _calls(lines: list[str]) -> int:
    """Number of torch calls in generated lines (statements, not comments)."""
    return sum(len(_CALL.findall(ln)) for ln in lines if not ln.startswith("#"))


def _function(name: str, args: str, lines: list[str]) -> str:
    body = [ln for ln in lines if ln != "pass"] or ["pass"]
    if all(ln.startswith("#") for ln in body):
        body.append("pass")
    return f"def {name}({args}):\n" + "".join(f"    {ln}\n" for ln in body)


class Program:
    """Generated functions of ``model`` for one plasticity ``mode``.

    Parameters
    ----------
    model : the IR model.
    mode : ``"accumulate"``, ``"online"`` or ``"off"``.
    hoist : compute loop-invariant ops once per run (``False`` only for testing).
    fast_tanh : ``tanh(x) = 2 sigmoid(2x) - 1`` (see :mod:`~neurosim.backends.torch.kernels`).
    fused : compile runs of elementwise step ops into C kernels for ``dtype``
        (:mod:`~neurosim.backends.torch.fused`); raises
        :class:`~neurosim.backends.torch.fused.KernelsUnavailableError` if they cannot be built.
    """

    def __init__(
        self,
        model: Model,
        mode: str,
        hoist: bool = True,
        fast_tanh: bool = True,
        fused: bool = False,
        dtype: torch.dtype = torch.float64,
        narrow_noise: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"TorchSimulator: plasticity={mode!r}; use one of {MODES}")
        check_plasticity(model, mode, "TorchSimulator")
        self.model, self.mode = model, mode
        em = self.emitter = Emitter(model, fast_tanh)
        em.narrow_noise = narrow_noise and fused
        rules_ops = model.plasticity_ops if mode != "off" else []
        online = {p for op in rules_ops for p in op.updates} if mode == "online" else set()
        self.hoisted = invariant_ops(model, hoist, online)
        em.changing_params = set(online)
        hoisted_names = {op.name for op in self.hoisted}
        self.dynamic = [op for op in model.dynamics_ops if op.name not in hoisted_names]
        written = {w for op in self.dynamic for w in op.writes}
        invariant = {
            name
            for name, v in model.variables.items()
            if name not in written and not v.time_varying
        }
        self.rules: list[RulePlan] = []
        self.calls: dict[str, int] = {}  # torch calls generated per step op
        known: dict[tuple[str, str], str] = {}
        em.phase = "init"
        init_lines = [ln for op in model.init_ops for ln in em.lower(op)]
        em.phase = "step"
        init_lines += _continued_spike_traces(model, em)
        em.invariant = invariant
        em.phase = "hoist"
        hoist_lines = []
        for op in self.hoisted:
            hoist_lines += em.lower(op)
            _track(known, op)
        em.phase = "step"
        step_lines: list[str] = []
        em.slot_noise = True  # noise of the step ops: drawn ahead by the runner
        self.kernels = FusedKernels(em, dtype) if fused else None
        for i, op in enumerate(model.step_ops):
            if op.name in hoisted_names:
                continue
            rule = None
            if isinstance(op, LocalPlasticity):
                if mode == "off":
                    continue
                later = {
                    w
                    for o in model.step_ops[i + 1 :]
                    if o.name not in hoisted_names
                    for w in o.writes
                }
                safe_last = not later & set(op.reads)
                rule = RulePlan(op, em, invariant, safe_last, mode)
                self.rules.append(rule)
            lines = self._fuse(op, rule, known)
            if lines is None:
                lines = rule.sample_lines(known) if rule else em.lower(op)
            if rule is None:
                _track(known, op)
            self.calls[op.name] = _calls(lines)
            step_lines += lines
        if self.kernels is not None:
            step_lines += self.kernels.flush()
        # row 0 is sampled before hoist() and prepare() run: nothing hoisted is known yet
        hoisted_out = {w for op in self.hoisted for w in op.writes}
        sample0 = [
            ln
            for r in self.rules
            if r.samples_initial
            for ln in r.sample_lines({}, initial=hoisted_out)
        ]
        em.slot_noise = False
        prepare = em.prepare_lines + [ln for r in self.rules for ln in r.prepare_lines()]
        args = ", ".join(a for r in self.rules for a in r.slot_args())
        #: arguments of ``step`` after the plasticity slots: (name, generator, size)
        self.noise = [(a, g, n) for a, (g, n) in em.noise_slots.items()]
        step_args = ", ".join([a for a in (args,) if a] + [a for a, _, _ in self.noise])
        self.source = "\n".join(
            [
                _function("init", "", init_lines),
                _function("hoist", "", hoist_lines),
                _function("prepare", "", prepare),
                _function("sample0", args, sample0),
                _function("step", step_args, step_lines),
            ]
        )
        self.ns: dict = {**NAMESPACE, **em.functions}
        if self.kernels is not None:
            self.kernels.build(self.ns)  # KernelsUnavailableError: the simulator goes eager
        exec(
            compile(self.source, f"<neurosim step: {model.meta.get('name', 'model')}>", "exec"),
            self.ns,
        )
        self.init: Callable[[], None] = self.ns["init"]
        self.hoist: Callable[[], None] = self.ns["hoist"]
        self.prepare: Callable[[], None] = self.ns["prepare"]
        self.sample0: Callable[..., None] = self.ns["sample0"]
        self.step: Callable[..., None] = self.ns["step"]

    def _fuse(self, op: Op, rule: RulePlan | None, known: dict) -> list[str] | None:
        """Lines for ``op`` when fusing: none while it joins the open kernel, the
        kernel's call before an op that cannot join (returned as a prefix, with the
        op's own lines appended by the caller: ``None`` means "lower it eagerly" after
        the returned flush lines are emitted)."""
        if self.kernels is None:
            return None
        seg = self.kernels.segment()
        joined = fused_mod.lower_rule(rule, seg, known) if rule else fused_mod.lower_op(op, seg)
        if joined:
            return []
        flushed = self.kernels.flush()
        eager = rule.sample_lines(known) if rule else self.emitter.lower(op)
        return flushed + eager

    def bind_kernels(self, params: dict[str, torch.Tensor], batch: int) -> None:
        """Pointers of the fused kernels for this run (after allocation and ``prepare``)."""
        if self.kernels is not None:
            self.kernels.bind(self.ns, params, batch)

    def slot_args(self, j: int) -> tuple[torch.Tensor, ...]:
        """Plasticity arguments of ``step``/``sample0`` for chunk slot ``j`` (after
        allocation); ``step`` takes this step's noise tensors after them."""
        return tuple(t for r in self.rules for t in r.slot_views(self.ns, j))

    def bind(
        self,
        tensors: dict[str, torch.Tensor],
        params: dict[str, torch.Tensor],
        hidden: dict[str, torch.Tensor],
        generators: dict[str, torch.Generator],
        batch: int,
        like: torch.Tensor,
    ) -> None:
        """Point the generated functions at the current tensors.

        ``tensors``: per-sample variables (time-varying inputs: the current row);
        ``hidden``/``generators``: owned by the simulator (persist across runs);
        scratch tensors are (re)allocated as ``(batch, size)`` like ``like``.
        """
        em, ns = self.emitter, self.ns
        for name in self.model.variables:
            src = params if name in params else tensors
            if name in src:
                ns[em.v(name)] = src[name]
        for tname, weight in em.transposes.items():
            ns[tname] = params[weight].t()
        for name, size in em.scratch_sizes.items():
            cur = ns.get(name)
            if (
                cur is None
                or cur.shape != (batch, size)
                or cur.dtype != like.dtype
                or cur.device != like.device
            ):
                ns[name] = like.new_empty(batch, size)
        ns.update({n: hidden[n] for n in em.hidden_sizes})
        ns.update({n: generators[n] for n in em.generator_seeds})

    def describe(self) -> str:
        """Readable plan: hoisted ops, step ops in order, plasticity strategies."""
        m = self.model
        out = [f"plan of '{m.meta.get('name', 'model')}' (plasticity={self.mode}), dt={m.dt:g}"]
        out.append("init (once per sample):")
        out += [f"  {op.describe()}" for op in m.init_ops]
        out.append("hoisted (loop-invariant, once per run):")
        out += [f"  {op.describe()}" for op in self.hoisted] or ["  (none)"]
        total = sum(self.calls.values())
        out.append(f"step (inlined into one generated function, {total} torch calls):")
        strategies = {r.op.name: r.strategy for r in self.rules}
        for op in m.step_ops:
            if op in self.hoisted:
                continue
            n = self.calls.get(op.name, 0)
            tag = f"[{strategies.get(op.name, 'off')}] " if isinstance(op, LocalPlasticity) else ""
            out.append(f"  {tag}{op.describe()}   ({n} call{'s' if n != 1 else ''})")
        return "\n".join(out)
