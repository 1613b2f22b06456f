"""Hand-assembled IR models (per docs/design.md) for the brian2 backend tests.

They stand in for ``neurosim.build`` so the backend is tested against the IR
contract alone: a DFC hierarchy with a PI controller (forward phase, proactive,
instantaneous transmission; or the noisy, non-proactive sleep phase with the
feedback rule) and an autapse integrator on its own.
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
    Probe,
    Variable,
)


def _xavier(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def dfc_model(
    sizes: tuple[int, ...] = (15, 10, 10, 5),
    *,
    dt: float = 0.02,
    tau_v: float = 0.2,
    tau_a: float | None = None,
    k_p: float = 2.0,
    alpha: float = 0.01,
    lam: float = 0.5,
    sleep: bool = False,
    sleep_target: str = "feedforward",
    sigma: float = 0.0,
    loss: str = "mse",
    seed: int = 0,
) -> Model:
    """DFC hierarchy ``sizes`` with a PI controller (DFC App. E.1, eq. 1-5, 13).

    ``sleep=True`` builds the feedback-learning phase (non-proactive, apical noise
    ``sigma``, feedback rule); ``sleep_target="label"`` drives it to the label instead
    of the feedforward output, so that the rule changes Q without noise.
    """
    rng = np.random.default_rng(seed)
    layers = [f"h{i}" for i in range(1, len(sizes) - 1)] + ["out"]
    n_out = sizes[-1]
    tau_a = dt if tau_a is None else tau_a
    V: dict[str, Variable] = {}

    def var(name, kind, shape, value=None, plastic=False):
        V[name] = Variable(name, kind, shape, value, plastic, population=None)

    var("x.r", "input", (1, sizes[0]))
    var("ctrl.label", "input", (1, n_out))
    for v in ("target", "e", "u_int", "u"):
        var(f"ctrl.{v}", "state", (1, n_out))
    init, step, learn = [], [], []
    e_op = Integrate("ctrl_e", var="ctrl.e", inputs=((1.0, "ctrl.target"), (-1.0, "out.r")))
    ctrl_ops = [
        Integrate(
            "ctrl_u_int", var="ctrl.u_int", tau=1.0, leak=0.0,
            inputs=((1.0, "ctrl.e"), (-alpha, "ctrl.u")),
        ),
        Integrate("ctrl_u", var="ctrl.u", inputs=((1.0, "ctrl.u_int"), (k_p, "ctrl.e"))),
    ]  # fmt: skip
    layer_ops = []
    pre = "x.r"
    for li, (name, n, n_pre) in enumerate(zip(layers, sizes[1:], sizes[:-1], strict=True)):
        fn = "linear" if name == "out" else "tanh"
        ff, fb = f"{pre.split('.')[0]}_to_{name}_basal", f"ctrl_to_{name}_apical"
        for c in ("v", "v_basal", "v_apical", "r") + (("v_apical_prev",) if sleep else ()):
            var(f"{name}.{c}", "state", (1, n))
        var(f"{ff}.W", "parameter", (n, n_pre), _xavier(rng, n, n_pre), plastic=True)
        var(f"{ff}.b", "parameter", (n,), 0.1 * rng.normal(size=n), plastic=True)
        q = np.eye(n_out) if name == "out" else _xavier(rng, n, n_out)
        var(f"{fb}.W", "parameter", (n, n_out), q, plastic=True)
        var(f"{ff}.I", "current", (1, n))
        var(f"{fb}.I", "current", (1, n))
        init += [
            DenseProjection(f"init_{ff}", weight=f"{ff}.W", pre=pre, out=f"{ff}.I", bias=f"{ff}.b"),
            Integrate(f"init_{name}_vb", var=f"{name}.v_basal", inputs=((1.0, f"{ff}.I"),)),
            Integrate(f"init_{name}_v", var=f"{name}.v", inputs=((1.0, f"{name}.v_basal"),)),
            Nonlinearity(f"init_{name}_r", src=f"{name}.v", dst=f"{name}.r", fn=fn),
        ]
        if sleep:
            layer_ops.append(
                Copy(f"{name}_snap", src=f"{name}.v_apical", dst=f"{name}.v_apical_prev")
            )
        layer_ops += [
            DenseProjection(ff, weight=f"{ff}.W", pre=pre, out=f"{ff}.I", bias=f"{ff}.b"),
            Integrate(f"{name}_vb", var=f"{name}.v_basal", inputs=((1.0, f"{ff}.I"),)),
            DenseProjection(fb, weight=f"{fb}.W", pre="ctrl.u", out=f"{fb}.I"),
            Integrate(
                f"{name}_va", var=f"{name}.v_apical", tau=tau_a, inputs=((1.0, f"{fb}.I"),),
                noise_sigma=sigma, noise_seed=seed + 100 + li if sigma else None,
            ),
            Integrate(
                f"{name}_v", var=f"{name}.v", tau=tau_v,
                inputs=((1.0, f"{name}.v_basal"), (1.0, f"{name}.v_apical")),
            ),
            Nonlinearity(f"{name}_r", src=f"{name}.v", dst=f"{name}.r", fn=fn),
        ]  # fmt: skip
        if sleep:
            learn.append(
                LocalPlasticity(
                    f"learn_{fb}", weight=f"{fb}.W", post=f"{name}.v_apical_prev",
                    pre="ctrl.u", scale=-1.0, window="steps",
                )
            )  # fmt: skip
        else:
            learn.append(
                LocalPlasticity(
                    f"learn_{ff}", weight=f"{ff}.W", post=f"{name}.v", pre=pre,
                    post_baseline=f"{name}.v_basal", fn=fn, bias=f"{ff}.b", window="all",
                )
            )  # fmt: skip
        pre = f"{name}.r"
    if sleep:
        label = "out.r" if sleep_target == "feedforward" else "ctrl.label"
        init.append(
            OutputTarget("target", output="out.r", label=label, out="ctrl.target", loss="given")
        )
        step = [e_op] + layer_ops + ctrl_ops + learn
    else:
        init.append(
            OutputTarget(
                "target", output="out.r", label="ctrl.label", out="ctrl.target", loss=loss, lam=lam
            )
        )
        step = [e_op] + ctrl_ops + layer_ops + learn
    probes = [Probe(f"{n}.{c}") for n in layers for c in ("v", "v_basal", "v_apical", "r")]
    probes += [Probe("ctrl.u"), Probe("ctrl.e")]
    return Model(V, init, step, dt, probes, {"name": f"dfc_{'-'.join(map(str, sizes))}"})


def autapse_model(n: int = 4, *, dt: float = 0.01, w_self: float = 0.9, tau: float = 0.5) -> Model:
    """An autapse integrator alone: ``tau dx/dt = -(1 - w) x + s`` driven by an input."""
    V = {
        "s.r": Variable("s.r", "input", (1, n)),
        "ai.x": Variable("ai.x", "state", (1, n)),
    }
    step = [Integrate("ai_x", var="ai.x", tau=tau, leak=1.0 - w_self, inputs=((1.0, "s.r"),))]
    return Model(V, [], step, dt, [Probe("ai.x")], {"name": "autapse"})


def random_inputs(model: Model, batch: int = 1, seed: int = 1) -> dict[str, np.ndarray]:
    """Inputs ``(batch, size)`` for every input variable (labels one-hot-ish)."""
    rng = np.random.default_rng(seed)
    return {v.name: rng.normal(size=(batch, v.size)) for v in model.of_kind("input")}
