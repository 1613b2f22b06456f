"""One small DFC hierarchy with a PI controller, three somata, simulated with brian2.

The same circuit objects (``HierarchyBuilder``: 15-10-10-5 pyramidal layers, direct
feedback, PI controller, the forward rule of DFC eq. 5 on every W_i) with one
parameter switched:

(a) ``rate``: the rate soma of the DFC paper (eq. 1);
(b) ``conductance``: ``soma=`` the conductance-based three-compartment soma of DFC
    App. G, from physical C, g_L, g_B, g_A (brian2 units, checked);
(c) ``poisson``: ``spiking=`` Poisson-spiking hidden somata (rate phi(U)), whose
    filtered spike trains are what the next layer receives.

For each: voltage traces of the three compartments, the output error under control
(the controller drives r_L to its target r*, DFC eq. 3-4), a raster for the spiking
one; then online learning (DFC eq. 5 as a clock-driven synaptic ODE inside brian2,
one block of samples in one run) on the student-teacher task of ``neurosim.data``,
and the student's test loss before and after.

    python examples/biophysical_variants.py [--quick | --full] [--target numpy|cython|...]

Run time, numpy target, measured (CPU seconds, about the wall time on an idle core;
then the wall time here, on 2 cores shared with jobs at a load of 15-40): ``--quick``
(300 steps, 20 online samples) 15 s / 1.8 min; the default (500 steps, 30 samples)
22 s / 1.7 min; ``--full`` (1000 steps, 100 samples, the former default) 94 s / 7.2
min. Each variant prints its stages and times as it goes, and brian2 reports its
progress every 10 s during the online-learning block. The cython and cpp_standalone
targets are faster once compiled (a cold compile takes about a minute).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import brian2 as b2
import numpy as np

import neurosim
from neurosim.backends.brian2 import Brian2Simulator
from neurosim.backends.brian2.variants import conductance_soma_model
from neurosim.circuits import PIController
from neurosim.data.synthetic import student_teacher
from neurosim.ir import DenseProjection, Integrate, Model, Nonlinearity

SIZES = (15, 10, 10, 5)
DT = 0.02
TIME_UNIT = 0.1 * b2.second  # brian2 time of one model time unit
VARIANTS = ("rate", "conductance", "poisson")
#: (steps per sample, online-learning samples) of each run length
SIZES_OF = {"quick": (300, 20), "default": (500, 30), "full": (1000, 100)}


def builder(variant: str, feedback_init=None) -> neurosim.HierarchyBuilder:
    """The hierarchy with the soma of ``variant``; everything else is shared."""
    options: dict = {}
    if variant == "conductance":
        soma, tau_v = conductance_soma_model(
            C=200 * b2.pF, g_L=10 * b2.nS, g_B=10 * b2.nS, g_A=8 * b2.nS, time_unit=TIME_UNIT
        )
        options = {"soma": soma, "tau_v": tau_v}
    elif variant == "poisson":  # max_rate * dt = 1: one spike per step at the top rate
        options = {"spiking": ["poisson", "poisson", None], "max_rate": 1 / DT, "tau_syn": 0.2}
    if feedback_init is not None:
        options["feedback_init"] = feedback_init
    return neurosim.HierarchyBuilder(
        SIZES,
        controller=PIController(k_p=2.0, alpha=1e-3, loss="mse", lam=0.5),
        plasticity="forward",
        seed=7,
        name=f"dfc_{variant}",
        **options,
    )


def weight_product_feedback(variant: str) -> list[neurosim.Given]:
    """Fixed-DFC feedback (DFC.md §1.6): ``Q_i = W_{i+1}^T ... W_L^T``, ``Q_L = I``, from
    the forward weights the builder draws (per-object seeds: the same in every build)."""
    model = neurosim.build(builder(variant).build(), dt=DT)
    L = len(SIZES) - 1
    Q, out = np.eye(SIZES[-1]), []
    for i in range(L, 0, -1):
        out.insert(0, neurosim.Given(Q.copy()))
        Q = model.variables[f"W{i}.W"].value.T @ Q
    return out


def variant_model(variant: str) -> Model:
    return neurosim.build(builder(variant, weight_product_feedback(variant)).build(), dt=DT)


def feedforward(model: Model, params: dict, x: np.ndarray) -> np.ndarray:
    """The output ``r_L`` of the model's own feedforward sweep (its init ops, evaluated
    for a batch ``x``): what a trained student predicts, for every variant."""
    phi = {"tanh": np.tanh, "linear": lambda v: v}
    S: dict[str, np.ndarray] = {"x.r": x}
    for op in model.init_ops:
        if isinstance(op, DenseProjection):
            b = params[op.bias] if op.bias else 0.0
            S[op.out] = S[op.pre] @ params[op.weight].T + b
        elif isinstance(op, Integrate):  # instantaneous; absent inputs (apical) are 0
            S[op.var] = sum(c * S.get(v, 0.0) for c, v in op.inputs) / op.leak
        elif isinstance(op, Nonlinearity):
            S[op.dst] = phi[op.fn](S[op.src])
    return S[f"l{len(SIZES) - 1}.r"]


@dataclass
class Result:
    traces: dict[str, np.ndarray]
    error: np.ndarray  # |r* - r_L| per time sample of the demo run
    loss_before: float
    loss_after: float

    @property
    def settled_error(self) -> float:
        """Mean |e| over the last quarter of the run (spiking: a time average)."""
        return float(self.error[-len(self.error) // 4 :].mean())


def run_variant(variant: str, target: str, steps: int, n_train: int, lr: float) -> Result:
    start = time.perf_counter()
    model = variant_model(variant)
    # progress="text": brian2's report (fraction simulated, elapsed, remaining) every 10 s
    sim = Brian2Simulator(model, target, params={"time_unit": TIME_UNIT}, progress="text")
    data = student_teacher(n_train=n_train, n_test=200, hidden=(50, 50, 50), gain=1.5, seed=3)
    xtr, ytr = data["X_train"].astype(float), data["y_train"].astype(float)
    xte, yte = data["X_test"].astype(float), data["y_test"].astype(float)
    record = ["l2.v", "l2.v_basal", "l2.v_apical", "l3.r", "ctrl.target", "ctrl.e"]
    sim.reset({"x.r": xtr[:1], "ctrl.label": ytr[:1]})
    demo = sim.run(steps, record=record, plasticity="off", spikes=variant == "poisson")
    before = float(np.mean((feedforward(model, sim.parameters, xte) - yte) ** 2))
    print(f"{variant:12s} demo run: {steps} steps in {time.perf_counter() - start:.1f} s; "
          f"online learning: {n_train} samples x {steps} steps ...", flush=True)  # fmt: skip
    block = {"x.r": xtr[:, None], "ctrl.label": ytr[:, None]}
    sim.run_samples(block, steps, record=[], plasticity="online", lr=lr)
    after = float(np.mean((feedforward(model, sim.parameters, xte) - yte) ** 2))
    err = np.linalg.norm(demo.traces["ctrl.e"][:, 0], axis=-1)
    res = Result(demo.traces, err, before, after)
    seconds = time.perf_counter() - start
    print(f"{variant:12s} output error |r* - r_L|: {err[1]:.3g} at step 1 -> "
          f"{res.settled_error:.3g} (mean of the last quarter); test loss {before:.4g} -> "
          f"{after:.4g} after {n_train} online samples ({seconds:.0f} s)")  # fmt: skip
    return res


def plot(results: dict[str, Result], path: Path, target: str = "numpy") -> None:
    """One column per variant: the compartments of one unit, the output error, and a
    raster (spiking) or the output rates; time in model units (x 0.1 s in brian2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit_ms = float(TIME_UNIT / b2.ms)
    fig, axes = plt.subplots(
        3, len(results), figsize=(4.2 * len(results), 8.5), squeeze=False, sharex="col"
    )
    for col, (name, res) in enumerate(results.items()):
        tr = res.traces
        t = np.arange(tr["l2.v"].shape[0]) * DT
        labels = {"l2.v": "soma v", "l2.v_basal": "basal v_B", "l2.v_apical": "apical v_A"}
        for key, style in (("l2.v", "-"), ("l2.v_basal", "--"), ("l2.v_apical", ":")):
            axes[0, col].plot(t, tr[key][:, 0, 0], style, label=labels[key])
        axes[0, col].set_title(f"({'abc'[col]}) {name} soma", fontsize=10)
        axes[0, col].set_ylabel("l2 unit 0: voltage (dimensionless)", fontsize=8)
        axes[0, col].legend(fontsize=7)
        axes[1, col].semilogy(t[1:], res.error[1:], label="|r* - r_L|")
        axes[1, col].set_ylabel("output error |r* - r_L| (log)", fontsize=8)
        axes[1, col].set_title(
            f"test loss {res.loss_before:.3g} -> {res.loss_after:.3g} (online learning)",
            fontsize=9,
        )
        spikes = tr.get("l1.r.spikes")
        if spikes is not None:
            shown = min(len(t), 150)  # the first 3 time units, so single spikes show
            k, unit = np.nonzero(spikes[:shown, 0, :])
            axes[2, col].plot(t[k], unit, "|", ms=4, label="spike")
            axes[2, col].set_ylabel("l1 unit (spikes, first 3 time units)", fontsize=8)
        else:
            lines = axes[2, col].plot(t, tr["l3.r"][:, 0, :], lw=0.8, color="C0")
            lines[0].set_label(f"r_L ({len(lines)} units)")
            axes[2, col].legend(fontsize=7)
            axes[2, col].set_ylabel("output rate r_L (dimensionless)", fontsize=8)
        axes[2, col].set_xlabel(f"time (model time units; 1 unit = {unit_ms:g} ms in brian2)")
    fig.suptitle(
        f"DFC {'-'.join(map(str, SIZES))} hierarchy under PI control, brian2/{target}: "
        "rate, conductance and Poisson somata",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Result]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="300 steps, 20 samples (tests)")
    size.add_argument("--full", action="store_true", help="1000 steps, 100 samples (long)")
    parser.add_argument("--target", default="numpy", choices=("numpy", "cython", "cpp_standalone"))
    parser.add_argument("--out", type=Path, default=Path("runs/biophysical_variants"))
    parser.add_argument("--lr", type=float, default=2.0, help="online learning rate")
    args = parser.parse_args(argv)
    steps, n_train = SIZES_OF["quick" if args.quick else "full" if args.full else "default"]
    start = time.perf_counter()
    print(f"3 variants x ({steps} steps + {n_train} online samples x {steps} steps) on brian2/"
          f"{args.target}", flush=True)  # fmt: skip
    results = {v: run_variant(v, args.target, steps, n_train, args.lr) for v in VARIANTS}
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "biophysical_variants.png", args.target)
    print(f"figure: {args.out / 'biophysical_variants.png'} ({time.perf_counter() - start:.0f} s "
          "in all)")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
