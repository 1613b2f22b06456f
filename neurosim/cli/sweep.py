"""``neurosim sweep SPEC.yaml``: a hyperparameter search on Ray Tune.

The spec names the base run, the search space over any config key, the objective,
the number of trials, the search algorithm (TPE from Optuna, or random), the trial
concurrency, early stopping (ASHA or median) and the resources per trial (see
``examples/sweeps/`` and neurosim.scale.sweep_spec). Every trial is an ordinary run
directory under ``OUT/runs/`` (``neurosim train --resume --out OUT/runs/ID`` continues
it). At the end: ``OUT/summary.md`` (also printed), ``OUT/trials.csv``,
``OUT/best_config.yaml`` and the plots ``objective_vs_trial.png`` and
``params_vs_objective.png``.

Local by default (a Ray on this machine's CPUs, CPU-only); ``--address`` runs the same
spec on an existing Ray cluster. ``--resume`` continues an interrupted sweep without
redoing finished trials. Needs ``pip install 'neurosim[sweep]'``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``subparsers`` (sets ``func=run``)."""
    p = subparsers.add_parser(
        "sweep",
        help="hyperparameter search on Ray Tune (TPE or random, ASHA/median stopping)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", type=Path, help="sweep spec YAML (see examples/sweeps/)")
    p.add_argument("--out", type=Path, help="output directory (default: runs/sweeps/NAME)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    p.add_argument(
        "--address",
        help="an existing Ray cluster ('auto', 'HOST:PORT' or 'ray://HOST:10001'); "
        "default: start Ray on this machine",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``neurosim sweep``; returns the exit status (0 ok, 1 no trial got a value,
    2 bad input)."""
    return run_reporting_errors("sweep", lambda: _sweep(args))


def _sweep(args: argparse.Namespace) -> int:
    from neurosim.scale.ray_backend import require_ray

    require_ray()
    from neurosim.scale.sweep import run_sweep
    from neurosim.scale.sweep_spec import load_spec

    spec = load_spec(args.spec)
    out = args.out if args.out is not None else Path("runs") / "sweeps" / spec.name
    result = run_sweep(spec, out, resume=args.resume, address=args.address, verbose=not args.quiet)
    for name in ("summary", "csv", "best_config", "objective_plot", "params_plot"):
        if name in result.files:
            print(f"{name.replace('_', ' ')}: {result.files[name]}")
    if not result.complete:
        print(f"neurosim sweep: interrupted; continue with --resume --out {out}", file=sys.stderr)
        return 1
    return 0 if result.best is not None else 1


def run_reporting_errors(command: str, body: Callable[[], int]) -> int:
    """Run ``body``; bad input (a config or spec error, a missing extra, an output
    directory in use, a data error) becomes a message on stderr and exit status 2, a
    run that Ray stopped midway a message saying how to resume and exit status 1."""
    from neurosim.data import DataError
    from neurosim.scale.ray_backend import MissingExtraError
    from neurosim.scale.tune_runs import RunStoppedError
    from neurosim.training.config import ConfigError

    try:
        return body()
    except RunStoppedError as err:
        print(f"neurosim {command}: {err}", file=sys.stderr)
        return 1
    except MissingExtraError as err:
        print(f"neurosim {command}: {err}", file=sys.stderr)
    except (ConfigError, DataError, FileExistsError) as err:
        print(f"neurosim {command}: error: {err}", file=sys.stderr)
    return 2
