"""``neurosim bench``: list or run the scripts in ``benchmarks/`` with this interpreter.

``neurosim bench`` (or ``--list``) lists the benchmarks with their run times;
``neurosim bench NAME [--quick] [--json PATH] [SCRIPT OPTIONS]`` runs one, passing
options it does not know itself (``--threads 1``, ``--models bp dfa``, ...) on to the
script (``python benchmarks/NAME.py --help`` lists them); ``neurosim bench all`` runs
every script, and with ``--json out.json`` script ``NAME`` writes ``out_NAME.json``.

A benchmark is a script ``benchmarks/NAME.py`` with a ``__main__`` block that accepts
``--quick`` and ``--json PATH``; its docstring's first line is its summary and its
``Run time:`` (or ``Run time (how it was measured):``) paragraph the measured run time
that the listing shows. While a script
runs, its output is passed through, and after each :data:`HEARTBEAT_SECONDS` of
silence a line says how long it has been running; at the end, how long it took.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: seconds of silence from a script after which a "still running" line is printed
HEARTBEAT_SECONDS = 30.0
#: files of ``benchmarks/`` that are helpers, not benchmarks (``gpu_check``: the
#: unattended CUDA check, ``benchmarks/gpu_check.sh``; ``float64_change``: a
#: comparison of two code versions, run by hand)
HELPERS = ("common", "gpu_check", "float64_change")
#: a docstring paragraph ``Run time: ...`` or ``Run time (how measured): ...``
_RUN_TIME = re.compile(r"^Run time(?: \([^)]*\))?:\s*(.*)$")


@dataclass(frozen=True)
class Benchmark:
    """One script of ``benchmarks/``: its name, path, summary and stated run time."""

    name: str
    path: Path
    summary: str
    run_time: str


def default_bench_dir() -> Path:
    """``benchmarks/`` of the source tree (next to the ``neurosim`` package), else ./benchmarks."""
    import neurosim

    beside = Path(neurosim.__file__).resolve().parents[1] / "benchmarks"
    return beside if beside.is_dir() else Path.cwd() / "benchmarks"


def describe(path: Path) -> Benchmark | None:
    """The :class:`Benchmark` of a script, read without importing it; ``None`` for a
    helper module (no ``__main__`` block) or a file that does not parse."""
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    if path.stem in HELPERS or path.stem.startswith("_") or "__main__" not in ast.unparse(tree):
        return None
    doc = ast.get_docstring(tree) or ""
    summary = doc.strip().split("\n\n")[0].replace("\n", " ") or "(no docstring)"
    run_time = "not stated in the script's docstring"
    for paragraph in doc.split("\n\n"):
        found = _RUN_TIME.match(" ".join(paragraph.split()))
        if found:
            run_time = found.group(1)
    return Benchmark(path.stem, path, summary, run_time)


def available(bench_dir: Path) -> dict[str, Benchmark]:
    """The benchmarks of ``bench_dir`` by name, sorted."""
    found = (describe(p) for p in sorted(bench_dir.glob("*.py")))
    return {b.name: b for b in found if b is not None}


def register(subparsers) -> None:
    """Add the ``bench`` subcommand (unknown options are passed to the script)."""
    parser = subparsers.add_parser(
        "bench",
        help="list or run the benchmark scripts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("which", nargs="?", default=None, metavar="NAME",
                        help="benchmark to run, or 'all' (default: list them)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="short run (passed to the script; default: off)")  # fmt: skip
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="write results as JSON (default: none)")  # fmt: skip
    parser.add_argument(
        "--bench-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="benchmarks directory (default: benchmarks/ of the source tree)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.set_defaults(func=run, passes_unknown_options=True, script_args=[])


def command(script: Path, quick: bool, json_path: str | None, extra: list[str]) -> list[str]:
    """The subprocess command line for one benchmark script."""
    cmd = [sys.executable, str(script)]
    if quick:
        cmd.append("--quick")
    if json_path is not None:
        cmd += ["--json", json_path]
    return cmd + list(extra)


def listing(benchmarks: dict[str, Benchmark], bench_dir: Path) -> str:
    """The benchmarks with their summaries and run times."""
    if not benchmarks:
        return f"no benchmark scripts in {bench_dir}"
    lines = [
        f"benchmarks in {bench_dir} (run one: neurosim bench NAME [--quick]); run times as "
        "measured in each script's header (one thread, shared 2-core CPU, load average given):"
    ]
    for b in benchmarks.values():
        lines += [f"  {b.name}", f"      {b.summary}", f"      run time: {b.run_time}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    bench_dir = args.bench_dir or default_bench_dir()
    benchmarks = available(bench_dir)
    if args.list or args.which is None:
        print(listing(benchmarks, bench_dir))
        return 0
    extra = list(args.script_args)
    if args.which == "all":
        if extra:
            return _error(f"options for a script go after its name, not with 'all': {extra}")
        chosen = list(benchmarks.values())
    elif args.which in benchmarks:
        chosen = [benchmarks[args.which]]
    else:
        return _error(
            f"no benchmark {args.which!r} in {bench_dir} (there are: "
            f"{', '.join(benchmarks) or 'none'}; pass --bench-dir, and options for a script "
            "after its name)"
        )
    worst = 0
    for b in chosen:
        json_path = args.json
        if json_path is not None and args.which == "all":
            path = Path(json_path)
            json_path = str(path.with_name(f"{path.stem}_{b.name}{path.suffix or '.json'}"))
        code = run_script(b, command(b.path, args.quick, json_path, extra))
        worst = max(worst, code)
    return worst


def run_script(b: Benchmark, cmd: list[str]) -> int:
    """Run one script, passing its output through, with heartbeat and elapsed time."""
    print(f"== {b.name}: {' '.join(cmd)}\n== run time: {b.run_time}", flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
    last = [time.perf_counter()]

    def forward() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            sys.stdout.write(line)
            sys.stdout.flush()
            last[0] = time.perf_counter()

    reader = threading.Thread(target=forward, daemon=True)
    reader.start()
    try:
        while True:
            try:
                code = proc.wait(timeout=min(HEARTBEAT_SECONDS, 5.0))
                break
            except subprocess.TimeoutExpired:
                now = time.perf_counter()
                if now - last[0] >= HEARTBEAT_SECONDS:
                    print(f"== {b.name}: still running, {_elapsed(now - t0)} elapsed", flush=True)
                    last[0] = now
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    reader.join()
    status = "done" if code == 0 else f"exit code {code}"
    print(f"== {b.name}: {status} after {_elapsed(time.perf_counter() - t0)}", flush=True)
    if code != 0:
        print(f"neurosim bench: {b.name} failed with exit code {code}", file=sys.stderr)
    return code


def _elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _error(message: str) -> int:
    print(f"neurosim bench: error: {message}", file=sys.stderr)
    return 2
