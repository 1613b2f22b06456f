"""Fused step kernels: runs of elementwise ops of the generated step compiled to C.

The eager step issues one torch call per elementwise op (a DFC step: ~36-58 calls of
a few microseconds each on ``(64, 256)`` tensors, a fifth of the step next to its
matmuls). Here every maximal run of consecutive *fusable* ops becomes one C function:
one loop over ``(batch, units)`` per run of equal-sized ops, every op's arithmetic on
element ``i`` in IR order (each op reads the values current at that point, as in the
eager step; ops are elementwise, so per-element order is the whole order). The
matmuls stay torch calls (MKL), and so does anything without a C lowering
(registered per op type, :data:`C_LOWERINGS`).

Fusable: :class:`~neurosim.ir.ops.Integrate` (Euler, Euler-Maruyama with the
pre-drawn normals of the step), :class:`~neurosim.ir.ops.Nonlinearity`,
:class:`~neurosim.ir.ops.NonlinearityDifference` (the one-sided ``tanh``/``logistic``
form of :mod:`~neurosim.backends.torch.difference` or the bounded identities),
:class:`~neurosim.ir.ops.Copy`, a :class:`~neurosim.ir.ops.DenseProjection` from a
variable of at most :data:`SMALL_K` units (``Q_i u`` from the controller: ``K`` fused
multiply-adds per element beat a matmul call), and the per-step samples of the
``sum``/``buffer`` plasticity strategies. Ops reading time-varying inputs are not
fused (their tensor changes every step).

The generated step then calls ``K3(*A3, P.data_ptr(), ...)``: ``A3`` holds the
pointers of the tensors bound for the run (:meth:`FusedKernels.bind`, after
``prepare``), the remaining arguments are this step's slots and normals. The C is
built once per source and cached (:mod:`~neurosim.backends.torch.ccompile`).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from neurosim._registry import type_registry
from neurosim.backends.torch import ccompile
from neurosim.backends.torch.difference import VIA_TANH
from neurosim.backends.torch.kernels import LEAKY_SLOPE
from neurosim.ir.ops import (
    Copy,
    DenseProjection,
    Integrate,
    Nonlinearity,
    NonlinearityDifference,
    Op,
)

#: largest presynaptic size of a projection computed inside a fused kernel
SMALL_K = 16

CLowering = Callable[[Op, "Segment"], bool]
C_LOWERINGS: dict[type, CLowering] = {}


#: Register the C lowering of ``op_type`` (returns False when an op cannot fuse).
register = type_registry(C_LOWERINGS)


class KernelsUnavailableError(RuntimeError):
    """No C compiler, or the build failed: use the eager step."""


PRELUDE = r"""
#include <math.h>
#include <stdint.h>
#ifdef __GNUC__
#define NS_SIMD __attribute__((__simd__("notinbranch")))
NS_SIMD double exp(double); NS_SIMD double tanh(double); NS_SIMD double expm1(double);
NS_SIMD double log1p(double);
NS_SIMD float expf(float); NS_SIMD float tanhf(float); NS_SIMD float expm1f(float);
NS_SIMD float log1pf(float);
#endif
typedef REAL real;
#if REAL_IS_DOUBLE
#define R_EXP exp
#define R_TANH tanh
#define R_EXPM1 expm1
#define R_LOG1P log1p
#define R_FABS fabs
#else
#define R_EXP expf
#define R_TANH tanhf
#define R_EXPM1 expm1f
#define R_LOG1P log1pf
#define R_FABS fabsf
#endif
static inline real ns_sig(real z) { return (real)1 / ((real)1 + R_EXP(-z)); }
/* s(k b) - s(k c), d = b - c: sign(d) s(k hi) s(-k lo) (1 - exp(-k|d|)), bounded */
static inline real ns_dsig(real b, real c, real d, real k) {
    real hi = d >= 0 ? b : c, lo = d >= 0 ? c : b;
    real m = ns_sig(k * hi) * ns_sig(-k * lo) * -R_EXPM1(-k * R_FABS(d));
    return d >= 0 ? m : -m;
}
static inline real ns_dsoftplus(real b, real c, real d) {
    real ad = R_FABS(d), lo = d >= 0 ? c : b;
    real near = R_LOG1P(ns_sig(lo) * R_EXPM1(ad < (real)20 ? ad : (real)20));
    real spb = b > (real)20 ? b : R_LOG1P(R_EXP(b)), spc = c > (real)20 ? c : R_LOG1P(R_EXP(c));
    real m = ad <= (real)20 ? near : R_FABS(spb - spc);
    return d >= 0 ? m : -m;
}
/* tanh(a + x) - tanh(a) with T = tanh(a), S = 1/cosh(a)^2 (|a| below the limit) */
static inline real ns_d1tanh(real x, real T, real S) {
    real t = R_TANH(x);
    return S * t / ((real)1 + T * t);
}
static inline real ns_dpiece(real b, real c, real d, real s) {
    real rb = b > 0 ? b : s * b, rc = c > 0 ? c : s * c;
    real same = (b > 0 && c > 0) ? d : s * d;
    return ((b > 0) == (c > 0)) ? same : rb - rc;
}
"""


def phi_c(fn: str, x: str) -> str:
    """C expression of ``fn(x)``."""
    return {
        "linear": f"({x})",
        "tanh": f"R_TANH({x})",
        "relu": f"(({x}) > 0 ? ({x}) : (real)0)",
        "logistic": f"ns_sig({x})",
        "softplus": f"(({x}) > (real)20 ? ({x}) : R_LOG1P(R_EXP({x})))",
        "leaky_relu": f"(({x}) > 0 ? ({x}) : (real){LEAKY_SLOPE!r} * ({x}))",
    }[fn]


def phi_difference_c(fn: str, a: str, x: str, y: str | None) -> str:
    """C expression of ``fn(a + x) - fn(a + y)`` by the bounded identities."""
    y = y or "(real)0"
    b, c, d = f"(({a}) + ({x}))", f"(({a}) + ({y}))", f"(({x}) - ({y}))"
    return {
        "linear": d,
        "tanh": f"((real)2 * ns_dsig({b}, {c}, {d}, (real)2))",
        "logistic": f"ns_dsig({b}, {c}, {d}, (real)1)",
        "softplus": f"ns_dsoftplus({b}, {c}, {d})",
        "relu": f"ns_dpiece({b}, {c}, {d}, (real)0)",
        "leaky_relu": f"ns_dpiece({b}, {c}, {d}, (real){LEAKY_SLOPE!r})",
    }[fn]


#: the functions of :func:`difference_kernel`, by nonlinearity
DIFFERENCE_FNS = ("linear", "tanh", "relu", "logistic", "softplus", "leaky_relu")


def _difference_source(dtype: torch.dtype) -> str:
    cases = []
    for code, fn in enumerate(DIFFERENCE_FNS):
        expr = phi_difference_c(fn, "a[i]", "x[i]", "(y ? y[i] : (real)0)")
        loop = f"for (int64_t i = 0; i < n; ++i) out[i] = {expr};"
        cases.append(f"  case {code}:\n    #pragma omp simd\n    {loop}\n    break;\n")
    real = "double" if dtype == torch.float64 else "float"
    head = f"#define REAL {real}\n#define REAL_IS_DOUBLE {int(real == 'double')}\n"
    sig = "int64_t n, int64_t fn, const real* a, const real* x, const real* y, real* out"
    body = "".join(cases)
    return f"{head}{PRELUDE}void ns_phi_difference({sig}) {{\n  switch (fn) {{\n{body}  }}\n}}\n"


_difference_kernels: dict[torch.dtype, object] = {}


def difference_kernel(dtype: torch.dtype):  # noqa: ANN201 (a ctypes function or None)
    """The compiled ``phi(a + x) - phi(a + y)`` over ``n`` contiguous elements of
    ``dtype`` (float32/float64; ``y`` may be NULL: ``- phi(a)``), or None without a
    compiler. Signature ``(n, fn index in DIFFERENCE_FNS, a, x, y, out)``."""
    if dtype not in _difference_kernels:
        lib = ccompile.load(_difference_source(dtype))
        fn = None
        if lib is not None:
            fn = lib.ns_phi_difference
            fn.argtypes = [ctypes.c_int64, ctypes.c_int64] + [ctypes.c_void_p] * 4
            fn.restype = None
        _difference_kernels[dtype] = fn
    return _difference_kernels[dtype]


def _lit(x: float) -> str:
    return f"(real){float(x)!r}"


def _times(c: float, x: str) -> str:
    """``c * x`` as C (``x`` alone for ``c = 1``)."""
    return x if c == 1.0 else f"{_lit(c)} * {x}"


@dataclass
class Loop:
    """Statements over element ``i = b*n + j`` of ``(B, n)`` arrays: ``lines`` when
    every flag in ``flags`` is set (the per-run "operating point within the fast
    form's range" flags), ``slow`` otherwise (two loops, so the flag is tested once)."""

    n: int
    lines: list[str] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    #: arrays written, and arrays read a whole row at a time (a small projection),
    #: in this loop: one may not be the other (elements would see a half-done row)
    writes: set[str] = field(default_factory=set)
    row_reads: set[str] = field(default_factory=set)

    def body(self, lines: list[str]) -> str:
        head = (f"  for (int64_t b = 0; b < B; ++b) {{\n    #pragma omp simd\n"
                f"    for (int64_t j = 0; j < {self.n}; ++j) {{\n"
                f"      const int64_t i = b * {self.n} + j; (void)i;\n")  # fmt: skip
        return head + "".join(f"      {ln}\n" for ln in lines) + "    }\n  }\n"

    def source(self) -> str:
        if not self.flags:
            return self.body(self.lines)
        cond = " && ".join(sorted(self.flags))
        return (f"  if ({cond}) {{\n{self.body(self.lines)}  }} else {{\n"
                f"{self.body(self.slow)}  }}\n")  # fmt: skip


@dataclass(frozen=True)
class Expr:
    """A C expression with a fast form valid when ``flags`` are set and a general one."""

    fast: str
    slow: str
    flags: frozenset = frozenset()

    @staticmethod
    def of(text: str) -> Expr:
        return Expr(text, text)

    def map(self, fn: Callable[[str], str], *others: Expr) -> Expr:
        """``fn`` applied to this and ``others``' fast and slow forms alike."""
        fast = fn(self.fast, *(o.fast for o in others))
        slow = fn(self.slow, *(o.slow for o in others))
        return Expr(fast, slow, self.flags.union(*(o.flags for o in others)))


class Segment:
    """One fused kernel being assembled (a run of consecutive fusable ops)."""

    def __init__(self, index: int, em) -> None:  # noqa: ANN001 (codegen.Emitter)
        self.index, self.em = index, em
        self.static: list[str] = []  # namespace tensors bound once per run
        self.flags: list[str] = []  # namespace ints bound once per run
        self.dynamic: list[str] = []  # step arguments (tensors), passed per call
        self.narrow: set[str] = set()  # step arguments read as float (float32 normals)
        self.loops: list[Loop] = []
        self.ops: list[str] = []

    @property
    def name(self) -> str:
        return f"K{self.index}"

    def ptr(self, ns_name: str) -> str:
        """C name of a tensor bound in the namespace for the run."""
        if ns_name not in self.static:
            self.static.append(ns_name)
        return ns_name

    def var(self, var: str) -> str:
        return self.ptr(self.em.v(var))

    def step_arg(self, name: str) -> str:
        """C name of a tensor passed to the step (plasticity slot, normals)."""
        if name not in self.dynamic:
            self.dynamic.append(name)
        return name

    def flag(self, ns_name: str) -> str:
        if ns_name not in self.flags:
            self.flags.append(ns_name)
        return ns_name

    def emit(
        self, n: int, *lines: str | Expr, writes: tuple[str, ...] = (), rows: tuple[str, ...] = ()
    ) -> None:
        """Statements over ``n``-unit arrays, writing the arrays ``writes`` and reading
        whole rows of ``rows``; merged with the previous loop if it has ``n`` units and
        neither writes a row this one reads nor reads a row this one writes (the
        elements of one loop are not ordered)."""
        last = self.loops[-1] if self.loops else None
        if (
            last is None
            or last.n != n
            or set(rows) & (last.writes | set(writes))
            or set(writes) & last.row_reads
        ):
            self.loops.append(Loop(n))
        loop = self.loops[-1]
        loop.writes.update(writes)
        loop.row_reads.update(rows)
        for ln in lines:
            e = ln if isinstance(ln, Expr) else Expr.of(ln)
            loop.lines.append(e.fast)
            loop.slow.append(e.slow)
            loop.flags |= e.flags

    def source(self) -> str:
        params = ["int64_t B"] + [f"real* {p}" for p in self.static]
        params += [f"int64_t {f}" for f in self.flags]
        params += [f"{'float' if p in self.narrow else 'real'}* {p}" for p in self.dynamic]
        body = "".join(loop.source() for loop in self.loops)
        head = f"/* {', '.join(self.ops)} */\n"
        return head + f"void {self.name}({', '.join(params)}) {{\n" + body + "}\n"

    def call(self) -> str:
        dyn = "".join(f", {d}.data_ptr()" for d in self.dynamic)
        return f"{self.name}(*A{self.index}{dyn})"


def _time_varying(em, op: Op) -> bool:  # noqa: ANN001
    return any(em.model.variables[r].time_varying for r in op.reads)


@register(Integrate)
def _integrate(op: Integrate, seg: Segment) -> bool:
    if op.tau is None and (
        op.noise_sigma or any(v == op.var for _, v in op.inputs) or op.leak == 0
    ):
        return False  # the eager lowering raises the error that explains it
    if op.tau is not None and op.tau <= 0:
        return False
    em = seg.em
    n, x = em.size(op.var), seg.var(op.var)
    terms = [(c, seg.var(v)) for c, v in op.inputs if v != op.var]

    def wsum(coef: float) -> str:
        return " + ".join(_times(coef * c, f"{y}[i]") for c, y in terms) or "(real)0"

    if op.tau is None:
        seg.emit(n, f"{x}[i] = {wsum(1.0 / op.leak)};", writes=(x,))
    else:
        a = em.dt / op.tau
        leak = op.leak - sum(c for c, v in op.inputs if v == op.var)
        if a * leak == 1.0:
            seg.emit(n, f"{x}[i] = {wsum(a)};", writes=(x,))
        else:
            decay = _times(leak, f"{x}[i]")
            inc = f"{{ real inc = {wsum(1.0)}; {x}[i] = {x}[i] + {_lit(a)} * (inc - {decay}); }}"
            seg.emit(n, inc, writes=(x,))
    if op.noise_sigma:
        scale = op.noise_sigma * math.sqrt(em.dt) / op.tau
        noise = seg.step_arg(em.noise_slot(op.name, op.noise_seed, n))
        if em.narrow_noise:  # float32 normals read as they were drawn (no widening copy)
            seg.narrow.add(noise)
            em.narrow_noise_slots.add(noise)
        seg.emit(n, f"{x}[i] += {_lit(scale)} * (real){noise}[i];", writes=(x,))
    return True


@register(Nonlinearity)
def _nonlinearity(op: Nonlinearity, seg: Segment) -> bool:
    n = seg.em.size(op.dst)
    dst = seg.var(op.dst)
    seg.emit(n, f"{dst}[i] = {phi_c(op.fn, seg.var(op.src) + '[i]')};", writes=(dst,))
    return True


def one_sided_c(seg: Segment, fn: str, at: str, x: str) -> Expr:
    """C expression of ``fn(at + x) - fn(at)`` (``x`` a C expression): the prepared
    one-sided tanh form while the run's operating point allows it, else the bounded
    identity."""
    em = seg.em
    general = phi_difference_c(fn, f"{seg.var(at)}[i]", x, None)
    if fn not in VIA_TANH or at not in em.invariant:
        return Expr.of(general)
    scale, out = VIA_TANH[fn]
    T, S, ok = em.tanh_point(at, scale)
    T, S, ok = seg.ptr(T), seg.ptr(S), seg.flag(ok)
    arg = x if scale == 1.0 else f"{_lit(scale)} * ({x})"
    fast = f"ns_d1tanh({arg}, {T}[i], {S}[i])"
    if out != 1.0:
        fast = f"({_lit(out)} * {fast})"
    return Expr(fast, general, frozenset({ok}))


@register(NonlinearityDifference)
def _difference(op: NonlinearityDifference, seg: Segment) -> bool:
    n, x = seg.em.size(op.dst), f"{seg.var(op.src)}[i]"
    if op.src_baseline is None:
        expr = one_sided_c(seg, op.fn, op.at, x)
    else:
        y = f"{seg.var(op.src_baseline)}[i]"
        expr = Expr.of(phi_difference_c(op.fn, f"{seg.var(op.at)}[i]", x, y))
    dst = seg.var(op.dst)
    seg.emit(n, expr.map(lambda e: f"{dst}[i] = {e};"), writes=(dst,))
    return True


@register(Copy)
def _copy(op: Copy, seg: Segment) -> bool:
    dst = seg.var(op.dst)
    seg.emit(seg.em.size(op.dst), f"{dst}[i] = {seg.var(op.src)}[i];", writes=(dst,))
    return True


@register(DenseProjection)
def _small_projection(op: DenseProjection, seg: Segment) -> bool:
    em = seg.em
    K = em.size(op.pre)
    if K > SMALL_K or op.weight in em.changing_params:
        return False  # big K: a matmul; weights learnt online: no per-run copy of W^T
    n = em.size(op.out)
    wt = seg.ptr(f"ct_{em.v(op.weight)[2:]}")  # contiguous W^T, (K, n), bound per run
    seg.em.contiguous_transposes[wt] = op.weight
    pre = seg.var(op.pre)
    acc = f"{seg.ptr(em.v(op.bias))}[j]" if op.bias else "(real)0"
    terms = " + ".join(f"{pre}[b * {K} + {k}] * {wt}[{k * n} + j]" for k in range(K))
    out = seg.var(op.out)
    seg.emit(n, f"{out}[i] = {acc} + {terms};", writes=(out,), rows=(pre,))
    return True


def lower_op(op: Op, seg: Segment) -> bool:
    """Append ``op`` to the segment if it has a C lowering that accepts it (a lowering
    decides before it emits anything)."""
    fn = C_LOWERINGS.get(type(op))
    if fn is None or _time_varying(seg.em, op) or not fn(op, seg):
        return False
    seg.ops.append(op.name)
    return True


def lower_rule(rule, seg: Segment, known) -> bool:  # noqa: ANN001 (plasticity.RulePlan)
    """The per-step sample of a ``sum``/``buffer`` rule (``final``: nothing per step)
    in C: ``delta = f(post) - f(base)`` (with an operating point: the difference of
    the one-sided differences, reusing a rate deviation already computed) into the
    running sum or the chunk slot, and ``pre`` (``pre_at + pre``) into its slot."""
    op, em = rule.op, seg.em
    if rule.strategy == "final":
        seg.ops.append(op.name)
        return True
    if rule.strategy not in ("sum", "buffer") or _time_varying(em, op):
        return False
    delta = _factor(rule, seg, known, op.post)
    if op.post_baseline is not None:
        if rule.base_invariant and op.fn != "linear":
            base = Expr.of(f"{seg.ptr(em.scratch(f'fb_{rule.key}', rule.n_post))}[i]")
        else:
            base = _factor(rule, seg, known, op.post_baseline)
        delta = delta.map(lambda p, b: f"({p} - {b})", base)
    if rule.strategy == "sum":
        S = seg.ptr(f"S_{rule.key}")
        seg.emit(rule.n_post, delta.map(lambda d: f"{S}[i] += {d};"), writes=(S,))
    else:
        P, R = rule.slot_args()
        P, R = seg.step_arg(P), seg.step_arg(R)
        seg.emit(rule.n_post, delta.map(lambda d: f"{P}[i] = {d};"), writes=(P,))
        pre = f"{seg.var(op.pre)}[i]"
        if op.pre_at:
            pre = f"{seg.var(op.pre_at)}[i] + {pre}"
        seg.emit(rule.n_pre, f"{R}[i] = {pre};", writes=(R,))
    seg.ops.append(op.name)
    return True


def _factor(rule, seg: Segment, known, var: str) -> Expr:  # noqa: ANN001
    """C expression of ``f(var)``, or ``f(at + var) - f(at)`` with an operating point."""
    op = rule.op
    if op.at and op.fn != "linear":
        hit = known.get((f"{op.fn}@{op.at}", var))
        if hit is not None:
            return Expr.of(f"{seg.var(hit)}[i]")
        return one_sided_c(seg, op.fn, op.at, f"{seg.var(var)}[i]")
    hit = known.get((op.fn, var))
    if hit is not None:
        return Expr.of(f"{seg.var(hit)}[i]")
    return Expr.of(phi_c(op.fn, f"{seg.var(var)}[i]"))


class FusedKernels:
    """The C source of a program's segments, its library and the per-run arguments."""

    def __init__(self, em, dtype: torch.dtype) -> None:  # noqa: ANN001
        self.em, self.dtype = em, dtype
        self.segments: list[Segment] = []
        self.current: Segment | None = None
        self.lib: ctypes.CDLL | None = None

    def segment(self) -> Segment:
        if self.current is None:
            self.current = Segment(len(self.segments), self.em)
        return self.current

    def flush(self) -> list[str]:
        """Close the current segment; the line calling it (none if empty)."""
        seg, self.current = self.current, None
        if seg is None or not seg.loops:
            return []
        self.segments.append(seg)
        return [f"# fused: {', '.join(seg.ops)}", seg.call()]

    def source(self) -> str:
        double = self.dtype == torch.float64
        real = "double" if double else "float"
        head = f"#define REAL {real}\n#define REAL_IS_DOUBLE {int(double)}\n"
        return head + PRELUDE + "\n".join(s.source() for s in self.segments)

    def build(self, ns: dict) -> None:
        """Compile (or load from the cache) and put the kernels into ``ns``."""
        if not self.segments:
            return
        lib = ccompile.load(self.source())
        if lib is None:
            raise KernelsUnavailableError("fused step kernels unavailable")
        self.lib = lib
        for seg in self.segments:
            fn = getattr(lib, seg.name)
            n_ptr = len(seg.static) + len(seg.dynamic)
            fn.argtypes = (
                [ctypes.c_int64]
                + [ctypes.c_void_p] * len(seg.static)
                + [ctypes.c_int64] * len(seg.flags)
                + [ctypes.c_void_p] * len(seg.dynamic)
            )
            fn.restype = None
            assert n_ptr >= 0
            ns[seg.name] = fn

    def bind(self, ns: dict, params: dict[str, torch.Tensor], batch: int) -> None:
        """The per-run arguments ``A{k}`` (after allocation and ``prepare``)."""
        for name, weight in self.em.contiguous_transposes.items():
            ns[name] = params[weight].t().contiguous()
        for seg in self.segments:
            args: list[int] = [batch]
            for p in seg.static:
                t = ns[p]
                if not t.is_contiguous():
                    raise RuntimeError(f"fused kernel {seg.name}: '{p}' is not contiguous")
                if t.dim() == 2 and not p.startswith("ct_") and t.shape[0] != batch:
                    raise RuntimeError(
                        f"fused kernel {seg.name}: '{p}' holds {t.shape[0]} rows, the run "
                        f"{batch} (bind, hoist and prepare the program for these rows first)"
                    )
                args.append(t.data_ptr())
            args += [int(bool(ns[f])) for f in seg.flags]
            ns[f"A{seg.index}"] = tuple(args)
