"""A plain numpy interpreter of the IR, written from the op docstrings only.

It is the ground truth of the IR-order tests and of the brian2 equivalence tests:
each op runs in list order and reads current values, in float64 and without noise.
A plasticity op samples at its position in the step, for the steps in its window
(window "all" also at k = 0). ``plasticity="accumulate"`` returns the mean update
``scale <f(post) - f(baseline), pre> - decay W``; ``"online"`` applies
``W += lr*dt*dW_k`` at each sample.
"""

from __future__ import annotations

import numpy as np

from neurosim.ir import (
    Copy,
    DenseProjection,
    ErrorSignal,
    Integrate,
    LocalPlasticity,
    Model,
    Nonlinearity,
    NonlinearityDifference,
    OutputTarget,
)

PHI = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "logistic": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


#: ``phi(a + x) - phi(a + y)`` by the identities of ``NonlinearityDifference``
PHI_DIFFERENCE = {
    "linear": lambda a, x, y: x - y,
    "tanh": lambda a, x, y: np.sinh(x - y) / (np.cosh(a + x) * np.cosh(a + y)),
    "logistic": lambda a, x, y: _sigmoid(a + x) * _sigmoid(-a - y) * -np.expm1(-(x - y)),
    "softplus": lambda a, x, y: np.log1p(_sigmoid(a + y) * np.expm1(x - y)),
    "relu": lambda a, x, y: np.where(
        (a + x > 0) & (a + y > 0), x - y, PHI["relu"](a + x) - PHI["relu"](a + y)
    ),
    "leaky_relu": lambda a, x, y: np.where(
        (a + x > 0) == (a + y > 0),
        np.where(a + x > 0, 1.0, 0.01) * (x - y),
        PHI["leaky_relu"](a + x) - PHI["leaky_relu"](a + y),
    ),
}


def phi_difference(fn: str, a, x, y=None):
    """``phi(a + x) - phi(a + y)`` (``y=None``: ``- phi(a)``), never two rates subtracted."""
    return PHI_DIFFERENCE[fn](a, x, np.zeros_like(x) if y is None else y)


def simulate(model: Model, inputs: dict, steps: int, plasticity=None, lr: float = 0.0, params=None):
    """Init and ``steps`` Euler steps of ``model`` on ``inputs`` (var -> (batch, n);
    a time-varying input ``(rows, batch, n)``: the init ops read row 0, step ``k`` row
    ``k - 1``, as both backends do).

    Returns ``(traces, updates, params)``: every non-parameter variable's
    ``(steps + 1, batch, n)`` trace, the plasticity updates by parameter name, and the
    final parameters (``params`` overrides the model's initial values).
    """
    noisy = [op.name for op in model.dynamics_ops if getattr(op, "noise_sigma", 0.0)]
    if noisy:
        raise ValueError(f"numpy reference: ops {noisy} are noisy; it simulates noise-free models")
    P = {v.name: np.array(v.value, float) for v in model.of_kind("parameter")}
    P.update({k: np.array(v, float) for k, v in (params or {}).items()})
    rows = {k: np.asarray(v, float) for k, v in inputs.items()}
    timed = {k for k in rows if model.variables[k].time_varying}
    for k in timed:
        if rows[k].ndim != 3 or rows[k].shape[0] < max(steps, 1):
            raise ValueError(
                f"numpy reference: time-varying input '{k}' has shape {rows[k].shape}; "
                f"give (rows >= {max(steps, 1)}, batch, n): step k reads row k - 1"
            )
    batch = next(iter(rows.values())).shape[-2] if rows else 1
    S = {
        v.name: np.zeros((batch, v.size)) for v in model.variables.values() if v.kind != "parameter"
    }
    S.update({k: v[0] if k in timed else v for k, v in rows.items()})
    T = steps + 1
    acc = {}
    W0 = {k: v.copy() for k, v in P.items()}

    def get(name):
        return P[name] if name in P else S[name]

    def learn(op, k):
        gate = {"all": True, "steps": k > 0, "last": k == T - 1}[op.window]
        if not gate:
            return
        f = PHI[op.fn]
        if op.at:
            base = S[op.post_baseline] if op.post_baseline else None
            d = phi_difference(op.fn, S[op.at], S[op.post], base)
        else:
            d = f(S[op.post]) - (f(S[op.post_baseline]) if op.post_baseline else 0.0)
        pre = S[op.pre] + (S[op.pre_at] if op.pre_at else 0.0)
        dw = d.T @ pre / batch
        if plasticity == "online":
            P[op.weight] += lr * model.dt * (op.scale * dw - op.decay * P[op.weight])
            if op.bias:
                P[op.bias] += lr * model.dt * op.scale * d.mean(0)
        else:
            a = acc.setdefault(op.name, [0.0, 0.0, 0])
            a[0] = a[0] + dw
            a[1] = a[1] + d.mean(0)
            a[2] += 1

    def run(op, k):
        if isinstance(op, DenseProjection):
            S[op.out] = S[op.pre] @ P[op.weight].T + (P[op.bias] if op.bias else 0.0)
        elif isinstance(op, Integrate):
            drive = sum(c * get(v) for c, v in op.inputs) if op.inputs else 0.0
            if op.tau is None:
                S[op.var] = drive / op.leak
            else:
                x = S[op.var]
                S[op.var] = x + model.dt / op.tau * (-op.leak * x + drive)
        elif isinstance(op, Nonlinearity):
            S[op.dst] = PHI[op.fn](S[op.src])
        elif isinstance(op, NonlinearityDifference):
            base = S[op.src_baseline] if op.src_baseline else None
            S[op.dst] = phi_difference(op.fn, S[op.at], S[op.src], base)
        elif isinstance(op, Copy):
            S[op.dst] = S[op.src].copy()
        elif isinstance(op, OutputTarget):
            r, y = S[op.output], S[op.label]
            if op.loss == "given":
                S[op.out] = y.copy()
            elif op.loss == "mse":
                S[op.out] = r - op.lam * 2.0 * (r - y) / r.shape[-1]
            else:
                p = np.exp(r) / np.exp(r).sum(-1, keepdims=True)
                S[op.out] = r - op.lam * (p - y)
        elif isinstance(op, ErrorSignal):
            S[op.out] = (S[op.prediction] - S[op.target]) * (S[op.gate] if op.gate else 1.0)
        elif isinstance(op, LocalPlasticity):
            if plasticity is not None and k > 0:
                learn(op, k)
        else:
            raise NotImplementedError(type(op).__name__)

    for op in model.init_ops:
        run(op, 0)
    if plasticity is not None:
        for op in model.plasticity_ops:
            if op.window == "all":
                learn(op, 0)
    traces = {name: [S[name].copy()] for name in S}
    for k in range(1, T):
        for name in timed:
            S[name] = rows[name][k - 1]
        for op in model.step_ops:
            run(op, k)
        for name in S:
            traces[name].append(S[name].copy())
    updates = {}
    if plasticity == "accumulate":
        for op in model.plasticity_ops:
            s, sb, n = acc.get(op.name, (0.0, 0.0, 1))
            updates[op.weight] = op.scale * s / n - op.decay * P[op.weight]
            if op.bias:
                updates[op.bias] = op.scale * sb / n
    elif plasticity == "online":
        updates = {k: P[k] - W0[k] for k in P}
    return {k: np.stack(v) for k, v in traces.items()}, updates, P
