"""Testing helpers: the one dtype-aware tolerance policy, and a hand-assembled DFC model.

Every numerical test in neurosim compares through :func:`assert_allclose`, so the
tolerances live here and nowhere else. The policy: relative and absolute tolerance
are a fixed multiple of the dtype's machine epsilon (a few hundred ulps, enough for
thousands of Euler steps of a contracting system), times ``rtol_scale`` for
comparisons that are known to lose more precision (long chaotic transients,
float32-vs-float64 comparisons, which use the looser of the two dtypes).

:func:`dfc_model` assembles the IR of a DFC hierarchy directly from ops, following
the step order of ``docs/design.md`` (DFC App. E.1). Backends and benchmarks use it
so that they do not depend on the frontend builder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from neurosim.ir import (
    Copy,
    DenseProjection,
    Integrate,
    LocalPlasticity,
    Model,
    Nonlinearity,
    OutputTarget,
    Probe,
    Variable,
)

#: tolerance = ``ULPS * eps(dtype)`` relative, same absolute (values are O(1)).
ULPS = 256.0


def _dtype_of(dtype: torch.dtype | np.dtype | str | None, *arrays: object) -> torch.dtype:
    if dtype is None:
        found = [a.dtype for a in arrays if isinstance(a, torch.Tensor)]
        found += [
            torch.from_numpy(np.zeros(0, a.dtype)).dtype
            for a in arrays
            if isinstance(a, np.ndarray)
        ]
        floats = [d for d in found if d.is_floating_point]
        if not floats:
            return torch.float64
        # the looser (lower-precision) dtype decides
        return max(floats, key=lambda d: torch.finfo(d).eps)
    if isinstance(dtype, torch.dtype):
        return dtype
    return torch.from_numpy(np.zeros(0, np.dtype(dtype))).dtype


def tolerance(dtype: torch.dtype | np.dtype | str, rtol_scale: float = 1.0) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing values computed in ``dtype``.

    Parameters
    ----------
    dtype : the (lower) precision the compared values were computed in.
    rtol_scale : multiplier for comparisons known to accumulate more error.

    Returns
    -------
    ``(rtol, atol)``, both ``ULPS * eps(dtype) * rtol_scale``: about 3e-5 for float32
    and 6e-14 for float64.
    """
    if rtol_scale <= 0:
        raise ValueError(f"tolerance: rtol_scale must be > 0, got {rtol_scale}")
    eps = torch.finfo(_dtype_of(dtype)).eps
    tol = ULPS * eps * rtol_scale
    return tol, tol


def assert_allclose(
    actual: object,
    desired: object,
    dtype: torch.dtype | np.dtype | str | None = None,
    rtol_scale: float = 1.0,
    msg: str = "",
) -> None:
    """Assert ``|actual - desired| <= atol + rtol*|desired|`` with the policy tolerance.

    Parameters
    ----------
    actual, desired : tensors, arrays or numbers (compared in float64 on the CPU).
    dtype : precision the values were computed in; default: the looser floating
        dtype of the two arguments (float64 if neither is floating point).
    rtol_scale : see :func:`tolerance`.
    msg : prefix for the failure message.
    """
    rtol, atol = tolerance(_dtype_of(dtype, actual, desired), rtol_scale)
    a = torch.as_tensor(actual).detach().to("cpu", torch.float64)
    d = torch.as_tensor(desired).detach().to("cpu", torch.float64)
    torch.testing.assert_close(
        a, d, rtol=rtol, atol=atol, msg=lambda m: f"{msg} (rtol=atol={rtol:.2e}): {m}"
    )


