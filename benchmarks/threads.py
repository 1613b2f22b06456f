"""Thread settings on a busy machine: the `make demo` DFC-SSA epoch with a core taken.

Issue 11 §3: with torch's default threads a DFC-SSA epoch of ``make demo`` took 456 s
on a machine whose cores other processes held, against ~9 s idle: intra-op parallel
regions wait for their slowest thread, spinning. This script times the demo
configuration (``models/configs/mnist/dfc-ssa-demo.yaml``: closed-form forward
batches, a sleep phase on every 8th feedback batch) under several thread settings,
each in a fresh process, with and without a busy-loop process beside it (one more
runnable thread: one of 2 cores taken), in interleaved rounds:

``default``         neurosim's default: ``OMP_WAIT_POLICY=PASSIVE`` (set when neurosim is
                    imported before torch, ``neurosim/_threads.py``), torch's threads
                    (one per core), simulated phases in shards over the cores
``torch-default``   the same without the passive wait policy (torch imported first,
                    the variable unset): OpenMP threads spin while they wait
``one-thread``      ``--threads 1``: one intra-op thread, no shards
``shards-only``     one intra-op thread, simulated phases in shards over the cores

Seconds per epoch are extrapolated from ``--batches`` forward and feedback batches
(430 of each per epoch) after a warm-up; the table gives the median (and min) over
``--rounds`` and the ratio busy / quiet per setting. The goal of the issue: the
default's busy epoch within 2x of its quiet one. The load average is printed: on a
machine shared with other jobs, "quiet" means "without our busy loop".

    python benchmarks/threads.py [--batches 48] [--rounds 3] [--quick] [--json out.json]

Run time (on the shared 2-core CPU of development at the load average given; longer on
a busier machine): 24 batches, 2 rounds, 4 settings 22 min at load 11-12 (torch's
default setting alone takes most of it); --quick (8 batches, 1 round) about 5 min.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# benchmarks.common imports torch: not at module level, a child process must import
# neurosim (its OpenMP wait policy) before torch

SETTINGS = ("default", "torch-default", "one-thread", "shards-only")
DEMO = ROOT / "models" / "configs" / "mnist" / "dfc-ssa-demo.yaml"
EPOCH_BATCHES = 430


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def child(setting: str, batches: int) -> dict:
    """Time ``batches`` forward and feedback batches of the demo config in this process."""
    if setting != "torch-default":
        import neurosim  # noqa: F401  (first: its OpenMP wait policy, neurosim/_threads.py)
    policy = os.environ.get("OMP_WAIT_POLICY")  # what OpenMP reads when torch loads
    import torch

    from benchmarks.train_epoch import mnist_or_synthetic
    from neurosim.models import registry
    from neurosim.models.base import Task
    from neurosim.training.config import load_config

    n = cores()
    torch.set_num_threads(n if setting in ("default", "torch-default") else 1)
    cfg = load_config(DEMO)
    sim_threads = 1 if setting == "one-thread" else None
    model = registry.create(
        cfg.model, Task("classification", 784, 10), cfg.model_params(), dtype=torch.float64,
        seed=cfg.seed,
    )  # fmt: skip
    from neurosim.models.dfc.simulation import phase_circuit

    phase_circuit(model, "sleep").sim.threads = sim_threads
    X, y, _ = mnist_or_synthetic(128 * (batches + 8))
    X = X.to(torch.float64)
    out = {}
    for phase in ("feedback", "forward"):
        for i in range(8):  # warm-up (one sleep phase among them)
            model.train_batch(X[i * 128 : (i + 1) * 128], y[i * 128 : (i + 1) * 128], phase)
        t0 = time.perf_counter()
        for i in range(8, 8 + batches):
            model.train_batch(X[i * 128 : (i + 1) * 128], y[i * 128 : (i + 1) * 128], phase)
        out[phase] = (time.perf_counter() - t0) / batches
    out["epoch_s"] = EPOCH_BATCHES * (out["forward"] + out["feedback"])
    out["intra_op_threads"] = torch.get_num_threads()
    out["omp_wait_policy"] = policy
    return out


def run_child(setting: str, batches: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    cmd = [sys.executable, __file__, "--child", setting, "--batches", str(batches)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def busy_loop() -> subprocess.Popen:
    """A process spinning on one core until killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=48, help="timed batches per phase")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    p.add_argument("--json", type=Path)
    p.add_argument("--quick", action="store_true", help="8 batches, 1 round")
    p.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.batches, args.rounds = 8, 1
    if args.child:
        print(json.dumps(child(args.child, args.batches)))
        return 0
    from benchmarks.common import machine, table, write_json

    print(f"{cores()} cores; load average {os.getloadavg()[0]:.2f}; demo config; "
          f"{args.batches} batches per phase, {args.rounds} rounds")  # fmt: skip
    runs: dict[str, dict[str, list[dict]]] = {s: {"quiet": [], "busy": []} for s in args.settings}
    for r in range(args.rounds):
        for s in args.settings:
            runs[s]["quiet"].append(run_child(s, args.batches))
            spin = busy_loop()
            try:
                runs[s]["busy"].append(run_child(s, args.batches))
            finally:
                spin.kill()
                spin.wait()
            q, b = runs[s]["quiet"][-1]["epoch_s"], runs[s]["busy"][-1]["epoch_s"]
            print(f"round {r + 1} {s:<11} quiet {q:8.1f} s  busy {b:8.1f} s", flush=True)
    rows = [("setting", "quiet s/epoch med (min)", "busy s/epoch med (min)", "busy/quiet")]
    summary = {}
    for s, d in runs.items():
        q = [x["epoch_s"] for x in d["quiet"]]
        b = [x["epoch_s"] for x in d["busy"]]
        ratio = statistics.median(b) / statistics.median(q)
        summary[s] = {"quiet_s": q, "busy_s": b, "busy_over_quiet": ratio, "runs": d}
        rows.append((s, f"{statistics.median(q):.1f} ({min(q):.1f})",
                     f"{statistics.median(b):.1f} ({min(b):.1f})", f"{ratio:.2f}"))  # fmt: skip
    print(table(rows))
    base = statistics.median(runs[args.settings[0]]["quiet"][i]["epoch_s"]
                             for i in range(args.rounds))  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}; quiet {args.settings[0]}: "
          f"{base:.1f} s")  # fmt: skip
    if args.json:
        write_json(args.json, {"machine": machine(), "batches": args.batches, **summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
