"""``neurosim simulate CIRCUIT.yaml``: run a circuit file on the torch or brian2 backend.

Writes ``DIR/traces.npz`` (one array ``(T, batch, n)`` per probed variable, the same
keys for both backends) and ``DIR/traces.png`` (one panel per population).
Inputs come from the circuit file's options (``inputs: {var: values}``) or are drawn
from the seed (standard normal; labels one-hot), identically for both backends.
Options not given on the command line come from the file's ``simulation:`` section
(``backend``, ``target``, ``steps``, ``dt``, ``seed``, ``batch``, ``dtype``), else the
defaults shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from neurosim.ir import Model

BACKENDS = ("torch", "brian2")
TARGETS = ("numpy", "cython", "cpp_standalone")
DTYPES = ("float64", "float32")
#: defaults of the options a circuit file's ``simulation:`` section may set
DEFAULTS = {"backend": "torch", "target": "numpy", "steps": 1000, "seed": 0, "batch": 1,
            "dtype": "float64"}  # fmt: skip


def register(subparsers) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a circuit file and write its traces",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=__doc__.split("\n\n", 1)[1],
    )
    file_or = "None: the circuit file's simulation.{0}, else {1}"
    parser.add_argument("circuit", type=Path, help="circuit YAML file")
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help=file_or.format("backend", "torch"))  # fmt: skip
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default=None,
        help="brian2 code-generation target; " + file_or.format("target", "numpy"),
    )
    parser.add_argument("--steps", type=int, default=None,
                        help="Euler steps; " + file_or.format("steps", 1000))  # fmt: skip
    parser.add_argument("--dt", type=float, default=None, help="override the circuit's dt")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the generated inputs; " + file_or.format("seed", 0),
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="samples simulated side by side; " + file_or.format("batch", 1),
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default=None,
        help="torch precision (brian2: float64); " + file_or.format("dtype", "float64"),
    )
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


def default_inputs(
    model: Model, seed: int = 0, given: dict | None = None, batch: int = 1
) -> dict[str, np.ndarray]:
    """``(batch, n)`` inputs: ``given`` values (one sample, repeated over the batch), else
    N(0, 1) (labels ``*.label``: one-hot)."""
    rng = np.random.default_rng(seed)
    names = [v.name for v in model.of_kind("input")]
    unknown = sorted(set(given or {}) - set(names))
    if unknown:
        raise ValueError(
            f"simulation.inputs: {unknown} are not inputs of the model; inputs: {names}"
        )
    out = {}
    for var in model.of_kind("input"):
        if given and var.name in given:
            x = np.asarray(given[var.name], dtype=float).reshape(1, var.size)
            out[var.name] = np.repeat(x, batch, axis=0)
        elif var.name.endswith(".label"):
            out[var.name] = np.eye(var.size)[rng.integers(var.size, size=batch)]
        elif var.value is not None:
            x = np.asarray(var.value, dtype=float).reshape(1, var.size)
            out[var.name] = np.repeat(x, batch, axis=0)
        else:
            out[var.name] = rng.normal(size=(batch, var.size))
    return out


def run_backend(
    model: Model,
    backend: str,
    inputs: dict[str, np.ndarray],
    steps: int,
    target: str = "numpy",
    record: list[str] | None = None,
    dtype: str = "float64",
) -> dict[str, np.ndarray]:
    """Simulate ``steps`` steps (no plasticity) of a batch of inputs ``(batch, n)``;
    traces as numpy. brian2 computes in float64 only."""
    record = record if record is not None else [p.var for p in model.probes]
    if dtype not in DTYPES:
        raise ValueError(f"neurosim simulate: dtype={dtype!r}; use one of {DTYPES}")
    batch = next(iter(inputs.values())).shape[0] if inputs else 1
    if backend == "brian2":
        from neurosim.backends.brian2 import Brian2Simulator

        if dtype != "float64":
            raise ValueError(
                f"neurosim simulate: the brian2 backend computes in float64, not {dtype}; "
                "use --dtype float64 (or simulation.dtype: float64), or --backend torch"
            )
        sim = Brian2Simulator(model, target, batch_size=batch)
        sim.reset(inputs)
        res = sim.run(steps, record=record, plasticity="off")
        return {k: np.asarray(v) for k, v in res.traces.items()}
    if backend == "torch":
        import torch

        from neurosim.backends.torch import TorchSimulator

        tdtype = getattr(torch, dtype)
        tsim = TorchSimulator(model, dtype=tdtype)
        tsim.reset({k: torch.as_tensor(v, dtype=tdtype) for k, v in inputs.items()})
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


def settings(args: argparse.Namespace, options: dict) -> dict:
    """Command line over the circuit file's ``simulation:`` options over the defaults."""
    out = {}
    for key, default in DEFAULTS.items():
        value = getattr(args, key)
        out[key] = value if value is not None else options.get(key, default)
    choices = {"backend": BACKENDS, "target": TARGETS, "dtype": DTYPES}
    for key, allowed in choices.items():
        if out[key] not in allowed:
            raise ValueError(
                f"{args.circuit}: simulation.{key}={out[key]!r} is not allowed; use one of "
                f"{allowed}"
            )
    for key in ("steps", "batch"):
        if out[key] < 1:
            raise ValueError(f"neurosim simulate: {key}={out[key]}; give an int >= 1")
    return out


def run(args: argparse.Namespace) -> int:
    from neurosim.circuit_yaml import CircuitFileError

    try:
        model, options = load_model(args.circuit, args.dt)
        cfg = settings(args, options)
        inputs = default_inputs(model, cfg["seed"], options.get("inputs"), cfg["batch"])
        traces = run_backend(model, cfg["backend"], inputs, cfg["steps"], cfg["target"],
                             dtype=cfg["dtype"])  # fmt: skip
    except (CircuitFileError, FileNotFoundError, ValueError) as err:
        message = str(err).removeprefix("neurosim simulate: ")
        print(f"neurosim simulate: error: {message}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "traces.npz", **traces)
    if not args.no_plot:
        plot_traces(traces, model.dt, args.out / "traces.png")
    where = cfg["backend"] + (f"/{cfg['target']}" if cfg["backend"] == "brian2" else "")
    print(f"neurosim simulate: {len(traces)} traces x {cfg['steps'] + 1} steps, batch "
          f"{cfg['batch']} ({where}, {cfg['dtype']}) -> {args.out}")  # fmt: skip
    return 0
