"""One small DFC hierarchy with a PI controller, three somata, simulated with brian2.

(a) the rate soma of the DFC paper (eq. 1), (b) the conductance-based
three-compartment soma of DFC App. G, (c) a Poisson-spiking soma in the hidden
layers. For each: voltage traces of the three compartments, the output error
under control, a raster for the spiking one; then online learning (DFC eq. 5 as
a synaptic update inside brian2) on a student-teacher task, and the student's
loss before and after.

    python examples/biophysical_variants.py [--quick] [--target numpy|cython|cpp_standalone]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import brian2 as b2
import numpy as np

from neurosim.backends.brian2 import Brian2Simulator
from neurosim.backends.brian2.variants import conductance_soma, spiking_soma
from neurosim.ir import Model
from neurosim.testing import dfc_model

SIZES = (15, 10, 10, 5)
TIME_UNIT = 0.1 * b2.second  # one model time unit in brian2 time


def weight_product_feedback(model: Model) -> Model:
    """Fixed-DFC feedback (DFC.md §1.6): ``Q_i = W_{i+1}^T ... W_L^T``, ``Q_L = I``."""
    V = dict(model.variables)
    L = len(SIZES) - 1
    names = ["x"] + [f"h{i}" for i in range(1, L + 1)]
    Q = np.eye(SIZES[-1])
    for i in range(L, 0, -1):
        q = f"ctrl_to_h{i}_apical.W"
        V[q] = dataclasses.replace(V[q], value=Q.copy())
        Q = V[f"{names[i - 1]}_to_h{i}_basal.W"].value.T @ Q
    return Model(V, model.init_ops, model.step_ops, model.dt, model.probes, model.meta)


def variants() -> dict[str, Model]:
    """The same circuit (same weights, same controller), three somata."""
    rate = dfc_model(SIZES, dt=0.02, tau_v=0.2, alpha=1e-3, k_p=2.0, lam=0.5, loss="mse")
    rate = weight_product_feedback(rate)
    return {
        "rate": rate,
        "conductance": conductance_soma(rate, C=200 * b2.pF, g_L=10 * b2.nS, g_B=10 * b2.nS,
                                        g_A=8 * b2.nS, time_unit=TIME_UNIT),
        "poisson": spiking_soma(rate, "poisson", max_rate=50.0, tau_syn=0.2, seed=11),
    }  # fmt: skip


def feedforward(model: Model, params: dict, x: np.ndarray) -> np.ndarray:
    """Output of the feedforward sweep (what the init ops compute), for a batch ``x``."""
    att = model.meta.get("basal_attenuation", 1.0)
    r, pre = x, "x"
    for i in range(1, len(SIZES)):
        h = f"h{i}"
        v = att * (r @ params[f"{pre}_to_{h}_basal.W"].T + params[f"{pre}_to_{h}_basal.b"])
        r, pre = (v if i == len(SIZES) - 1 else np.tanh(v)), h
    return r


def student_teacher(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of a random teacher of the same shape (tanh, linear output)."""
    rng = np.random.default_rng(seed)
    teacher = dfc_model(SIZES, seed=seed + 100)
    params = {v.name: v.value for v in teacher.of_kind("parameter")}
    x = rng.normal(size=(n, SIZES[0]))
    return x, feedforward(teacher, params, x)


def loss(model: Model, params: dict, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((feedforward(model, params, x) - y) ** 2))


def run_variant(name: str, model: Model, target: str, steps: int, n_train: int, lr: float):
    sim = Brian2Simulator(model, target, params={"time_unit": TIME_UNIT})
    x, y = student_teacher(n_train + 50)
    xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    record = ["h2.v", "h2.v_basal", "h2.v_apical", "h3.r", "ctrl.target", "ctrl.e"]
    sim.reset({"x.r": xtr[:1], "ctrl.label": ytr[:1]})
    demo = sim.run(steps, record=record, plasticity="off", spikes=name == "poisson")
    before = loss(model, sim.parameters, xte, yte)
    block = {"x.r": xtr[:, None], "ctrl.label": ytr[:, None]}
    sim.run_samples(block, steps, record=[], plasticity="online", lr=lr)
    after = loss(model, sim.parameters, xte, yte)
    err = np.linalg.norm(demo.traces["ctrl.e"][:, 0], axis=-1)
    print(f"{name:12s} output error |e|: step 1 {err[1]:.3g} -> end {err[-1]:.3g}; "
          f"test loss {before:.4g} -> {after:.4g} after {n_train} online samples")  # fmt: skip
    return demo, err, before, after


def plot(results: dict, dt: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(results), figsize=(4.2 * len(results), 8), squeeze=False)
    for col, (name, (demo, err, before, after)) in enumerate(results.items()):
        tr = demo.traces
        t = np.arange(tr["h2.v"].shape[0]) * dt
        for key, style in (("h2.v", "-"), ("h2.v_basal", "--"), ("h2.v_apical", ":")):
            axes[0, col].plot(t, tr[key][:, 0, 0], style, label=key.split(".")[1])
        axes[0, col].set_title(f"({'abc'[col]}) {name}: h2 unit 0")
        axes[0, col].legend(fontsize=7)
        axes[1, col].semilogy(t[1:], err[1:])
        axes[1, col].set_title(f"|r* - r_L|; loss {before:.3g} -> {after:.3g}", fontsize=9)
        spikes = tr.get("h1.r.spikes")
        if spikes is not None:
            k, unit = np.nonzero(spikes[:, 0, :])
            axes[2, col].plot(t[k], unit, "|", ms=3)
            axes[2, col].set_title("h1 raster")
        else:
            axes[2, col].plot(t, tr["h3.r"][:, 0, :], lw=0.8)
            axes[2, col].set_title("output rates r_L")
        axes[2, col].set_xlabel("time (model units)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps and samples (tests)")
    parser.add_argument("--target", default="numpy", choices=("numpy", "cython", "cpp_standalone"))
    parser.add_argument("--out", type=Path, default=Path("runs/biophysical_variants"))
    parser.add_argument("--lr", type=float, default=2.0, help="online learning rate")
    args = parser.parse_args(argv)
    steps, n_train = (300, 15) if args.quick else (1000, 100)
    results = {}
    for name, model in variants().items():
        results[name] = run_variant(name, model, args.target, steps, n_train, args.lr)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, variants()["rate"].dt, args.out / "biophysical_variants.png")
    print(f"figure: {args.out / 'biophysical_variants.png'}")
    return results


if __name__ == "__main__":
    main()
