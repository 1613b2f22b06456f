"""``neurosim simulate CIRCUIT.yaml``: run a circuit file on the torch or brian2 backend.

Writes ``DIR/traces.npz`` (one array ``(T, batch, n)`` per recorded variable, the same
keys for both backends, plus ``t``, the time of each row in model time units, and
``dt``) and ``DIR/traces.png`` (one panel per population). What is recorded: the
file's probes plus ``--record VAR ...``; nothing to record is refused before
simulating. Inputs come from the circuit file's options (``inputs: {var: values}``)
or are drawn from the seed (standard normal; labels one-hot), identically for both
backends. Options not given on the command line come from the file's ``simulation:``
section (``backend``, ``target``, ``steps``, ``dt``, ``seed``, ``batch``, ``dtype``),
else the defaults shown. Progress: a bar on a terminal, a line every 10 s otherwise;
a state that becomes NaN/inf stops the run with the step, the variable and the
likely cause (exit code 1, no traces written).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from neurosim.core.errors import (
    SimulationDivergedError,
    TimeStepWarning,
    ValidationError,
    check_names,
)
from neurosim.ir import Model

BACKENDS = ("torch", "brian2")
TARGETS = ("numpy", "cython", "cpp_standalone")
DTYPES = ("float64", "float32")
#: defaults of the options a circuit file's ``simulation:`` section may set
DEFAULTS = {"backend": "torch", "target": "numpy", "steps": 1000, "seed": 0, "batch": 1,
            "dtype": "float64"}  # fmt: skip
PROGRESS = ("auto", "bar", "text", "off")


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` except where the help text already says it (None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)


def _from_file(key: str) -> str:
    return f"(default: the circuit file's simulation.{key}, else {DEFAULTS[key]})"


def register(subparsers) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a circuit file and write its traces",
        formatter_class=_DefaultsFormatter,
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("circuit", type=Path, help="circuit YAML file")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help=_from_file("backend"))
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default=None,
        help="brian2 code-generation target " + _from_file("target"),
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="Euler steps " + _from_file("steps")
    )
    parser.add_argument(
        "--dt", type=float, default=None, help="Euler step (default: the circuit file's dt)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the generated inputs " + _from_file("seed")
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="samples simulated side by side " + _from_file("batch"),
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default=None,
        help="torch precision; brian2 computes in float64 " + _from_file("dtype"),
    )
    parser.add_argument(
        "--record",
        nargs="+",
        default=None,
        metavar="VAR",
        help="variables to record besides the file's probes, e.g. l1.v ctrl.e "
        "(default: the file's probes only)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip traces.png")
    parser.add_argument(
        "--progress",
        choices=PROGRESS,
        default="auto",
        help="progress report: auto = a bar on a terminal, a line every 10 s otherwise",
    )
    parser.set_defaults(func=run)


def load_model(path: Path, dt: float | None = None) -> tuple[Model, dict]:
    """Circuit YAML -> IR model (``neurosim.load_circuit`` + ``neurosim.build``)."""
    import neurosim

    network, options = neurosim.load_circuit(path)
    options = dict(options or {})
    dt = dt if dt is not None else options.get("dt")
    model = neurosim.build(network, dt=dt) if dt is not None else neurosim.build(network)
    return model, options


def default_inputs(
    model: Model, seed: int = 0, given: dict | None = None, batch: int = 1
) -> dict[str, np.ndarray]:
    """``(batch, n)`` inputs: ``given`` values (one sample, repeated over the batch), else
    N(0, 1) (labels ``*.label``: one-hot)."""
    rng = np.random.default_rng(seed)
    names = [v.name for v in model.of_kind("input")]
    check_names("simulation", "inputs", list(given or {}), names, "an input of the model")
    out = {}
    for var in model.of_kind("input"):
        if given and var.name in given:
            x = np.asarray(given[var.name], dtype=float).ravel()
            if x.size != var.size:
                raise ValidationError(
                    "simulation",
                    f"inputs['{var.name}']",
                    given[var.name],
                    f"has {x.size} values",
                    f"give {var.size} (one per unit of '{var.name}')",
                )
            out[var.name] = np.repeat(x.reshape(1, var.size), batch, axis=0)
        elif var.name.endswith(".label"):
            out[var.name] = np.eye(var.size)[rng.integers(var.size, size=batch)]
        elif var.value is not None:
            x = np.asarray(var.value, dtype=float).reshape(1, var.size)
            out[var.name] = np.repeat(x, batch, axis=0)
        else:
            out[var.name] = rng.normal(size=(batch, var.size))
    return out


def recorded(model: Model, extra: list[str] | None = None) -> list[str]:
    """The file's probes plus ``extra`` (checked); refuses an empty recording."""
    known = [v.name for v in model.variables.values() if v.kind != "parameter"]
    what = f"a per-sample variable of '{model.meta.get('name', 'model')}'"
    extra = check_names("neurosim simulate", "--record", list(extra or []), known, what)
    names = list(dict.fromkeys([p.var for p in model.probes] + extra))
    if not names:
        raise ValidationError(
            "neurosim simulate",
            "record",
            [],
            "is empty: the circuit file has no probes and no --record was given, so "
            "nothing would be recorded",
            f"pass --record VAR ... (e.g. {' '.join(_examples(known))}) or add "
            "'probes: [...]' to the circuit file",
        )
    return names


