"""Seconds per MNIST training epoch of the DFC family and the baselines.

One *paper epoch* (DFC App. F.2, DFC.md §1.8) is one forward pass over the 55 000
training samples plus, for models with trained feedback weights, ``1 +
extra_fb_epochs`` feedback passes (MNIST: 3), at batch size 128, with the paper's
MNIST configuration of each model. The time per batch of each phase is measured on
``--batches K`` batches (median, after one warm-up batch) and extrapolated to the 430
batches of an epoch; the output and the JSON metadata say so. Evaluation passes are
not included (forward passes only, < 1 % of an epoch).

Real MNIST is used when it is already cached (nothing is downloaded); otherwise
random inputs of MNIST shape (labels uniform over 10 classes), which is said in the
output. The fraction of the measured matmul peak is reported where the FLOP count is
a clean matmul count (BP, DFA, and the simulated DFC / DFC-SS forward phase and every
feedback phase); ``null`` otherwise.

Usage::

    python benchmarks/train_epoch.py --json out.json [--models bp dfa] [--batches K]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models import registry  # noqa: E402
from models.base import Task  # noqa: E402
from neurosim.training.config import default_config  # noqa: E402

MODELS = ("dfc", "dfc-ss", "dfc-ssa", "dfc-ssa-fixed", "bp", "dfa")
DTYPES = ("float64", "float32")
N_TRAIN, BATCH = 55_000, 128


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


def matmul_peak_gflops(dtype: torch.dtype, n: int = 1024, reps: int = 5) -> float:
    """Best GFLOP/s of an ``n x n`` matrix product in ``dtype`` (2 n^3 FLOP)."""
    try:  # the shared helper, when the torch-backend benchmarks provide one
        from benchmarks.common import matmul_peak_gflops as shared  # type: ignore

        return float(shared(dtype))
    except Exception:  # noqa: BLE001
        pass
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _layer_flops(sizes: list[int], skip_first: bool = False) -> int:
    """Multiply-add FLOPs (x2) of one sample through ``W_i r_{i-1}``."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    return 2 * sum(a * b for a, b in (pairs[1:] if skip_first else pairs))


def flops_per_batch(model: Any, phase: str, sizes: list[int]) -> float | None:
    """Matmul FLOPs of one training batch, or ``None`` where no clean count exists."""
    name = model.name
    n_out = sizes[-1]
    feedback = 2 * sum(n * n_out for n in sizes[1:])  # Q_i u
    if phase == "forward":
        if name in ("bp", "fa", "dfa"):
            return 3.0 * BATCH * _layer_flops(sizes)  # forward + two backward products
        if name in ("dfc", "dfc-ss", "dfc-fixed", "dfc-ss-fixed"):
            steps = model.cfg.tmax_di
            return BATCH * (_layer_flops(sizes) + steps * (_layer_flops(sizes, True) + feedback))
        return None
    if hasattr(model, "cfg") and hasattr(model.cfg, "tmax_di_fb"):
        steps = model.cfg.tmax_di_fb
        return BATCH * (_layer_flops(sizes) + steps * (_layer_flops(sizes, True) + feedback))
    return None


def time_phase(model: Any, X: torch.Tensor, y: torch.Tensor, phase: str, k: int) -> float:
    """Median seconds per batch of ``phase`` over ``k`` batches, after one warm-up
    batch (the median resists other processes sharing the cores)."""
    model.train_batch(X[:BATCH], y[:BATCH], phase)
    n_avail = max(len(X) // BATCH, 1)
    times = []
    for i in range(k):
        sl = slice((i % n_avail) * BATCH, (i % n_avail + 1) * BATCH)
        t0 = time.perf_counter()
        model.train_batch(X[sl], y[sl], phase)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_model(name: str, dtype_name: str, X, y, k: int, peak: float) -> dict[str, Any]:
    cfg = default_config(name, "mnist")
    dtype = getattr(torch, dtype_name)
    model = registry.create(name, Task("classification", 784, 10), cfg.model_params(),
                            dtype=dtype, seed=cfg.seed)  # fmt: skip
    Xd = X.to(dtype)
    n_batches = math.ceil(N_TRAIN / BATCH)
    t_fwd = time_phase(model, Xd, y, "forward", k)
    n_fb = (1 + cfg.schedule.extra_fb_epochs) if model.has_feedback_phase else 0
    t_fb = time_phase(model, Xd, y, "feedback", k) if n_fb else 0.0
    seconds = n_batches * (t_fwd + n_fb * t_fb)
    sizes = [784, *cfg.model_params()["size_hidden"], 10]
    f_fwd = flops_per_batch(model, "forward", sizes)
    f_fb = flops_per_batch(model, "feedback", sizes) if n_fb else 0.0
    frac = None
    if f_fwd is not None and f_fb is not None:
        frac = n_batches * (f_fwd + n_fb * f_fb) / seconds / 1e9 / peak
    return {"seconds_per_epoch": seconds, "forward_batch_s": t_fwd, "feedback_batch_s": t_fb,
            "feedback_passes": n_fb, "fraction_of_matmul_peak": frac}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, help="write {model: {dtype: seconds_per_epoch}}")
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    p.add_argument("--batches", type=int, default=10, help="timed batches per phase")
    p.add_argument("--quick", action="store_true", help="2 batches per phase")
    args = p.parse_args(argv)
    k = 2 if args.quick else args.batches
    X, y, source = mnist_or_synthetic(BATCH * max(k, 1))
    avail = set(registry.available())
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {
        "what": "seconds per paper epoch (1 forward + (1 + extra_fb_epochs) feedback passes "
        f"over {N_TRAIN} samples, batch {BATCH}, MNIST paper configs), eval excluded",
        "extrapolated_from_batches": k,
        "data": source,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "matmul_peak_gflops": {},
        "fraction_of_matmul_peak": {},
        "details": {},
        "missing": {},
    }
    print(f"data: {source}; timing {k} batches per phase, extrapolated to one epoch")
    for dt in args.dtypes:
        meta["matmul_peak_gflops"][dt] = matmul_peak_gflops(getattr(torch, dt))
    print(f"{'model':<15}" + "".join(f"{d + ' s/epoch':>18}{'peak frac':>11}" for d in args.dtypes))
    for name in args.models:
        if name not in avail:
            results[name] = None
            meta["missing"][name] = "not registered"
            print(f"{name:<15}missing (not registered)")
            continue
        results[name], meta["details"][name], meta["fraction_of_matmul_peak"][name] = {}, {}, {}
        row = f"{name:<15}"
        for dt in args.dtypes:
            try:
                r = bench_model(name, dt, X, y, k, meta["matmul_peak_gflops"][dt])
            except Exception as err:  # noqa: BLE001 (report and continue)
                results[name][dt] = None
                meta["missing"][f"{name}/{dt}"] = f"{type(err).__name__}: {err}"
                row += f"{'error':>18}{'':>11}"
                continue
            results[name][dt] = r["seconds_per_epoch"]
            meta["details"][name][dt] = r
            meta["fraction_of_matmul_peak"][name][dt] = r["fraction_of_matmul_peak"]
            frac = r["fraction_of_matmul_peak"]
            row += f"{r['seconds_per_epoch']:>18.1f}{(f'{frac:.2f}' if frac else '-'):>11}"
        print(row)
    if args.json:
        args.json.write_text(json.dumps({**results, "_meta": meta}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