def _xavier(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def dfc_model(
    sizes: Sequence[int],
    dt: float = 0.02,
    tau_v: float = 0.2,
    tau_a: float | None = None,
    alpha: float = 1.389e-3,
    k_p: float = 2.0,
    lam: float = 0.07794,
    activations: Sequence[str] | None = None,
    proactive: bool = True,
    window: str = "all",
    sigma: float = 0.0,
    seed: int = 0,
    loss: str = "cross_entropy",
    feedback_rule: bool = False,
) -> Model:
    """A DFC hierarchy assembled directly from IR ops (design.md step order).

    Forward phase (DFC App. E.1, eqs. 1-3, 6; design.md): init ops run the
    feedforward sweep and set the output target ``r* = r_L - lam dL/dr_L`` (eq. 3);
    every step runs ``e <- r* - r_L``; ``u_int += dt (e - alpha u)``;
    ``u <- u_int + k_p e``; then for each layer ``I_ff <- W r + b``, ``v_B <- I_ff``,
    ``I_fb <- Q u``, ``v_A`` Euler with ``tau_A`` (default ``dt``: instantaneous),
    ``v`` Euler with ``tau_v``, ``r <- phi(v)``. ``proactive=False`` moves the
    controller after the layers. The forward rule (eq. 5) is a
    :class:`~neurosim.ir.LocalPlasticity` per layer with ``window`` ("all": DFC,
    "last": DFC-SS). ``sigma > 0`` adds apical noise (Euler-Maruyama).
    ``feedback_rule=True`` also adds the feedback rule (eq. 13) on ``Q`` with the
    ``v_apical_prev`` snapshots (sleep phase).

    Weights are xavier-normal from ``seed``; feedback ``Q_i`` is xavier-normal for
    hidden layers and the identity for the output layer (DFC.md §1.6).
    """
    L = len(sizes) - 1
    acts = list(activations) if activations else ["tanh"] * (L - 1) + ["linear"]
    if len(acts) != L:
        raise ValueError(f"dfc_model: activations needs {L} entries, got {len(acts)}")
    tau_a = dt if tau_a is None else tau_a
    rng = np.random.default_rng(seed)
    n_L = sizes[-1]
    V: dict[str, Variable] = {}

    def var(name: str, kind: str, shape: tuple[int, ...], value=None, plastic=False) -> str:
        V[name] = Variable(name, kind, shape, value=value, plastic=plastic)
        return name

    var("x.r", "input", (1, sizes[0]))
    var("ctrl.label", "input", (1, n_L))
    for nm in ("target", "e", "u_int", "u"):
        var(f"ctrl.{nm}", "state", (1, n_L))
    init, ctrl, layers, rules = [], [], [], []
    pre = "x.r"
    for i in range(1, L + 1):
        h, n, p = f"h{i}", sizes[i], pre.split(".")[0]
        W = var(
            f"{p}_to_{h}_basal.W",
            "parameter",
            (n, sizes[i - 1]),
            _xavier(rng, n, sizes[i - 1]),
            True,
        )
        b = var(f"{p}_to_{h}_basal.b", "parameter", (n,), np.zeros(n), True)
        Qv = np.eye(n_L) if i == L else _xavier(rng, n, n_L)
        Q = var(f"ctrl_to_{h}_apical.W", "parameter", (n, n_L), Qv, True)
        Iff = var(f"{p}_to_{h}_basal.I", "current", (1, n))
        Ifb = var(f"ctrl_to_{h}_apical.I", "current", (1, n))
        v, vb, va, r = (var(f"{h}.{c}", "state", (1, n)) for c in ("v", "v_basal", "v_apical", "r"))
        init += [
            DenseProjection(f"init_ff_{h}", weight=W, pre=pre, out=vb, bias=b),
            Copy(f"init_v_{h}", src=vb, dst=v),
            Nonlinearity(f"init_r_{h}", src=v, dst=r, fn=acts[i - 1]),
        ]
        if feedback_rule:
            vap = var(f"{h}.v_apical_prev", "state", (1, n))
            layers.append(Copy(f"snap_{h}", src=va, dst=vap))
            rules.append(
                LocalPlasticity(
                    f"fb_rule_{h}", weight=Q, post=vap, pre="ctrl.u", scale=-1.0, window="steps"
                )
            )
        layers += [
            DenseProjection(f"ff_{h}", weight=W, pre=pre, out=Iff, bias=b),
            Integrate(f"basal_{h}", var=vb, tau=None, inputs=((1.0, Iff),)),
            DenseProjection(f"fb_{h}", weight=Q, pre="ctrl.u", out=Ifb),
            Integrate(
                f"apical_{h}",
                var=va,
                tau=tau_a,
                inputs=((1.0, Ifb),),
                noise_sigma=sigma,
                noise_seed=seed * 1000 + i if sigma else None,
            ),
            Integrate(f"soma_{h}", var=v, tau=tau_v, inputs=((1.0, vb), (1.0, va))),
            Nonlinearity(f"rate_{h}", src=v, dst=r, fn=acts[i - 1]),
        ]
        if not feedback_rule:
            rules.append(
                LocalPlasticity(
                    f"ff_rule_{h}",
                    weight=W,
                    bias=b,
                    post=v,
                    post_baseline=vb,
                    pre=pre,
                    fn=acts[i - 1],
                    window=window,
                )
            )
        pre = r
    r_L = pre
    init.append(
        OutputTarget(
            "init_target", output=r_L, label="ctrl.label", out="ctrl.target", loss=loss, lam=lam
        )
    )
    err = Integrate(
        "ctrl_error", var="ctrl.e", tau=None, inputs=((1.0, "ctrl.target"), (-1.0, r_L))
    )
    ctrl = [
        Integrate(
            "ctrl_int",
            var="ctrl.u_int",
            tau=1.0,
            leak=0.0,
            inputs=((1.0, "ctrl.e"), (-alpha, "ctrl.u")),
        ),
        Integrate(
            "ctrl_out", var="ctrl.u", tau=None, inputs=((1.0, "ctrl.u_int"), (k_p, "ctrl.e"))
        ),
    ]
    steps = [err] + ctrl + layers if proactive else [err] + layers + ctrl
    return Model(
        V,
        init,
        steps + rules,
        dt=dt,
        probes=[Probe(r_L)],
        meta={"name": "dfc-" + "-".join(map(str, sizes))},
    )
