"""Seconds per MNIST training epoch of the DFC family and the baselines.

One *paper epoch* (DFC App. F.2, DFC.md §1.8) is one forward pass over the 55 000
training samples plus, for models with trained feedback weights, ``1 +
extra_fb_epochs`` feedback passes (MNIST: 3), at batch size 128, with the paper's
MNIST configuration of each model. Each phase is timed on ``--batches K`` batches
after one warm-up batch; the minimum and the median seconds per batch are
extrapolated to the 430 batches of an epoch (the median is the headline number, the
minimum the least-disturbed one: the machine may be shared). The output and the JSON
metadata say so, with the load average before and after. Evaluation passes are not
included (forward passes only, < 1 % of an epoch).

Real MNIST is used when it is already cached (nothing is downloaded); otherwise
random inputs of MNIST shape (labels uniform over 10 classes), which is said in the
output. Matmul FLOPs per epoch are counted for every model (:func:`flops_per_batch`)
and compared with this machine's dense matmul rate measured in the same run (same
dtype and threads): ``fraction_of_matmul_peak`` is the rate reached,
``target_needs_fraction`` the rate a target needs (above 1: out of reach at that peak).

Usage::

    python benchmarks/train_epoch.py --json out.json [--models bp dfa] [--batches K]
        [--threads N] [--dtypes float64]

Run time (one thread, on the shared 2-core CPU of development at the load average given;
longer on a busier machine): full (10 timed batches per phase, 6 models, 2 dtypes) 7.8
min at load 16; --quick (2 batches per phase) 75 s at load 4, 141 s at load 18.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import matmul_peak_gflops, progress  # noqa: E402
from neurosim.models import registry  # noqa: E402
from neurosim.models.base import Task  # noqa: E402
from neurosim.training.config import default_config  # noqa: E402

MODELS = ("dfc", "dfc-ss", "dfc-ssa", "dfc-ssa-fixed", "bp", "dfa")
DTYPES = ("float64", "float32")
N_TRAIN, BATCH = 55_000, 128
#: issue 5 targets, seconds per float64 epoch on 2 CPU cores
TARGETS = {"dfc": 600.0, "dfc-ss": 240.0, "dfc-ssa": 90.0, "dfc-ssa-fixed": 6.0}
SIMULATED = ("dfc", "dfc-ss", "dfc-fixed", "dfc-ss-fixed")


def mnist_or_synthetic(n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``n`` training samples: cached MNIST if present, else random MNIST-shaped data."""
    try:
        from neurosim.data import load_dataset

        ds = load_dataset("mnist", download=False)
        return torch.from_numpy(ds.train.X[:n]), torch.from_numpy(ds.train.y[:n]), "mnist"
    except Exception as err:  # noqa: BLE001 (any failure: fall back, and say why)
        g = torch.Generator().manual_seed(0)
        X = torch.randn(n, 784, generator=g)
        y = torch.randint(0, 10, (n,), generator=g)
        return X, y, f"synthetic (MNIST not cached: {type(err).__name__})"


def _mm(sizes: list[int]) -> int:
    """FLOPs of one sample through ``W_i r_{i-1}`` for consecutive ``sizes``."""
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def flops_per_batch(model: Any, phase: str, sizes: list[int]) -> float | None:
    """Matmul FLOPs of one training batch (``None``: unknown model).

    Simulated phases (per sample): the feedforward sweep once, then per Euler step
    the basal drives of layers 2..L (``W_1 x`` is hoisted) and ``Q_i u`` of every
    layer; the time-integrated rule (DFC) adds ``delta_i r_{i-1}^T`` of layers 2..L per
    time sample and ``(sum_k delta_1)^T x`` once; the sleep rule adds
    ``v_A,i u^T`` per step. DFC-SSA: the feedforward sweep, the Jacobian recursion
    (``J_{i+1} W_{i+1}``: ``n_L`` rows per sample), ``J Q``, the upward sweep of layers
    2..L and the rule's outer products. BP/FA/DFA: forward and two backward products.
    """
    name, n_L = model.name, sizes[-1]
    feedback = 2 * n_L * sum(sizes[1:])  # Q_i u
    ff, step = _mm(sizes), _mm(sizes[1:]) + feedback
    if phase == "feedback":
        if not getattr(model, "has_feedback_phase", False):
            return 0.0
        steps = model.cfg.tmax_di_fb - 1
        return BATCH * (ff + steps * (step + feedback))
    if name in ("bp", "fa", "dfa"):
        return 3.0 * BATCH * ff
    if name in SIMULATED:
        T = model.cfg.tmax_di
        rule = ff if name.startswith("dfc-ss") else ff + (T - 1) * _mm(sizes[1:])
        return BATCH * (ff + (T - 1) * step + rule)
    if name.startswith("dfc-ssa"):
        jac = n_L * (_mm(sizes[1:-1]) + 2 * n_L * sizes[-2])  # J_{i+1} W_{i+1}, n_L rows
        return BATCH * (ff + jac + n_L * feedback + feedback + _mm(sizes[1:]) + ff)
    return None


