"""Per-sample simulation time of the DFC forward phase on every backend and target.

For the 15-10-10-5 and the 784-256-256-256-10 DFC circuits (``neurosim.testing.dfc_model``,
MNIST config: dt 0.02, tau_v 0.2, k_p 2, instantaneous apical, float64), one sample
= 1000 Euler steps with the forward rule accumulated (``plasticity="accumulate"``):

* torch at batch 1 and 128 (per-sample time = run time / batch, after a warm-up);
* brian2 ``numpy``, ``cython`` and ``cpp_standalone`` at batch 1, a block of samples
  in one brian2 run. Compile time is reported separately: runtime targets, first run
  minus a second identical run (code generation, cython compilation); standalone,
  build+compile+run wall time minus the binary's own simulation time (both near 0
  when brian2's caches already hold the code; ``--cold`` points both caches at a fresh
  temporary directory, so the first run compiles from scratch: about a minute or more).

Each run time is measured ``--repeats`` times (default 3); ``run_seconds_per_sample``
is the minimum, ``run_seconds_per_sample_median`` the median (the machine may be
shared: its speed can drop for seconds at a time). Ratios use the minima.

Targets (issue 6): ``cpp_standalone`` faster than torch batch 1 on the small circuit
and within 2x of it on the MNIST-size one; the table ends with that verdict.

    python benchmarks/backends.py [--quick] [--repeats R] [--cold] [--json PATH]

writes ``{circuit: {backend_or_target: {"run_seconds_per_sample", "compile_seconds"}}}``.

Run time (one thread, on the shared 2-core CPU of development at the load average given;
longer on a busier machine): --quick (100 steps) 18 min at load 15-110 with empty
compile caches, of which about 13 min compiling (cython 4 min, cpp_standalone 4-5 min
per circuit: brian2's parallel make starts one compiler per code object); full (1000
steps) 6.7 min at load 17-33 with the cython cache warm (compiling 1 min).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# neurosim first: importing it sets OpenMP's passive wait policy before torch loads
# (neurosim/_threads.py), as the `neurosim` command does
import neurosim  # noqa: F401  isort: skip
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import progress  # noqa: E402
from neurosim.backends.brian2 import Brian2Simulator  # noqa: E402
from neurosim.backends.torch import TorchSimulator  # noqa: E402
from neurosim.testing import dfc_model  # noqa: E402

CIRCUITS = {"dfc_15_10_10_5": (15, 10, 10, 5), "dfc_784_256_256_256_10": (784, 256, 256, 256, 10)}
TARGETS = ("numpy", "cython", "cpp_standalone")


def _inputs(sizes: tuple[int, ...], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, sizes[0])), np.eye(sizes[-1])[rng.integers(sizes[-1], size=n)]


def _summary(times: list[float], per: int) -> dict:
    return {
        "run_seconds_per_sample": min(times) / per,
        "run_seconds_per_sample_median": statistics.median(times) / per,
        "repeats": len(times),
    }


def time_torch(sizes: tuple[int, ...], batch: int, steps: int, repeats: int) -> dict:
    """``repeats`` timed runs after a short warm-up."""
    model = dfc_model(sizes)
    x, y = _inputs(sizes, batch)
    sim = TorchSimulator(model, dtype=torch.float64, progress=False)
    feed = {"x.r": torch.tensor(x), "ctrl.label": torch.tensor(y)}
    sim.reset(feed)
    sim.run(min(steps, 20), plasticity="accumulate")
    times = []
    for _ in range(repeats):
        sim.reset(feed)
        t0 = time.perf_counter()
        sim.run(steps, plasticity="accumulate")
        times.append(time.perf_counter() - t0)
    return {**_summary(times, batch), "compile_seconds": 0.0}


def time_brian2(
    sizes: tuple[int, ...], target: str, steps: int, n_samples: int, repeats: int
) -> dict:
    model = dfc_model(sizes)
    x, y = _inputs(sizes, n_samples)
    block = {"x.r": x[:, None], "ctrl.label": y[:, None]}
    sim = Brian2Simulator(model, target)
    sim.run_samples(block, steps, record=[], plasticity="accumulate")
    first = dict(sim.last_timing)
    times = [first["run_seconds"]] if target == "cpp_standalone" else []
    while len(times) < repeats:
        sim.run_samples(block, steps, record=[], plasticity="accumulate")
        times.append(sim.last_timing["run_seconds"])
    compile_s = max(first["total_seconds"] - min(times), 0.0)
    return {**_summary(times, n_samples), "compile_seconds": compile_s, "n_samples": n_samples}


def _use_cold_caches() -> str:
    """Point brian2's cython cache and neurosim's standalone cache at a new directory."""
    import brian2

    root = tempfile.mkdtemp(prefix="neurosim-bench-")
    os.environ["NEUROSIM_BRIAN2_CACHE"] = os.path.join(root, "standalone")
    brian2.prefs.codegen.runtime.cython.cache_dir = os.path.join(root, "cython")
    return root


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 steps, fewer samples (18 min with cold caches)",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per entry")
    parser.add_argument("--cold", action="store_true", help="compile into empty caches")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.cold:
        print(f"cold compile caches in {_use_cold_caches()}")
    steps = 100 if args.quick else 1000
    results: dict[str, dict] = {}
    for name, sizes in CIRCUITS.items():
        row = results.setdefault(name, {})
        for batch in (1, 128):
            progress(f"{name}: torch batch {batch}, {args.repeats} runs of {steps} steps")
            row[f"torch_batch{batch}"] = time_torch(sizes, batch, steps, args.repeats)
        for target in args.targets:
            n = {"numpy": 1, "cython": 2, "cpp_standalone": 5}[target]
            progress(f"{name}: brian2 {target}, {n} samples x {args.repeats} runs of {steps} "
                     "steps (the first run generates and compiles code unless cached)")  # fmt: skip
            row[f"brian2_{target}"] = time_brian2(sizes, target, steps, n, args.repeats)
        ref = row["torch_batch1"]["run_seconds_per_sample"]
        print(f"\n{name}: {steps} steps per sample, float64, accumulate")
        print(
            f"{'backend':24s} {'s/sample min':>12s} {'median':>10s} {'vs torch b1':>12s} "
            f"{'compile s':>10s}"
        )
        for key, r in row.items():
            per, med = r["run_seconds_per_sample"], r["run_seconds_per_sample_median"]
            print(
                f"{key:24s} {per:12.4g} {med:10.4g} {per / ref:12.3g} {r['compile_seconds']:10.3g}"
            )
        if "brian2_cpp_standalone" in row:
            ratio = row["brian2_cpp_standalone"]["run_seconds_per_sample"] / ref
            limit = 1.0 if name == "dfc_15_10_10_5" else 2.0
            verdict = "met" if ratio <= limit else "NOT met"
            print(f"target cpp_standalone <= {limit:g} x torch batch 1: {ratio:.3g} x ({verdict})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
