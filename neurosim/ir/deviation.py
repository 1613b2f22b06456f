"""A model in deviation variables: simulate ``x - x_op`` about a fixed point.

Many circuits spend their run close to an operating point: DFC's controller moves the
network only a little away from its feedforward state, by ``lambda/B`` times the
output error (DFC eq. 3), a few parts in 1e8 of the voltages late in training. A
simulation of the voltages themselves keeps those deviations only in the last digits
(none in float32), and the local rule's ``phi(v) - phi(v_B)`` (eq. 5) subtracts two
nearly equal rates. :func:`deviation_form` rewrites a model so that every per-sample
variable ``x`` holds ``x - x_op`` instead, where ``x_op`` is the state the init ops
leave when the ``rest`` inputs sit at their resting values. Every variable then
carries the full precision of the dtype in its deviation.

Why the rewrite is exact. At the operating point the step ops change nothing (the
transform checks this symbolically, op by op, and refuses models where it fails), so:

* linear ops map to themselves on the deviations, with constant terms (biases, the
  resting inputs) dropped: ``I = W r + b`` becomes ``dI = W dr``; an
  :class:`~neurosim.ir.ops.Integrate` keeps its time constant, leak and noise;
* ``r = phi(v)`` becomes ``dr = phi(v_op + dv) - phi(v_op)``, a
  :class:`~neurosim.ir.ops.NonlinearityDifference` (computed without subtracting rates);
* a :class:`~neurosim.ir.ops.LocalPlasticity` keeps its value: its post factor
  ``f(post) - f(post_baseline)`` becomes ``f(at + dpost) - f(at + dbase)`` with
  ``at = post_op`` (the two have the same operating value), its pre factor
  ``pre_op + dpre``.

Deviations that are identically zero (the input ``x`` of a DFC forward phase, the
drive ``W_1 x``, the control of a noise-free sleep phase) are folded away: their ops
drop out and the variables stay declared, at 0. The operating point is computed by the original
init ops, renamed ``"{var}_op"`` (state variables no step op writes, so backends hoist
what reads them), and the deviations by the rewritten init ops (all zero except the
driven ones). Recorded traces and probes are deviations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from neurosim._registry import type_registry
from neurosim.ir.model import Model, Variable
from neurosim.ir.ops import (
    Copy,
    DenseProjection,
    Integrate,
    LocalPlasticity,
    Nonlinearity,
    NonlinearityDifference,
    Op,
    OutputTarget,
    SpikeSoma,
)

#: the symbolic value "identically zero"
ZERO = ("0",)
#: nonlinearities with phi(0) = 0 (a zero input gives a zero rate)
_ZERO_AT_ZERO = ("linear", "tanh", "relu", "leaky_relu")

Key = tuple
Rule = Callable[[Op, "_Rewrite"], "list[Op]"]
RULES: dict[type, Rule] = {}


#: suffix of the variables holding the operating point
OP_SUFFIX = "_op"


def op_point(var: str) -> str:
    """Name of the operating-point value of ``var`` in a deviation model."""
    return f"{var}{OP_SUFFIX}"


def check_plasticity(model: Model, mode: str | None, backend: str) -> None:
    """Refuse online plasticity on a deviation model: the operating point is computed
    once from the initial weights, so weights that change during the run would leave
    it stale (``I = W r + b`` is no longer ``I_op + W dr``). Accumulated updates (the
    weights fixed during the run) are exact."""
    if mode == "online" and model.meta.get("deviation"):
        raise ValueError(
            f"{backend}: model '{model.meta.get('name', 'model')}' is in deviation "
            "variables (neurosim.ir.deviation), whose operating point assumes weights "
            "fixed during a run; use plasticity='accumulate' (and apply the update "
            "afterwards) or simulate the absolute model online"
        )


#: Register how ops of ``op_type`` are rewritten into deviation variables.
register = type_registry(RULES)


# -- symbolic values at the operating point ---------------------------------------------
def _lin(terms: list[tuple[float, Key]]) -> Key:
    """Canonical key of ``sum c_j * value_j`` (nested sums flattened, zeros dropped;
    a single term of coefficient 1 is that value itself)."""
    acc: dict[Key, float] = {}
    for c, k in terms:
        if k == ZERO or c == 0.0:
            continue
        inner = k[1] if k[0] == "lin" else ((k, 1.0),)
        for kk, cc in inner:
            acc[kk] = acc.get(kk, 0.0) + c * cc
    items = tuple(sorted(((k, c) for k, c in acc.items() if c != 0.0), key=repr))
    if not items:
        return ZERO
    if len(items) == 1 and items[0][1] == 1.0:
        return items[0][0]
    return ("lin", items)


def _value(op: Op, key: Callable[[str], Key], size: Callable[[str], int]) -> Key:
    """Symbolic value ``op`` writes, given the keys of what it reads (an
    :class:`Integrate` with a time constant: its increment, 0 at a fixed point)."""
    if isinstance(op, Integrate):
        drive = [(c, key(v)) for c, v in op.inputs]
        if op.tau is None:
            return _lin([(c / op.leak, k) for c, k in drive])
        return _lin([*drive, (-op.leak, key(op.var))])  # its increment (0 at a fixed point)
    if isinstance(op, Copy):
        return key(op.src)
    if isinstance(op, DenseProjection):
        pre = key(op.pre)
        if pre == ZERO and not op.bias:
            return ZERO
        return ("dense", op.weight, pre, op.bias)
    if isinstance(op, Nonlinearity):
        src = key(op.src)
        if op.fn == "linear":
            return src
        return ZERO if src == ZERO and op.fn in _ZERO_AT_ZERO else ("phi", op.fn, src)
    if isinstance(op, OutputTarget):
        r, y = key(op.output), key(op.label)
        if op.loss == "given":
            return y
        if op.loss == "mse":
            c = 2.0 * op.lam / size(op.output)
            return _lin([(1.0 - c, r), (c, y)])
        return ("target", op.loss, op.lam, r, y)
    return ("opaque", op.name)


class _Rewrite:
    """State of one :func:`deviation_form` pass."""

    def __init__(self, model: Model, rest: Mapping[str, str]) -> None:
        self.model, self.rest = model, dict(rest)
        self.keys: dict[str, Key] = {}
        self.moving: set[str] = set(rest)  # variables whose deviation is not always 0
        self.needed: set[str] = set()  # variables whose operating value ops read
        self.step_defined: list[Op] = []  # step ops defining a current's operating value

    # operating point --------------------------------------------------------------
    def size(self, var: str) -> int:
        return self.model.variables[var].size

    def key(self, var: str) -> Key:
        v = self.model.variables[var]
        if var in self.rest:
            return self.keys.get(self.rest[var], ZERO)
        if v.kind == "input":
            return ("input", var)
        if v.kind == "parameter":
            return ("param", var)
        return self.keys.get(var, ZERO)

    def analyse(self) -> None:
        for op in self.model.init_ops:
            for w in op.writes:
                self.keys[w] = (
                    _value(op, self.key, self.size) if not op.stateful else ("opaque", op.name)
                )
        fresh = self._fresh_currents()
        for op in self.model.dynamics_ops:
            got = _value(op, self.key, self.size)
            for w in op.writes:
                if w in fresh:  # a current the step writes before reading: its value
                    self.keys[w] = got
                    self.step_defined.append(op)
                    continue
                want = ZERO if isinstance(op, Integrate) and op.tau is not None else self.key(w)
                if got != want:
                    raise ValueError(
                        f"deviation_form: step op '{op.name}' ({op.describe()}) changes "
                        f"'{w}' at the operating point of model "
                        f"'{self.model.meta.get('name', 'model')}' (the init state with "
                        f"{self._rest_text()}); a deviation form needs a fixed point"
                    )
        ops = self.model.init_ops + self.model.step_ops
        while True:
            before = len(self.moving)
            for op in ops:
                if op.stateful or any(r in self.moving for r in op.reads):
                    self.moving.update(op.writes)
            if len(self.moving) == before:
                break

    def _fresh_currents(self) -> set[str]:
        """Currents no init op writes that every step writes before it reads them
        (projection outputs): their operating value is what the step computes."""
        init = {w for op in self.model.init_ops for w in op.writes}
        seen: set[str] = set()
        fresh: set[str] = set()
        for op in self.model.dynamics_ops:
            seen.update(op.reads)
            for w in op.writes:
                kind = self.model.variables[w].kind
                if w not in seen and w not in init and kind == "current":
                    fresh.add(w)
                seen.add(w)
        return fresh

    def _rest_text(self) -> str:
        return ", ".join(f"'{i}' = '{v}'" for i, v in self.rest.items()) or "its inputs"

    # names ------------------------------------------------------------------------
    def zero(self, var: str) -> bool:
        """True if the deviation of ``var`` is identically 0."""
        return var not in self.moving

    def point(self, var: str) -> str:
        """The variable holding the operating value of ``var`` (inputs: themselves)."""
        if self.model.variables[var].kind == "input" and var not in self.rest:
            return var
        self.needed.add(self.rest.get(var, var))
        return op_point(self.rest.get(var, var))

    def absolute(self, var: str) -> str:
        """A variable holding the full value of a non-moving ``var``."""
        return self.point(var)


# -- rewrite rules ------------------------------------------------------------------------
@register(DenseProjection)
def _dense(op: DenseProjection, rw: _Rewrite) -> list[Op]:
    return [replace(op, bias=None)]


@register(Integrate)
def _integrate(op: Integrate, rw: _Rewrite) -> list[Op]:
    inputs = tuple((c, v) for c, v in op.inputs if not rw.zero(v))
    return [replace(op, inputs=inputs)]


@register(Copy)
def _copy(op: Copy, rw: _Rewrite) -> list[Op]:
    return [op]


@register(Nonlinearity)
def _nonlinearity(op: Nonlinearity, rw: _Rewrite) -> list[Op]:
    if op.fn == "linear":
        return [Copy(op.name, src=op.src, dst=op.dst)]
    at = rw.point(op.src)
    return [NonlinearityDifference(op.name, fn=op.fn, at=at, src=op.src, dst=op.dst)]


@register(OutputTarget)
def _target(op: OutputTarget, rw: _Rewrite) -> list[Op]:
    if op.loss in ("given", "mse"):
        return [op]  # linear in (output, label)
    raise NotImplementedError(
        f"deviation_form: OutputTarget '{op.name}' with loss={op.loss!r} is nonlinear; "
        "compute the target's deviation outside the model and use loss='given'"
    )


@register(LocalPlasticity)
def _plasticity(op: LocalPlasticity, rw: _Rewrite) -> list[Op]:
    post_key = rw.key(op.post)
    if op.post_baseline is None and post_key != ZERO:
        raise NotImplementedError(
            f"deviation_form: LocalPlasticity '{op.name}' has no post_baseline and "
            f"'{op.post}' is not 0 at the operating point; its factor is no difference"
        )
    if op.post_baseline is not None and rw.key(op.post_baseline) != post_key:
        raise NotImplementedError(
            f"deviation_form: LocalPlasticity '{op.name}' compares '{op.post}' with "
            f"'{op.post_baseline}', which differ at the operating point"
        )
    new: dict = {"at": None, "pre_at": None}
    base = op.post_baseline if op.post_baseline and not rw.zero(op.post_baseline) else None
    post = op.post
    if rw.zero(op.post) and base is None:  # the factor is 0 throughout: f(x) - f(x)
        post = base = rw.point(op.post)
    elif op.fn != "linear" and op.post_baseline is not None:
        new["at"] = rw.point(op.post)
    elif op.fn != "linear" and post_key == ZERO:
        new["at"] = rw.point(op.post)  # f(0 + dpost) - f(0): exact only if f(0) = 0
        if op.fn not in _ZERO_AT_ZERO:
            raise NotImplementedError(
                f"deviation_form: LocalPlasticity '{op.name}' without baseline and "
                f"fn={op.fn!r} (f(0) != 0) has no deviation form"
            )
    pre = op.pre
    if rw.zero(op.pre):
        pre = rw.absolute(op.pre)
    elif rw.key(op.pre) != ZERO:
        new["pre_at"] = rw.point(op.pre)
    return [replace(op, post=post, post_baseline=base, pre=pre, **new)]


def _rewrite(op: Op, rw: _Rewrite) -> list[Op]:
    for cls in type(op).__mro__:
        if cls in RULES:
            return RULES[cls](op, rw)
    raise NotImplementedError(
        f"deviation_form: op '{op.name}' of type {type(op).__name__} has no deviation "
        f"form; supported: {sorted(t.__name__ for t in RULES)}"
    )


def _renamed(op: Op, rw: _Rewrite) -> Op:
    """``op`` computing operating values (``"{var}_op"``) from the resting inputs."""
    from dataclasses import fields

    changes = {}
    for f in fields(op):
        val = getattr(op, f.name)
        if f.name == "name":
            changes[f.name] = op_point(val)
        elif f.name == "inputs":
            changes[f.name] = tuple((c, _point_name(v, rw)) for c, v in val)
        elif isinstance(val, str) and val in rw.model.variables:
            changes[f.name] = _point_name(val, rw)
    return replace(op, **changes)


def _point_name(var: str, rw: _Rewrite) -> str:
    v = rw.model.variables[var]
    if v.kind == "parameter" or (v.kind == "input" and var not in rw.rest):
        return var
    return op_point(rw.rest.get(var, var))


def deviation_form(model: Model, rest: Mapping[str, str] | None = None) -> Model:
    """``model`` in deviation variables about the state its init ops leave.

    Parameters
    ----------
    model : a model whose init state is a fixed point of its step ops once the
        ``rest`` inputs take their resting values (checked; see the module docstring).
    rest : input -> variable whose (init) value the input takes at rest; the input
        of the new model is then the deviation from it. DFC: ``{"ctrl.label":
        "l4.r"}`` (the controller at rest has the feedforward output as its target,
        and the new model's label is the target shift ``r* - r_L^-``). Other inputs
        keep their values and have no deviation.

    Returns
    -------
    A :class:`Model` with the same variable names holding deviations, plus a
    ``"{var}_op"`` state variable holding the operating value of every variable whose
    operating value is not 0 (computed by the original init ops),
    ``meta["deviation"] = {"of": name, "rest": rest}``. A variable without ``_op``
    is 0 at the operating point; one missing from the model has deviation 0.
    Parameters, plasticity ops and their updates are unchanged in meaning.
    """
    rest = dict(rest or {})
    for inp, var in rest.items():
        v = model.variables.get(inp)
        if v is None or v.kind != "input":
            raise ValueError(f"deviation_form: rest key '{inp}' is not an input of the model")
        if var not in model.variables or model.variables[var].size != v.size:
            raise ValueError(
                f"deviation_form: rest['{inp}'] = '{var}' is not a variable of size {v.size}"
            )
    timed = [v.name for v in model.of_kind("input") if v.time_varying]
    if timed:
        raise ValueError(
            f"deviation_form: inputs {timed} change over time; a deviation form needs a "
            "fixed operating point"
        )
    spiking = [op.name for op in model.init_ops + model.step_ops if isinstance(op, SpikeSoma)]
    if spiking:
        raise NotImplementedError(
            f"deviation_form: spiking ops {spiking} have no deviation form (their state is "
            "random, not a deviation from a fixed point)"
        )
    taken = [v for v in model.variables if op_point(v) in model.variables]
    if taken:
        raise ValueError(
            f"deviation_form: the model already has variables {[op_point(v) for v in taken]}"
            f"; the suffix '{OP_SUFFIX}' names operating points, rename them"
        )
    rw = _Rewrite(model, rest)
    rw.analyse()
    # at reset every deviation is 0 but the driven inputs': only ops they reach run
    driven, dev_init = set(rest), []
    for op in model.init_ops:
        if driven & set(op.reads):
            driven.update(op.writes)
            dev_init += _rewrite(op, rw)
    dev_step = []
    for op in model.step_ops:
        if isinstance(op, LocalPlasticity) or rw.moving & set(op.writes):
            dev_step += _rewrite(op, rw)
    for op in model.init_ops:  # every operating value of the init state that is not 0
        rw.needed.update(w for w in op.writes if rw.key(w) != ZERO)
    point_init = _point_ops(model, rw)
    variables = _variables(model, rw, point_init + dev_init + dev_step)
    probes = [p for p in model.probes if p.var in variables]
    meta = {**model.meta, "deviation": {"of": model.meta.get("name", "model"), "rest": rest}}
    return Model(variables, point_init + dev_init, dev_step, model.dt, probes, meta)


def _point_ops(model: Model, rw: _Rewrite) -> list[Op]:
    """The init ops computing the needed operating values (dependency closure)."""
    wanted = {op_point(v) for v in rw.needed}
    renamed = [_renamed(op, rw) for op in model.init_ops + rw.step_defined]
    keep: list[Op] = []
    for op in reversed(renamed):
        if wanted & set(op.writes):
            keep.append(op)
            wanted.update(op.reads)
    return keep[::-1]


def _variables(model: Model, rw: _Rewrite, ops: list[Op]) -> dict[str, Variable]:
    used = {v for op in ops for v in op.reads + op.writes}
    # every variable of the model stays declared (one whose deviation is always 0 simply
    # stays 0), so that its deviation can be read or recorded like any other
    out: dict[str, Variable] = dict(model.variables)
    for name in sorted(used - set(out)):
        base = model.variables[name[: -len(OP_SUFFIX)]]
        comp = f"{base.compartment}{OP_SUFFIX}" if base.compartment else None
        out[name] = replace(base, name=name, kind="state", compartment=comp, value=None,
                            plastic=False)  # fmt: skip
    return out