def time_phase(model: Any, X: torch.Tensor, y: torch.Tensor, phase: str, k: int) -> list[float]:
    """Seconds of each of ``k`` batches of ``phase`` after one warm-up batch."""
    model.train_batch(X[:BATCH], y[:BATCH], phase)
    n_avail = max(len(X) // BATCH, 1)
    times = []
    for i in range(k):
        sl = slice((i % n_avail) * BATCH, (i % n_avail + 1) * BATCH)
        t0 = time.perf_counter()
        model.train_batch(X[sl], y[sl], phase)
        times.append(time.perf_counter() - t0)
    return times


def bench_model(name: str, dtype_name: str, X, y, k: int, peak: float) -> dict[str, Any]:
    cfg = default_config(name, "mnist")
    dtype = getattr(torch, dtype_name)
    model = registry.create(name, Task("classification", 784, 10), cfg.model_params(),
                            dtype=dtype, seed=cfg.seed)  # fmt: skip
    Xd = X.to(dtype)
    n_batches = math.ceil(N_TRAIN / BATCH)
    fwd = time_phase(model, Xd, y, "forward", k)
    n_fb = (1 + cfg.schedule.extra_fb_epochs) if model.has_feedback_phase else 0
    fb = time_phase(model, Xd, y, "feedback", k) if n_fb else [0.0]
    out: dict[str, Any] = {"feedback_passes": n_fb}
    for stat, fn in (("median", statistics.median), ("min", min)):
        t_fwd, t_fb = fn(fwd), fn(fb)
        out[f"forward_batch_s_{stat}"], out[f"feedback_batch_s_{stat}"] = t_fwd, t_fb
        out[f"seconds_per_epoch_{stat}"] = n_batches * (t_fwd + n_fb * t_fb)
    out["seconds_per_epoch"] = out["seconds_per_epoch_median"]
    sizes = [784, *cfg.model_params()["size_hidden"], 10]
    f_fwd, f_fb = (
        flops_per_batch(model, "forward", sizes),
        flops_per_batch(model, "feedback", sizes),
    )
    out["fraction_of_matmul_peak"] = None
    if f_fwd is not None and f_fb is not None:
        flops = n_batches * (f_fwd + n_fb * f_fb)
        out["tflop_per_epoch"] = flops / 1e12
        out["fraction_of_matmul_peak"] = flops / out["seconds_per_epoch"] / 1e9 / peak
        if name in TARGETS:
            out["target_s"] = TARGETS[name]
            out["target_needs_fraction"] = flops / TARGETS[name] / 1e9 / peak
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, help="write {model: {dtype: seconds_per_epoch}}")
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    p.add_argument("--batches", type=int, default=10, help="timed batches per phase")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's setting)")
    p.add_argument(
        "--quick", action="store_true", help="2 batches per phase (75-141 s at load 4-18)"
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    k = 2 if args.quick else args.batches
    X, y, source = mnist_or_synthetic(BATCH * max(k, 1))
    avail = set(registry.available())
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {
        "what": "seconds per paper epoch (1 forward + (1 + extra_fb_epochs) feedback passes "
        f"over {N_TRAIN} samples, batch {BATCH}, MNIST paper configs), eval excluded; "
        "median over the timed batches (details: min too)",
        "extrapolated_from_batches": k,
        "data": source,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "loadavg_1min_start": os.getloadavg()[0],
        "targets_float64_s": TARGETS,
        "matmul_peak_gflops": {},
        "fraction_of_matmul_peak": {},
        "details": {},
        "missing": {},
    }
    print(f"data: {source}; timing {k} batches per phase, extrapolated to one epoch; "
          f"{torch.get_num_threads()} threads; load {meta['loadavg_1min_start']:.2f}")  # fmt: skip
    for dt in args.dtypes:
        meta["matmul_peak_gflops"][dt] = matmul_peak_gflops(getattr(torch, dt))
        print(f"matmul peak {dt}: {meta['matmul_peak_gflops'][dt]:.1f} GFLOP/s")
    head = "".join(f"{d + ' s/epoch med (min)':>28}{'peak':>6}" for d in args.dtypes)
    print(f"{'model':<15}{head}  target (needs x peak)")
    for name in args.models:
        if name not in avail:
            results[name] = None
            meta["missing"][name] = "not registered"
            print(f"{name:<15}missing (not registered)")
            continue
        results[name], meta["details"][name], meta["fraction_of_matmul_peak"][name] = {}, {}, {}
        row, need = f"{name:<15}", ""
        for dt in args.dtypes:
            progress(f"{name} {dt}: 1 warm-up + {k} timed batches per phase")
            try:
                r = bench_model(name, dt, X, y, k, meta["matmul_peak_gflops"][dt])
            except Exception as err:  # noqa: BLE001 (report and continue)
                results[name][dt] = None
                meta["missing"][f"{name}/{dt}"] = f"{type(err).__name__}: {err}"
                row += f"{'error':>28}{'':>6}"
                continue
            results[name][dt] = r["seconds_per_epoch"]
            meta["details"][name][dt] = r
            meta["fraction_of_matmul_peak"][name][dt] = r["fraction_of_matmul_peak"]
            frac = r["fraction_of_matmul_peak"]
            cell = f"{r['seconds_per_epoch_median']:.1f} ({r['seconds_per_epoch_min']:.1f})"
            row += f"{cell:>28}{(f'{frac:.2f}' if frac else '-'):>6}"
            if dt == "float64" and "target_s" in r:
                need = f"  {r['target_s']:g} s ({r['target_needs_fraction']:.2f})"
        print(row + need, flush=True)
    meta["loadavg_1min_end"] = os.getloadavg()[0]
    print(f"load average at the end: {meta['loadavg_1min_end']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({**results, "_meta": meta}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
