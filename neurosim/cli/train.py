"""``neurosim train``: train a registered model on one of the tasks.

The configuration is the paper's for ``--model X --dataset Y``
(``models/configs/Y/X.yaml``), or ``--config FILE``; any flag given overrides it, and
``--set KEY=VALUE`` (repeatable) sets any config key by its dotted name
(``--set params.lr=1e-4 --set schedule.epochs_fb=5``), typed as in the YAML file.
``--resume`` continues the run in ``--out`` (whose ``config.yaml`` is used when
neither ``--config`` nor ``--model`` is given). ``--nproc N`` trains data-parallel on
N processes (torch.distributed; the same command also runs under ``torchrun``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: the models of DFC Table 1 and the learned-feedback rules (the registry may hold
#: more; ``--model`` accepts any)
MODEL_NAMES = (
    "dfc", "dfc-ss", "dfc-ssa", "dfc-fixed", "dfc-ss-fixed", "dfc-ssa-fixed", "bp", "fa", "dfa",
    "wm", "ia", "sa", "aa", "kp", "sign-sym",
)  # fmt: skip


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``subparsers`` (sets ``func=run``)."""
    p = subparsers.add_parser(
        "train",
        help="train a model (DFC family, BP, FA, DFA, learned feedback, recurrent rules) "
        "and write metrics, checkpoints, plots",
        description=__doc__,
        formatter_class=DefaultsHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``train`` options (their defaults are appended by :class:`DefaultsHelpFormatter`)."""
    from neurosim.training.tasks import TASKS

    p.add_argument(
        "--model",
        help="model name; shipped configs (models/configs/DATASET/MODEL.yaml): "
        + _shipped_models(),
    )
    p.add_argument("--dataset", choices=sorted(TASKS), help="task / data set")
    p.add_argument("--epochs", type=int, metavar="N", help="number of training epochs")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="run directory")
    p.add_argument("--config", type=Path, metavar="FILE", help="run config YAML")
    p.add_argument("--seed", type=int, metavar="N", help="seed of weights, noise and data order")
    p.add_argument("--device", metavar="DEV", help="cpu | cuda | cuda:N")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU cores while training: torch's threads and the shards the simulated DFC "
        "phases split the batch into (the config's null: one per core). neurosim makes "
        "OpenMP wait passively, so a machine shared with other jobs slows down gracefully "
        "(benchmarks/threads.py: with one of 2 cores busy the demo epoch took 1.5x its "
        "quiet time, where torch's spinning default took 10x)",
    )
    p.add_argument("--dtype", choices=("float32", "float64"), help="floating-point precision")
    p.add_argument("--batch-size", type=int, metavar="B", help="minibatch size")
    p.add_argument("--subset", type=int, metavar="K", help="train on the first K training samples")
    p.add_argument(
        "--diagnostics", action="store_true", default=None, help="record model diagnostics"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start again in an --out that holds a run: its files are moved into "
        "--out/replaced-<time>/ (nothing is deleted)",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data directory searched first, read-only to neurosim (neurosim.data)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on stderr (the per-epoch lines on stdout are always printed)",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard event files to OUT/tensorboard (needs the optional "
        'tensorboard package: pip install "neurosim[tensorboard]")',
    )
    from neurosim.training.overrides import add_set_option

    add_set_option(p)
    p.add_argument(
        "--nproc",
        type=int,
        help="data-parallel training on N processes, each simulating 1/N of every "
        "minibatch (gloo on CPU, nccl on GPU); under torchrun the process count is its own",
    )


def _shipped_models() -> str:
    """``"bp, fa (mnist, fashion-mnist); rflo (bouncing-ball)"``: every model with a
    shipped config, grouped by the data sets it has one for (read at --help time)."""
    from neurosim.models import registry
    from neurosim.training.config import CONFIG_ROOT

    models = set(registry.available())  # other files are variants, loaded with --config
    datasets: dict[str, list[str]] = {}
    for path in sorted(CONFIG_ROOT.glob("*/*.yaml")):
        if path.stem in models:
            datasets.setdefault(path.stem, []).append(path.parent.name)
    groups: dict[tuple[str, ...], list[str]] = {}
    for model, where in datasets.items():
        groups.setdefault(tuple(where), []).append(model)
    if not groups:
        return f"none found in {CONFIG_ROOT}"
    return "; ".join(f"{', '.join(m)} ({', '.join(d)})" for d, m in groups.items())


def _paper_values(key: str, show: Any = str) -> str:
    """What the shipped paper configs set ``key`` to: ``"42 in every paper config"`` or
    ``"100 in the paper configs; 300 for student-teacher, ..."`` (read at --help time)."""
    from neurosim.training.config import CONFIG_ROOT, safe_load
    from neurosim.training.tasks import TASKS

    per_dataset: dict[str, set[str]] = {}
    for dataset in sorted(TASKS):
        for path in sorted((CONFIG_ROOT / dataset).glob("*.yaml")):
            if path.stem not in MODEL_NAMES:
                continue  # variants such as dfc-ssa-demo.yaml
            try:
                data = safe_load(path.read_text()) or {}
            except Exception:  # noqa: BLE001 (--help must not fail on a broken file)
                continue
            per_dataset.setdefault(dataset, set()).add(show(data.get(key)))
    if not per_dataset:
        return f"no paper configs found in {CONFIG_ROOT}"
    counts: dict[str, int] = {}
    for values in per_dataset.values():
        for v in values:
            counts[v] = counts.get(v, 0) + 1
    common = max(counts, key=lambda v: counts[v])
    others = {d: sorted(v - {common}) for d, v in per_dataset.items() if v - {common}}
    if not others:
        return f"{common} in every paper config"
    rest = "; ".join(f"{'/'.join(v)} for {d}" for d, v in others.items())
    return f"{common} in the paper configs; {rest}"


def _from_config(key: str, show: Any = str) -> Any:
    """Default text of a flag that overrides config key ``key``."""
    return lambda: f"the config's {key}: {_paper_values(key, show)}"


#: the default of each ``train`` option as said in ``--help`` (callables: computed then)
DEFAULTS: dict[str, Any] = {
    "out": "none; required",
    "model": "none; required with --dataset unless --config, or --resume with OUT/config.yaml",
    "dataset": "none; required with --model unless --config or --resume",
    "config": "the paper's config models/configs/DATASET/MODEL.yaml",
    "epochs": _from_config("epochs"),
    "seed": _from_config("seed"),
    "device": _from_config("device"),
    "threads": _from_config("threads", lambda v: "null (torch's setting)" if v is None else v),
    "dtype": _from_config("dtype"),
    "batch_size": _from_config("batch_size"),
    "subset": _from_config("subset", lambda v: "null (all samples)" if v is None else v),
    "diagnostics": _from_config("diagnostics", lambda v: "on" if v else "off"),
    "resume": "off: start a new run (refused if OUT holds one)",
    "overwrite": "off: a directory holding a run is refused",
    "data_dir": lambda: f"the config's data_dir, else {_data_cache()}",
    "progress": "bars only when stderr is a terminal",
    "tensorboard": lambda: (
        "off (the tensorboard package is "
        + ("installed)" if _tensorboard_installed() else "not installed)")
    ),
    "overrides": "none",
    "nproc": "1 process (under torchrun: its WORLD_SIZE)",
}


def _data_cache() -> str:
    from neurosim.data.files import DATA_ENV, cache_root

    return f"${DATA_ENV} if set, else only the cache {cache_root()}"


def _tensorboard_installed() -> bool:
    from neurosim.training.writers import tensorboard_available

    return tensorboard_available()


class DefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends ``(default: ...)`` from :data:`DEFAULTS` to each option's help: the real
    effective default (the paper config's value), not argparse's ``None``."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = DEFAULTS.get(action.dest)
        if default is not None:
            value = default() if callable(default) else default
            text += f" (default: {value})".replace("%", "%%")
        return text


def build_config(args: argparse.Namespace) -> Any:
    """The :class:`RunConfig` described by ``args`` (flags override the file)."""
    from neurosim.training.config import ConfigError, default_config, load_config
    from neurosim.training.overrides import apply_overrides, parse_assignments

    saved = args.out / "config.yaml"
    if args.config is not None:
        cfg = load_config(args.config)
    elif args.model is None and args.dataset is None and args.resume and saved.is_file():
        cfg = load_config(saved)
    elif args.model is not None and args.dataset is not None:
        cfg = default_config(args.model, args.dataset)
    else:
        raise ConfigError(
            "give --model and --dataset (the paper's config), or --config FILE"
            + (", or --resume with a run directory holding config.yaml" if args.resume else "")
        )
    cfg = cfg.with_overrides(
        model=args.model,
        dataset=args.dataset,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        dtype=args.dtype,
        batch_size=args.batch_size,
        subset=args.subset,
        diagnostics=args.diagnostics,
        data_dir=args.data_dir,
    )
    return apply_overrides(cfg, parse_assignments(getattr(args, "overrides", None) or []))


def run(args: argparse.Namespace) -> int:
    """Run ``neurosim train``; returns the exit status (0 ok, 1 diverged, 2 bad input)."""
    from neurosim.data import DataError
    from neurosim.scale.launch import data_parallel_requested, train_data_parallel
    from neurosim.training import CheckpointError, ConfigError, TrainingDivergedError, train
    from neurosim.training.resources import TrainingMemoryError
    from neurosim.training.rundir import RunDirectoryError
    from neurosim.training.writers import TensorBoardUnavailableError

    try:
        cfg = build_config(args)
        nproc = getattr(args, "nproc", None)
        options = {"resume": args.resume, "progress": args.progress}
        options.update(tensorboard=args.tensorboard, overwrite=args.overwrite)
        if data_parallel_requested(nproc):
            result = train_data_parallel(cfg, args.out, nproc, **options)
        else:
            result = train(cfg, args.out, **options)
    except (TrainingDivergedError, TrainingMemoryError) as err:
        print(f"neurosim train: {err}", file=sys.stderr)
        return 1
    except (ConfigError, CheckpointError, DataError, RunDirectoryError, KeyError, ValueError,
            TensorBoardUnavailableError) as err:  # fmt: skip
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        if isinstance(err, RunDirectoryError):
            msg = err.for_cli()  # the flags, not the Python keywords
        print(f"neurosim train: error: {msg}", file=sys.stderr)
        return 2
    if result is not None:  # None: a data-parallel process other than rank 0
        _report(result, cfg)
    return 0


def _report(result: dict[str, Any], cfg: Any) -> None:
    best = result.get("best", {})
    line = f"{cfg.model} on {cfg.dataset}: {result.get('epochs_completed', 0)} epochs"
    if "best_epoch" in result:
        line += f", best epoch {result['best_epoch']} ({result['selection']})"
    if "test_error" in best:
        line += f": test accuracy {100 * (1 - best['test_error']):.2f}%"
    elif "test_loss" in best:
        line += f": test loss {best['test_loss']:.4g}"
    if "train_loss" in result.get("final", {}):
        line += f"; final train loss {result['final']['train_loss']:.4g}"
    print(line)
    print(f"metrics: {result['metrics_path']} (and {Path(result['metrics_csv']).name})")
    print(f"summary: {Path(result['out_dir']) / 'summary.json'}")
    for p in result["plots"]:
        print(f"plot:    {p}")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m neurosim.cli.train``)."""
    parser = argparse.ArgumentParser(
        prog="neurosim train", description=__doc__, formatter_class=DefaultsHelpFormatter
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
