"""``neurosim simulate CIRCUIT.yaml``: run a circuit file on the torch or brian2 backend.

Writes ``DIR/traces.npz`` (one array ``(T, batch, n)`` per probed variable, the same
keys for both backends) and ``DIR/traces.png`` (one panel per population).
Inputs come from the circuit file's options (``inputs: {var: values}``) or are drawn
from ``--seed`` (standard normal; labels one-hot), identically for both backends.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from neurosim.ir import Model

BACKENDS = ("torch", "brian2")


def register(subparsers) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a circuit file and write its traces",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("circuit", type=Path, help="circuit YAML file")
    parser.add_argument("--backend", choices=BACKENDS, default="torch")
    parser.add_argument("--target", choices=("numpy", "cython", "cpp_standalone"),
                        default="numpy", help="brian2 code-generation target")  # fmt: skip
    parser.add_argument("--steps", type=int, default=None,
                        help="Euler steps; None: the circuit's 'steps', else 1000")  # fmt: skip
    parser.add_argument("--dt", type=float, default=None, help="override the circuit's dt")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated inputs")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip traces.png")
    parser.set_defaults(func=run)


def load_model(path: Path, dt: float | None = None) -> tuple[Model, dict]:
    """Circuit YAML -> IR model (``neurosim.load_circuit`` + ``neurosim.build``)."""
    import neurosim

    load = getattr(neurosim, "load_circuit", None)
    build = getattr(neurosim, "build", None)
    if load is None or build is None:
        raise RuntimeError(
            "neurosim simulate: this checkout has no neurosim.load_circuit/neurosim.build "
            "(frontend not installed); build the IR Model in Python instead"
        )
    network, options = load(path)
    options = dict(options or {})
    dt = dt if dt is not None else options.get("dt")
    model = build(network, dt=dt) if dt is not None else build(network)
    return model, options


def default_inputs(model: Model, seed: int = 0, given: dict | None = None) -> dict[str, np.ndarray]:
    """``(1, n)`` inputs: ``given`` values, else N(0, 1) (labels ``*.label``: one-hot)."""
    rng = np.random.default_rng(seed)
    out = {}
    for var in model.of_kind("input"):
        if given and var.name in given:
            out[var.name] = np.asarray(given[var.name], dtype=float).reshape(1, var.size)
        elif var.name.endswith(".label"):
            out[var.name] = np.eye(var.size)[[rng.integers(var.size)]]
        elif var.value is not None:
            out[var.name] = np.asarray(var.value, dtype=float).reshape(1, var.size)
        else:
            out[var.name] = rng.normal(size=(1, var.size))
    return out


def run_backend(
    model: Model,
    backend: str,
    inputs: dict[str, np.ndarray],
    steps: int,
    target: str = "numpy",
    record: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Simulate ``steps`` steps at batch 1 in float64 (no plasticity); traces as numpy."""
    record = record if record is not None else [p.var for p in model.probes]
    if backend == "brian2":
        from neurosim.backends.brian2 import Brian2Simulator

        sim = Brian2Simulator(model, target)
        sim.reset(inputs)
        res = sim.run(steps, record=record, plasticity="off")
        return {k: np.asarray(v) for k, v in res.traces.items()}
    if backend == "torch":
        import torch

        from neurosim.backends.torch import TorchSimulator

        tsim = TorchSimulator(model, dtype=torch.float64)
        tsim.reset({k: torch.as_tensor(v, dtype=torch.float64) for k, v in inputs.items()})
        res = tsim.run(steps, record=record, plasticity="off")
        return {k: v.cpu().numpy() for k, v in res.traces.items()}
    raise ValueError(f"neurosim simulate: backend={backend!r}; use one of {BACKENDS}")


def plot_traces(traces: dict[str, np.ndarray], dt: float, path: Path) -> None:
    """One panel per population, every recorded variable of it (sample 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pops = sorted({k.split(".")[0] for k in traces})
    fig, axes = plt.subplots(len(pops), 1, figsize=(8, 2.2 * len(pops)), squeeze=False)
    for ax, pop in zip(axes[:, 0], pops, strict=True):
        for k, v in traces.items():
            if k.split(".")[0] == pop:
                t = np.arange(v.shape[0]) * dt
                lines = ax.plot(t, v[:, 0, :], lw=0.8)
                lines[0].set_label(k)
        ax.legend(loc="upper right", fontsize=7)
        ax.set_ylabel(pop)
    axes[-1, 0].set_xlabel("time (model units)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    model, options = load_model(args.circuit, args.dt)
    steps = args.steps if args.steps is not None else int(options.get("steps", 1000))
    inputs = default_inputs(model, args.seed, options.get("inputs"))
    traces = run_backend(model, args.backend, inputs, steps, args.target)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "traces.npz", **traces)
    if not args.no_plot:
        plot_traces(traces, model.dt, args.out / "traces.png")
    where = f"{args.backend}" + (f"/{args.target}" if args.backend == "brian2" else "")
    print(f"neurosim simulate: {len(traces)} traces x {steps + 1} steps ({where}) -> {args.out}")
    return 0
