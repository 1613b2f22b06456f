"""Lowering of IR ops to inlined torch source lines.

Each dynamics op type has one registered lowering ``(op, emitter) -> list[str]``
(register, don't branch on type). The lines refer to tensors by sanitised names
(``h1.v`` -> ``v_h1__v``) that the :class:`~neurosim.backends.torch.program.Program`
binds in the namespace the generated functions run in. Every line writes into a
preallocated tensor (``out=`` or in-place), so a generated step allocates nothing
except what a kernel cannot avoid (softmax, softplus).

Integration (``ops.Integrate``, DFC eq. 1 and App. E.1), literally::

    inc = sum_j c_j*y_j - leak*x;   x <- x + dt/tau * inc + sigma*sqrt(dt)/tau * xi

(inputs that are ``x`` itself are folded into ``leak``; when ``dt*leak/tau == 1`` the
update is the exact assignment ``x <- dt/tau * sum_j c_j*y_j``); ``tau=None`` gives
``x <- sum_j c_j*y_j / leak``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from neurosim._registry import type_registry
from neurosim.backends.torch.difference import (
    VIA_TANH,
    one_sided_lines,
    phi_difference,
    tanh_point,
)
from neurosim.backends.torch.kernels import RATE_RANGE, check_fn, default_seed, phi_into
from neurosim.ir.model import Model
from neurosim.ir.ops import (
    Copy,
    DenseProjection,
    ErrorSignal,
    Integrate,
    Nonlinearity,
    NonlinearityDifference,
    Op,
    OutputTarget,
    SpikeSoma,
)

Lowering = Callable[[Op, "Emitter"], list[str]]
LOWERINGS: dict[type, Lowering] = {}


#: Register the lowering of ``op_type`` (decorator).
register = type_registry(LOWERINGS)


def sanitize(name: str) -> str:
    """A Python identifier for a variable name: ``.`` -> ``__``, other symbols -> ``_``."""
    return re.sub(r"\W", "_", name.replace(".", "__"))


def lit(x: float) -> str:
    """Exact float literal."""
    return repr(float(x))


class Emitter:
    """Names and resource requests shared by all lowerings of one model.

    Resources the generated code needs besides the model's variables are requested
    here and allocated by the program at bind time: per-sample scratch tensors
    (``scratch``), per-sample hidden state zeroed at reset (``hidden``), noise
    generators (``generator``) and transposed weight views (``transposed``).

    White noise of the step ops is not drawn inside the step: with ``slot_noise`` set,
    a noisy op reads this step's standard normals from an argument of the generated
    step (``noise_slot``), which the runner fills ahead, a chunk of steps at a time,
    with one ``torch.randn`` per step and op from the op's own generator (the same
    stream as drawing inside the step).
    """

    def __init__(self, model: Model, fast_tanh: bool = True) -> None:
        self.model, self.fast_tanh = model, fast_tanh
        self.dt = model.dt
        self.scratch_sizes: dict[str, int] = {}
        self.hidden_sizes: dict[str, int] = {}
        self.generator_seeds: dict[str, int] = {}
        self.transposes: dict[str, str] = {}
        #: step argument -> (generator identifier, size) of pre-drawn standard normals
        self.noise_slots: dict[str, tuple[str, int]] = {}
        self.slot_noise = False
        #: "init" while the init ops are lowered, "hoist" for the loop-invariant ops,
        #: else "step"
        self.phase = "step"
        #: variables no step op writes (set by the program before the step is lowered)
        self.invariant: set[str] = set()
        #: lines run once per run after hoisting (``prepare``), and the names they bind
        self.prepare_lines: list[str] = []
        self.prepared: set[str] = set()
        #: functions the generated code calls besides torch (name -> callable)
        self.functions: dict[str, object] = {}
        #: contiguous ``W^T`` copies the fused kernels read (name -> parameter)
        self.contiguous_transposes: dict[str, str] = {}
        #: fused kernels read float32 normals in a float64 run (``fast_noise``), and
        #: the noise slots they read so
        self.narrow_noise = False
        self.narrow_noise_slots: set[str] = set()
        #: parameters that change during a run (online plasticity)
        self.changing_params: set[str] = set()

    def noise_slot(self, op_name: str, seed: int | None, size: int) -> str:
        """Identifier of the step argument holding this step's ``(batch, size)``
        standard normals of noisy op ``op_name`` (drawn from its generator)."""
        name = "N_" + sanitize(op_name)
        self.noise_slots[name] = (self.generator(op_name, seed), size)
        return name

    def v(self, var: str) -> str:
        """Identifier of the tensor holding variable ``var``."""
        return "v_" + sanitize(var)

    def size(self, var: str) -> int:
        return self.model.variables[var].size

    def transposed(self, weight: str) -> str:
        """Identifier of the ``W.t()`` view of parameter ``weight``."""
        name = "t_" + sanitize(weight)
        self.transposes[name] = weight
        return name

    def scratch(self, key: str, size: int) -> str:
        """Identifier of a per-sample (batch, size) scratch tensor."""
        name = "s_" + sanitize(key)
        self.scratch_sizes[name] = size
        return name

    def hidden(self, key: str, size: int) -> str:
        """Identifier of a per-sample (batch, size) state tensor not in the model."""
        name = "hid_" + sanitize(key)
        self.hidden_sizes[name] = size
        return name

    def generator(self, op_name: str, seed: int | None) -> str:
        """Identifier of the ``torch.Generator`` of a noisy op."""
        name = "g_" + sanitize(op_name)
        self.generator_seeds[name] = default_seed(op_name) if seed is None else int(seed)
        return name

    def tanh_point(self, at: str, scale: float) -> tuple[str, str, str]:
        """Names of ``T = tanh(scale at)``, ``S = 1/cosh(scale at)^2`` and the flag
        ``|scale at| < TANH_LIMIT``, computed once per run in ``prepare`` (``at`` must
        be invariant; see :mod:`~neurosim.backends.torch.difference`)."""
        key = sanitize(f"{at}_x{scale:g}")
        names = (f"T_{key}", f"S_{key}", f"OK_{key}")
        if names[0] not in self.prepared:
            self.functions["TANH_POINT"] = tanh_point
            self.prepare_lines += [
                f"global {', '.join(names)}",
                f"{', '.join(names)} = TANH_POINT({self.v(at)}, {scale!r})",
            ]
            self.prepared.add(names[0])
        return names

    def difference_lines(
        self,
        fn: str,
        at: str,
        x: str,
        dst: str,
        tag: str,
        y: str | None = None,
        prepared: bool = True,
    ) -> list[str]:
        """Lines of ``dst = phi(at + x) - phi(at + y)`` (variables ``at``, ``x``, ``y``;
        ``y=None``: ``- phi(at)``): the one-sided tanh form when ``at`` is invariant
        during the step (and ``prepared``: the lines run after ``prepare()``), else
        :func:`~neurosim.backends.torch.difference.phi_difference`."""
        out = self.v(dst) if dst in self.model.variables else dst
        if fn == "linear":
            return [f"torch.sub({self.v(x)}, {self.v(y)}, out={out})" if y else
                    f"{out}.copy_({self.v(x)})"]  # fmt: skip
        self.functions["PHI_DIFF"] = phi_difference
        fast = prepared and self.phase == "step" and at in self.invariant
        if y is None and fn in VIA_TANH and fast:
            T, S, ok = self.tanh_point(at, VIA_TANH[fn][0])
            tmp = self.scratch(f"diff_{tag}", self.size(x))
            return one_sided_lines(fn, self.v(at), self.v(x), out, T, S, ok, tmp)
        args = ", ".join([repr(fn), self.v(at), self.v(x)] + ([self.v(y)] if y else []))
        return [f"{out}.copy_(PHI_DIFF({args}))"]

    def lower(self, op: Op) -> list[str]:
        """Source lines of one op (with a comment line naming it)."""
        fn = LOWERINGS.get(type(op))
        if fn is None:
            raise NotImplementedError(
                f"TorchSimulator: op '{op.name}' of type {type(op).__name__} has no torch "
                f"lowering; supported: {sorted(t.__name__ for t in LOWERINGS)}"
            )
        return [f"# {op.name}: {op.describe()}"] + fn(op, self)


@register(DenseProjection)
def _dense(op: DenseProjection, em: Emitter) -> list[str]:
    pre, out, wt = em.v(op.pre), em.v(op.out), em.transposed(op.weight)
    if op.bias:
        return [f"torch.addmm({em.v(op.bias)}, {pre}, {wt}, out={out})"]
    return [f"torch.mm({pre}, {wt}, out={out})"]


def _weighted_sum(x: str, terms: list[tuple[float, str]]) -> list[str]:
    """Lines setting ``x = sum_j c_j * y_j`` (``x`` not among the ``y_j``)."""
    if not terms:
        return [f"{x}.zero_()"]
    c0, y0 = terms[0]
    if c0 == 1.0 and len(terms) > 1:
        c1, y1 = terms[1]
        alpha = "" if c1 == 1.0 else f", alpha={lit(c1)}"
        lines, rest = [f"torch.add({y0}, {y1}{alpha}, out={x})"], terms[2:]
    else:
        lines = [f"{x}.copy_({y0})" if c0 == 1.0 else f"torch.mul({y0}, {lit(c0)}, out={x})"]
        rest = terms[1:]
    return lines + [_axpy(x, c, y) for c, y in rest]


def _axpy(x: str, c: float, y: str) -> str:
    if c == 1.0:
        return f"{x}.add_({y})"
    if c == -1.0:
        return f"{x}.sub_({y})"
    return f"{x}.add_({y}, alpha={lit(c)})"


@register(Integrate)
def _integrate(op: Integrate, em: Emitter) -> list[str]:
    x = em.v(op.var)
    if op.tau is None:
        if op.noise_sigma:
            raise ValueError(
                f"Integrate '{op.name}': an instantaneous compartment (tau=None) cannot be "
                f"noisy (noise_sigma={op.noise_sigma}); give it a time constant"
            )
        if any(v == op.var for _, v in op.inputs):
            raise ValueError(
                f"Integrate '{op.name}': instantaneous '{op.var}' reads itself; give it a "
                "time constant or fold the self-input into 'leak'"
            )
        if op.leak == 0:
            raise ValueError(f"Integrate '{op.name}': instantaneous with leak=0 divides by 0")
        return _weighted_sum(x, [(c / op.leak, em.v(v)) for c, v in op.inputs])
    if op.tau <= 0:
        raise ValueError(f"Integrate '{op.name}': tau must be > 0 or None, got {op.tau}")
    a = em.dt / op.tau
    leak = op.leak - sum(c for c, v in op.inputs if v == op.var)
    terms = [(c, em.v(v)) for c, v in op.inputs if v != op.var]
    if a * leak == 1.0:  # x_new = a * drive exactly (e.g. tau_A = dt: instantaneous apical)
        lines = _weighted_sum(x, [(a * c, y) for c, y in terms])
    elif leak == 1.0 and 0.0 < a < 0.5 and len(terms) == 1 and terms[0][0] == 1.0:
        # x + a*(y - x) with a single input y: lerp toward y itself (see below)
        lines = [f"{x}.lerp_({terms[0][1]}, {lit(a)})"]
    else:  # the increment first, as in the formula: accurate when x is near steady state
        inc = em.scratch(f"inc_{op.name}", em.size(op.var))
        lines = _weighted_sum(inc, terms)
        if leak == 1.0 and 0.0 < a < 0.5:
            # x + a*(drive - x) in one kernel: torch's lerp for weight < 0.5 computes
            # exactly ``inc -= x; x += a*inc`` (same rounding, one pass fewer)
            lines.append(f"{x}.lerp_({inc}, {lit(a)})")
        else:
            if leak:
                lines.append(_axpy(inc, -leak, x))
            lines.append(_axpy(x, a, inc))
    if op.noise_sigma:
        scale = op.noise_sigma * math.sqrt(em.dt) / op.tau
        if em.slot_noise:
            lines.append(_axpy(x, scale, em.noise_slot(op.name, op.noise_seed, em.size(op.var))))
        else:
            g = em.generator(op.name, op.noise_seed)
            nz = em.scratch(f"noise_{op.name}", em.size(op.var))
            lines += [f"torch.randn({nz}.shape, generator={g}, out={nz})", _axpy(x, scale, nz)]
    return lines


@register(Nonlinearity)
def _nonlinearity(op: Nonlinearity, em: Emitter) -> list[str]:
    check_fn(op.fn, f"Nonlinearity '{op.name}'")
    return [phi_into(op.fn, em.v(op.src), em.v(op.dst), em.fast_tanh)]


@register(NonlinearityDifference)
def _nonlinearity_difference(op: NonlinearityDifference, em: Emitter) -> list[str]:
    """``dst = phi(at + src) - phi(at + src_baseline)`` without subtracting rates."""
    check_fn(op.fn, f"NonlinearityDifference '{op.name}'")
    return em.difference_lines(op.fn, op.at, op.src, op.dst, op.name, op.src_baseline)


@register(Copy)
def _copy(op: Copy, em: Emitter) -> list[str]:
    return [f"{em.v(op.dst)}.copy_({em.v(op.src)})"]


@register(OutputTarget)
def _target(op: OutputTarget, em: Emitter) -> list[str]:
    """DFC eq. 3: ``r* = r_L - lam dL/dr_L`` (mse: ``2(r-y)/n``; CE: ``softmax(r)-y``)."""
    out, r, y = em.v(op.out), em.v(op.output), em.v(op.label)
    if op.loss == "given":
        return [f"{out}.copy_({y})"]
    if op.loss == "mse":
        c = 2.0 * op.lam / em.size(op.output)
        return [f"{out}.copy_({r} - {lit(c)} * ({r} - {y}))"]
    if op.loss == "cross_entropy":
        return [f"{out}.copy_({r} - {lit(op.lam)} * (torch.softmax({r}, dim=-1) - {y}))"]
    raise ValueError(f"OutputTarget '{op.name}': unknown loss {op.loss!r}")


@register(ErrorSignal)
def _error(op: ErrorSignal, em: Emitter) -> list[str]:
    """Error neurons: ``out = gate * (prediction - target)``."""
    out = em.v(op.out)
    lines = [f"torch.sub({em.v(op.prediction)}, {em.v(op.target)}, out={out})"]
    if op.gate:
        lines.append(f"{out}.mul_({em.v(op.gate)})")
    return lines


def _spike_constants(op: SpikeSoma) -> tuple[float, float]:
    """``(offset, span)`` mapping ``phi`` to a spike probability scale in [0, 1]."""
    offset, span = RATE_RANGE.get(op.fn, (0.0, 1.0))
    return op.extra.get("offset", offset), op.extra.get("span", span)


def spike_trace(op: SpikeSoma, em: Emitter) -> str:
    """Identifier of the synaptic trace of a spiking soma, keyed by its output so that
    the init and step ops of one soma share it."""
    return em.hidden(f"trace_{op.dst}", em.size(op.dst))


def continue_spike_trace(op: SpikeSoma, em: Emitter) -> list[str]:
    """Start the trace of ``op`` from the rate the init ops left in ``dst`` (e.g. the
    feedforward sweep's ``r = phi(v)``): ``z = clip((r + offset)/span, 0, 1)``,
    ``r = span*z - offset``, so the spike train continues from the init state's mean
    (as the brian2 backend does)."""
    offset, span = _spike_constants(op)
    trace, dst = spike_trace(op, em), em.v(op.dst)
    return [
        f"# {op.name}: trace starts at the init rate of {op.dst}",
        f"torch.add({dst}, {lit(offset)}, out={trace}).div_({lit(span)}).clamp_(0.0, 1.0)",
        f"torch.mul({trace}, {lit(span)}, out={dst}).sub_({lit(offset)})",
    ]


@register(SpikeSoma)
def _spikes(op: SpikeSoma, em: Emitter) -> list[str]:
    """Poisson spikes with ``p = min(1, max_rate * dt * clip(rho, 0, 1))``,
    ``rho = (phi + offset)/span`` (the definition of :class:`~neurosim.ir.ops.SpikeSoma`,
    shared with the brian2 backend); ``dst = span * trace - offset`` with a synaptic
    trace decaying as
    ``exp(-dt/tau_syn)`` whose jump per spike makes its mean equal ``rate``. Among the
    init ops no spikes are drawn: the trace is set to its mean ``rate``."""
    if op.model != "poisson":
        raise NotImplementedError(
            f"SpikeSoma '{op.name}': model={op.model!r} is brian2-only; the torch backend "
            "supports model='poisson' (use neurosim.backends.brian2 for 'lif')"
        )
    check_fn(op.fn, f"SpikeSoma '{op.name}'")
    offset, span = _spike_constants(op)
    n = em.size(op.dst)
    tmp, trace = em.scratch(f"rate_{op.name}", n), spike_trace(op, em)
    if em.phase == "init":
        return [
            phi_into(op.fn, em.v(op.src), trace, em.fast_tanh),
            f"{trace}.add_({lit(offset)}).div_({lit(span)}).clamp_(0.0, 1.0)",
            f"torch.mul({trace}, {lit(span)}, out={em.v(op.dst)}).sub_({lit(offset)})",
        ]
    spikes = em.scratch(f"spikes_{op.name}", n)
    g = em.generator(op.name, op.seed)
    decay = math.exp(-em.dt / op.tau_syn)
    jump = (1.0 - decay) / (op.max_rate * em.dt)
    p_scale = op.max_rate * em.dt / span
    # clip(phi + offset, 0, span) * max_rate*dt/span = max_rate*dt * clip(rho, 0, 1)
    prob = f"{tmp}.add_({lit(offset)}).clamp_(0.0, {lit(span)}).mul_({lit(p_scale)})"
    if op.max_rate * em.dt > 1.0:
        prob += ".clamp_(max=1.0)"
    return [
        phi_into(op.fn, em.v(op.src), tmp, em.fast_tanh),
        prob,
        f"torch.bernoulli({tmp}, generator={g}, out={spikes})",
        f"{trace}.mul_({lit(decay)}).add_({spikes}, alpha={lit(jump)})",
        f"torch.mul({trace}, {lit(span)}, out={em.v(op.dst)}).sub_({lit(offset)})",
    ]
