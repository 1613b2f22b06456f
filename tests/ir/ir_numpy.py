"""A test-only numpy executor of IR models (batch-first, float64, noise-free).

It follows the op semantics of :mod:`neurosim.ir.ops` literally, so that tests can
check that ``neurosim.build`` emits ops whose *order* reproduces the DFC Euler loop.
Plasticity ops accumulate the batch-mean outer product at their sampling points:
``window="all"`` after init and after every step (N = T), ``"steps"`` after every step
(N = T - 1), ``"last"`` after the final step only.
"""

from __future__ import annotations

import numpy as np

from neurosim.ir import (
    Copy,
    DenseProjection,
    Integrate,
    LocalPlasticity,
    Model,
    Nonlinearity,
    OutputTarget,
)

PHI = {"linear": lambda v: v, "tanh": np.tanh}


def _target(op: OutputTarget, s: dict) -> np.ndarray:
    r, y = s[op.output], s[op.label]
    if op.loss == "given":
        return y.copy()
    if op.loss == "mse":
        return r - op.lam * 2.0 * (r - y) / r.shape[1]
    p = np.exp(r - r.max(axis=1, keepdims=True))
    return r - op.lam * (p / p.sum(axis=1, keepdims=True) - y)


def _apply(op, s: dict, dt: float) -> None:
    if isinstance(op, DenseProjection):
        out = s[op.pre] @ s[op.weight].T
        s[op.out] = out + s[op.bias] if op.bias else out
    elif isinstance(op, Integrate):
        assert op.noise_sigma == 0.0, "numpy executor is noise-free"
        drive = sum(g * s[v] for g, v in op.inputs) if op.inputs else 0.0 * s[op.var]
        if op.tau is None:
            s[op.var] = drive / op.leak
        else:
            s[op.var] = s[op.var] + dt / op.tau * (-op.leak * s[op.var] + drive)
    elif isinstance(op, Nonlinearity):
        s[op.dst] = PHI[op.fn](s[op.src])
    elif isinstance(op, Copy):
        s[op.dst] = s[op.src].copy()
    elif isinstance(op, OutputTarget):
        s[op.out] = _target(op, s)
    else:
        raise TypeError(type(op).__name__)


def _sample(op: LocalPlasticity, s: dict, acc: dict) -> None:
    f = PHI[op.fn]
    post = f(s[op.post]) - (f(s[op.post_baseline]) if op.post_baseline else 0.0)
    B = post.shape[0]
    acc[op.weight] = acc.get(op.weight, 0.0) + op.scale * post.T @ s[op.pre] / B
    if op.bias:
        acc[op.bias] = acc.get(op.bias, 0.0) + op.scale * post.mean(axis=0)


def run(model: Model, inputs: dict[str, np.ndarray], T: int) -> tuple[dict, dict]:
    """Init + ``T - 1`` steps. Returns (traces ``(T, batch, n)`` of every state,
    mean plasticity updates by parameter name)."""
    B = next(iter(inputs.values())).shape[0]
    s: dict[str, np.ndarray] = {}
    for v in model.variables.values():
        if v.kind in ("state", "current"):
            s[v.name] = np.zeros((B, v.size))
        elif v.kind == "parameter":
            s[v.name] = np.array(v.value, dtype=float)
    s.update({k: np.asarray(x, dtype=float) for k, x in inputs.items()})
    for op in model.init_ops:
        _apply(op, s, model.dt)
    states = [v.name for v in model.of_kind("state")]
    traces = {k: [s[k].copy()] for k in states}
    acc: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    rules = model.plasticity_ops
    for op in rules:
        if op.window == "all":
            _sample(op, s, acc)
        counts[op.name] = 1 if op.window in ("all", "last") else 0
    for k in range(1, T):
        for op in model.dynamics_ops:
            _apply(op, s, model.dt)
        for op in rules:
            if op.window in ("all", "steps") or (op.window == "last" and k == T - 1):
                _sample(op, s, acc)
                if op.window != "last":
                    counts[op.name] += 1
        for name in states:
            traces[name].append(s[name].copy())
    updates = {}
    for op in rules:
        for p in op.updates:
            updates[p] = acc[p] / counts[op.name] - op.decay * s[p] * (p == op.weight)
    return {k: np.stack(v) for k, v in traces.items()}, updates
