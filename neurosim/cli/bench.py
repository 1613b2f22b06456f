"""``neurosim bench``: run the scripts in ``benchmarks/`` with this interpreter.

Each script ``benchmarks/<which>.py`` must accept ``--quick`` (a short run) and
``--json PATH`` (write its results there). With several scripts and ``--json
out.json`` (``all``), script ``<which>`` writes ``out_<which>.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("simulate", "train_epoch", "backends", "precision", "step_profile", "threads")


def default_bench_dir() -> Path:
    """``benchmarks/`` of the source tree (next to the ``neurosim`` package), else ./benchmarks."""
    import neurosim

    beside = Path(neurosim.__file__).resolve().parents[1] / "benchmarks"
    return beside if beside.is_dir() else Path.cwd() / "benchmarks"


def available(bench_dir: Path) -> list[str]:
    """Names of the known benchmarks whose script exists in ``bench_dir``."""
    return [name for name in BENCHMARKS if (bench_dir / f"{name}.py").is_file()]


def register(subparsers) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark scripts",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("which", nargs="?", default="all", choices=("all", *BENCHMARKS),
                        help="benchmark to run")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="short runs (passed to the script)")
    parser.add_argument("--json", default=None, metavar="PATH", help="write results as JSON")
    parser.add_argument(
        "--bench-dir",
        type=Path,
        default=None,
        help="benchmarks directory; None: benchmarks/ of the source tree",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.set_defaults(func=run)


def command(script: Path, quick: bool, json_path: str | None) -> list[str]:
    """The subprocess command line for one benchmark script."""
    cmd = [sys.executable, str(script)]
    if quick:
        cmd.append("--quick")
    if json_path is not None:
        cmd += ["--json", json_path]
    return cmd


def run(args: argparse.Namespace) -> int:
    bench_dir = args.bench_dir or default_bench_dir()
    present = available(bench_dir)
    if args.list:
        for name in BENCHMARKS:
            state = "present" if name in present else "missing"
            print(f"{name:12s} {state:8s} {bench_dir / f'{name}.py'}")
        return 0
    chosen = present if args.which == "all" else [args.which]
    if not chosen or (args.which != "all" and args.which not in present):
        print(
            f"neurosim bench: no script for {args.which!r} in {bench_dir} "
            f"(present: {', '.join(present) or 'none'}); pass --bench-dir.",
            file=sys.stderr,
        )
        return 2
    missing = [name for name in BENCHMARKS if name not in present]
    print(f"benchmarks in {bench_dir}: present {', '.join(present) or 'none'}; "
          f"missing {', '.join(missing) or 'none'}", flush=True)  # fmt: skip
    worst = 0
    for name in chosen:
        json_path = args.json
        if json_path is not None and args.which == "all":
            path = Path(json_path)
            json_path = str(path.with_name(f"{path.stem}_{name}{path.suffix or '.json'}"))
        cmd = command(bench_dir / f"{name}.py", args.quick, json_path)
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        code = subprocess.run(cmd, check=False).returncode
        if code != 0:
            print(f"== {name}: exit code {code}", file=sys.stderr)
            worst = max(worst, code)
    return worst
