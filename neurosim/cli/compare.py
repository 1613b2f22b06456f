"""``neurosim compare``: several models x seeds on one data set, and the paper's table.

Runs every (model, seed) of the grid on Ray Tune (a local Ray by default, ``--address``
for a cluster), each an ordinary run directory ``OUT/runs/MODEL/seedS`` trained from
the model's published configuration with ``--epochs`` and ``--set`` applied. Writes
``OUT/table.md`` (printed) and ``OUT/table.csv``: test error (classification; test loss
for the regression sets, train loss for mnist-train) at the epoch of best validation,
mean ± std over seeds per model, as DFC Table 1; ``OUT/runs.csv`` (every run) and
``OUT/learning_curves.png`` (mean and ±1 std band per model). ``--resume`` continues an
interrupted comparison. Needs ``pip install 'neurosim[sweep]'``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand to ``subparsers`` (sets ``func=run``)."""
    from neurosim.training.overrides import add_set_option
    from neurosim.training.tasks import TASKS

    p = subparsers.add_parser(
        "compare",
        help="train models x seeds on Ray and tabulate mean ± std (DFC Table 1 style)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--models", nargs="+", required=True, help="registered model names")
    p.add_argument("--dataset", required=True, choices=sorted(TASKS), help="task / data set")
    p.add_argument("--seeds", type=int, default=5, help="seeds per model (default 5)")
    p.add_argument("--first-seed", type=int, default=42, help="seeds are FIRST, FIRST+1, ...")
    p.add_argument("--epochs", type=int, help="epochs of every run (default: each config's)")
    add_set_option(p, "every model's run")
    p.add_argument("--out", type=Path, help="output directory (default: runs/compare/DATASET)")
    p.add_argument("--resume", action="store_true", help="continue the comparison in --out")
    p.add_argument("--address", help="an existing Ray cluster (default: a local Ray)")
    p.add_argument("--cpus-per-run", type=int, default=1, help="CPU threads per run (default 1)")
    p.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs per run (default 0)")
    p.add_argument("--concurrency", type=int, help="runs at once (default: what fits)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``neurosim compare``; returns the exit status (0 ok, 2 bad input)."""
    from neurosim.cli.sweep import run_reporting_errors

    return run_reporting_errors("compare", lambda: _compare(args))


def _compare(args: argparse.Namespace) -> int:
    from neurosim.scale.ray_backend import require_ray
    from neurosim.training.overrides import parse_assignments

    require_ray("neurosim compare")
    from neurosim.scale.compare import make_plan, run_compare

    plan = make_plan(
        args.models,
        args.dataset,
        args.seeds,
        first_seed=args.first_seed,
        epochs=args.epochs,
        overrides=parse_assignments(args.overrides),
        cpus_per_run=args.cpus_per_run,
        gpus_per_run=args.gpus_per_run,
        concurrency=args.concurrency,
    )
    out = args.out if args.out is not None else Path("runs") / "compare" / args.dataset
    result = run_compare(
        plan, out, resume=args.resume, address=args.address, verbose=not args.quiet
    )
    for name, path in result.files.items():
        print(f"{name.replace('_', ' ')}: {path}")
    if not result.complete:
        print(f"neurosim compare: interrupted; continue with --resume --out {out}", file=sys.stderr)
        return 1
    return 0
