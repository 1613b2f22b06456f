"""Fixed costs of scaling out: Ray's start-up and per-trial overhead, and the start-up
of data-parallel training.

* ``ray_init``: seconds of ``ray.init`` (local, this machine's CPUs, no GPU);
* ``tune_noop``: a Tune run of ``--trials`` function trials that report once and
  return (the scheduling and worker cost of a trial without any training);
* ``sweep_tiny``: ``neurosim.scale.sweep.run_sweep`` of ``--trials`` BP trials on a
  64-sample student-teacher subset (2 epochs), and the seconds the trials spent training
  (from their metrics) — the difference is Tune's and Ray's share;
* ``ddp``: ``neurosim train`` of a small DFC-SSA run (student-teacher, 256 samples,
  1 epoch) on 1 process and with ``--nproc 2`` (process start-up, rendezvous, data
  loading in each process included), interleaved ``--repeats`` times.

These are wall-clock seconds of one machine at one load (recorded in the JSON): on the
shared 2-core machine of development they explain why the CI tests of sweeps keep to
two trials in one Ray session.

    python benchmarks/scale_overhead.py [--trials K] [--repeats R] [--json PATH]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved, machine, stats, table, write_json  # noqa: E402

from neurosim.training import train  # noqa: E402
from neurosim.training.config import default_config  # noqa: E402
from neurosim.training.overrides import apply_overrides  # noqa: E402


def measure_ray(trials: int, tmp: Path) -> dict[str, float]:
    """``ray_init``, ``tune_noop`` and ``sweep_tiny`` seconds in one Ray session."""
    import ray
    from ray import tune

    from neurosim.scale.sweep import run_sweep
    from neurosim.scale.sweep_spec import spec_from_dict

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count() or 1, num_gpus=0, include_dashboard=False,
             log_to_driver=False, logging_level=logging.WARNING)  # fmt: skip
    out["ray_init"] = time.perf_counter() - t0
    try:

        def noop(config: dict) -> None:
            tune.report({"x": config["a"]})

        t0 = time.perf_counter()
        tune.Tuner(
            noop,
            param_space={"a": tune.uniform(0, 1)},
            tune_config=tune.TuneConfig(num_samples=trials, metric="x", mode="min"),
            run_config=tune.RunConfig(storage_path=str(tmp / "noop"), verbose=0),
        ).fit()
        out["tune_noop"] = time.perf_counter() - t0
        spec = spec_from_dict(
            {
                "base": {"model": "bp", "dataset": "student-teacher",
                         "set": {"epochs": 2, "subset": 64, "batch_size": 32}},
                "space": {"params.lr": {"type": "loguniform", "low": 0.005, "high": 0.2}},
                "trials": trials,
                "search": {"algorithm": "random", "seed": 0},
            }
        )  # fmt: skip
        t0 = time.perf_counter()
        result = run_sweep(spec, tmp / "sweep", verbose=False)
        out["sweep_tiny"] = time.perf_counter() - t0
        out["sweep_tiny_training"] = sum(r["seconds"] for r in result.rows)
    finally:
        ray.shutdown()
    return out


def measure_ddp(repeats: int, tmp: Path) -> dict[str, list[float]]:
    """Seconds of a small DFC-SSA run on 1 process and on 2 (``--nproc 2``)."""
    from neurosim.scale.launch import train_data_parallel

    cfg = apply_overrides(
        default_config("dfc-ssa", "student-teacher"),
        {"epochs": 1, "subset": 256, "batch_size": 64, "schedule.epochs_fb": 0, "threads": 1},
    )
    count = iter(range(10_000))

    def one() -> None:
        train(cfg, tmp / f"one{next(count)}", progress=False)

    def two() -> None:
        train_data_parallel(cfg, tmp / f"two{next(count)}", nproc=2, progress=False)

    return interleaved({"1 process": one, "2 processes": two}, repeats, warmup=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ray_s = measure_ray(args.trials, Path(tmp))
        ddp = {k: stats(v) for k, v in measure_ddp(args.repeats, Path(tmp)).items()}
    rows = [("what", "seconds")]
    rows += [(f"ray.init (local, {os.cpu_count()} CPUs)", f"{ray_s['ray_init']:.1f}")]
    rows += [(f"Tune run of {args.trials} no-op trials", f"{ray_s['tune_noop']:.1f}")]
    rows += [(f"sweep of {args.trials} tiny BP trials (training inside)",
              f"{ray_s['sweep_tiny']:.1f} ({ray_s['sweep_tiny_training']:.1f})")]  # fmt: skip
    for k, v in ddp.items():
        rows.append((f"DFC-SSA 1 epoch, 256 samples, {k} (min / median)",
                     f"{v['min']:.1f} / {v['median']:.1f}"))  # fmt: skip
    print(table(rows))
    if args.json:
        write_json(args.json, {"machine": machine(), "ray": ray_s, "ddp": ddp})


if __name__ == "__main__":
    main()
