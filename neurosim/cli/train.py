"""``neurosim train``: train a model of DFC Table 1 on one of its data sets.

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

#: the models of DFC Table 1 (the registry may hold more; ``--model`` accepts any)
MODEL_NAMES = (
    "dfc", "dfc-ss", "dfc-ssa", "dfc-fixed", "dfc-ss-fixed", "dfc-ssa-fixed", "bp", "fa", "dfa",
)  # fmt: skip


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``subparsers`` (sets ``func=run``)."""
    p = subparsers.add_parser(
        "train",
        help="train a model (DFC family, BP, FA, DFA) and write metrics, checkpoints, plots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``train`` options."""
    from neurosim.training.tasks import TASKS

    p.add_argument("--model", help=f"model name: {', '.join(MODEL_NAMES)}")
    p.add_argument("--dataset", choices=sorted(TASKS), help="task / data set")
    p.add_argument("--epochs", type=int, help="number of training epochs")
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.add_argument("--config", type=Path, help="run config YAML (default: the paper's)")
    p.add_argument("--seed", type=int, help="seed of weights, noise and data order")
    p.add_argument("--device", help="cpu | cuda | cuda:N")
    p.add_argument(
        "--threads",
        type=int,
        help="torch threads while training (default: torch's setting, one per core; the "
        "simulated DFC phases then run the batch as parallel shards). Use 1 on a machine "
        "shared with other jobs: with one of 2 cores busy, 2 threads were 1.3x slower than "
        "1 for the simulations, and intra-op parallel ops (up to 10x slower) wait for "
        "their slower thread",
    )
    p.add_argument("--dtype", choices=("float32", "float64"))
    p.add_argument("--batch-size", type=int)
    p.add_argument("--subset", type=int, help="train on the first K training samples")
    p.add_argument(
        "--diagnostics", action="store_true", default=None, help="record model diagnostics"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--data-dir", help="data cache directory (neurosim.data)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config key by its dotted name, e.g. params.lr=1e-4 or "
        "schedule.epochs_fb=5 (value read as YAML; repeatable; applied after the flags)",
    )
    p.add_argument(
        "--nproc",
        type=int,
        help="data-parallel training on N processes, each simulating 1/N of every "
        "minibatch (gloo on CPU, nccl on GPU); under torchrun the process count is its own",
    )


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

    progress = False if args.no_progress else None
    try:
        cfg = build_config(args)
        nproc = getattr(args, "nproc", None)
        if data_parallel_requested(nproc):
            result = train_data_parallel(
                cfg, args.out, nproc, resume=args.resume, progress=progress
            )
        else:
            result = train(cfg, args.out, resume=args.resume, progress=progress)
    except TrainingDivergedError as err:
        print(f"neurosim train: {err}", file=sys.stderr)
        return 1
    except (ConfigError, CheckpointError, DataError, FileExistsError, KeyError, ValueError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
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
    print(f"metrics: {result['metrics_path']}")
    print(f"summary: {Path(result['out_dir']) / 'summary.json'}")
    for p in result["plots"]:
        print(f"plot:    {p}")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m neurosim.cli.train``)."""
    parser = argparse.ArgumentParser(prog="neurosim train", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