def _examples(known: list[str]) -> list[str]:
    picks = [k for k in known if k.endswith((".v", ".e", ".u"))] or known
    return picks[:3]


def run_backend(
    model: Model,
    backend: str,
    inputs: dict[str, np.ndarray],
    steps: int,
    target: str = "numpy",
    record: list[str] | None = None,
    dtype: str = "float64",
    progress: bool | str | None = False,
) -> dict[str, np.ndarray]:
    """Simulate ``steps`` steps (no plasticity) of a batch of inputs ``(batch, n)``;
    traces as numpy: the model's probes (each every ``Probe.every`` steps) and
    ``record`` (every step). brian2 computes in float64 only. ``progress``: as
    :mod:`neurosim.backends.progress`."""
    record = list(record or [])
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
        sim = Brian2Simulator(model, target, batch_size=batch, progress=progress)
        sim.reset(inputs)
        res = sim.run(steps, record=record, plasticity="off")
        return {k: np.asarray(v) for k, v in res.traces.items()}
    if backend == "torch":
        import torch

        from neurosim.backends.torch import TorchSimulator

        tdtype = getattr(torch, dtype)
        tsim = TorchSimulator(model, dtype=tdtype, progress=progress)
        tsim.reset({k: torch.as_tensor(v, dtype=tdtype) for k, v in inputs.items()})
        res = tsim.run(steps, record=record, plasticity="off")
        return {k: v.cpu().numpy() for k, v in res.traces.items()}
    raise ValueError(f"neurosim simulate: backend={backend!r}; use one of {BACKENDS}")


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


def _progress(choice: str) -> bool | str | None:
    """``--progress`` as the simulators' setting."""
    if choice == "auto":
        return True if sys.stderr.isatty() else "text"
    return {"bar": True, "text": "text", "off": False}[choice]


def run(args: argparse.Namespace) -> int:
    from neurosim.circuit_yaml import CircuitFileError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TimeStepWarning)
            model, options = load_model(args.circuit, args.dt)
        for w in caught:  # a message for the user, not a Python source line
            print(f"neurosim simulate: warning: {w.message}", file=sys.stderr)
        cfg = settings(args, options)
        record = recorded(model, args.record)
        where = cfg["backend"] + (f"/{cfg['target']}" if cfg["backend"] == "brian2" else "")
        name = model.meta.get("name", "model")
        print(f"neurosim simulate: '{name}', {cfg['steps']} steps of dt={model.dt:g}, batch "
              f"{cfg['batch']} on {where} ({cfg['dtype']}), recording {len(record)} "
              "variables", flush=True)  # fmt: skip
        start = time.perf_counter()
        inputs = default_inputs(model, cfg["seed"], options.get("inputs"), cfg["batch"])
        probed = {p.var for p in model.probes}
        extra = [v for v in record if v not in probed]
        traces = run_backend(model, cfg["backend"], inputs, cfg["steps"], cfg["target"], extra,
                             cfg["dtype"], _progress(args.progress))  # fmt: skip
        seconds = time.perf_counter() - start
    except (CircuitFileError, FileNotFoundError, ValueError, SimulationDivergedError) as err:
        message = str(err).removeprefix("neurosim simulate: ")
        print(f"neurosim simulate: error: {message}", file=sys.stderr)
        return 1
    except MemoryError as err:
        print(f"neurosim simulate: error: out of memory ({err}); lower --batch or --steps, "
              "or record fewer variables", file=sys.stderr)  # fmt: skip
        return 1
    from neurosim.traces import plot_traces, save_traces

    every = {p.var: p.every for p in model.probes}
    args.out.mkdir(parents=True, exist_ok=True)
    save_traces(args.out / "traces.npz", traces, model.dt, every)
    if not args.no_plot:
        title = f"{name}: {where}, {cfg['dtype']}, dt={model.dt:g} (sample 0 of {cfg['batch']})"
        plot_traces(traces, model.dt, args.out / "traces.png", title, every)
    print(f"neurosim simulate: {len(traces)} traces x {cfg['steps'] + 1} steps, batch "
          f"{cfg['batch']} ({where}, {cfg['dtype']}) in {seconds:.1f} s -> {args.out}")  # fmt: skip
    return 0
