"""Seconds per MNIST training epoch of the DFC family and the baselines.

One *paper epoch* (DFC App. F.2, DFC.md §1.8) is one forward pass over the 55 000
training samples plus, for models with trained feedback weights, ``1 +
extra_fb_epochs`` feedback passes (MNIST: 3), at batch size 128, with the paper's
MNIST configuration of each model. After one warm-up batch per phase, ``--batches K``
rounds are timed; each round times, for every dtype, this machine's dense matmul rate
(1024^3 products, same dtype, threads and device), one forward batch and one feedback
batch, in turn, so that a load change on a shared machine affects all of them alike.
Seconds per batch are extrapolated to the 430 batches of an epoch; the median over the
rounds is the headline number, the minimum the least-disturbed one. Evaluation
passes are not included (forward passes only, < 1 % of an epoch). CUDA is
synchronised before every clock read.

Matmul FLOPs per epoch are counted for every model (:func:`flops_per_batch`);
``fraction_of_matmul_peak`` is the FLOP rate reached over the peak of the same round
(median over rounds, and the best round), ``target_needs_fraction`` the rate an
epoch-seconds target needs. ``float32_speedup`` is float64 over float32 epoch seconds
(medians, same run). Peak memory of each model's rounds: resident set (the process's
high-water mark, reset per model on Linux) and, on CUDA, ``max_memory_allocated``.

Real MNIST is used when it is already cached (nothing is downloaded); otherwise
random inputs of MNIST shape (labels uniform over 10 classes), which is said in the
output. ``--eager`` runs the simulations without the fused C kernels.

Usage::

    python benchmarks/train_epoch.py --json out.json [--models bp dfa] [--batches K]
        [--threads N] [--dtypes float64 float32] [--device cpu|cuda] [--eager]

Run time (on the shared 2-core CPU of development at the load average given; longer
on a busier machine): full (6 rounds, 6 models, 2 dtypes, fused kernels) 16 min at
load 9.5; --quick (2 rounds, 2 dtypes) 84 s at load 9.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

# neurosim first: importing it sets OpenMP's passive wait policy before torch loads
# (neurosim/_threads.py), as the `neurosim` command does
import neurosim  # noqa: F401  isort: skip
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    add_device_argument,
    check_device,
    machine,
    matmul_peak_callable,
    peak_memory,
    peak_memory_reset,
    progress,
    timed,
)
from neurosim.backends.torch import TorchSimulator, ccompile  # noqa: E402
from neurosim.models import registry  # noqa: E402
from neurosim.models.base import Task  # noqa: E402
from neurosim.training.config import default_config  # noqa: E402

MODELS = ("dfc", "dfc-ss", "dfc-ssa", "dfc-ssa-fixed", "bp", "dfa")
DTYPES = ("float64", "float32")
N_TRAIN, BATCH = 55_000, 128
#: issue 5 targets, seconds per float64 epoch on 2 CPU cores
TARGETS_S = {"dfc": 600.0, "dfc-ss": 240.0, "dfc-ssa": 90.0, "dfc-ssa-fixed": 6.0}
#: issue 17 targets: fraction of the matmul peak (2 cores, either dtype)
TARGET_FRACTION = {"dfc": 0.65, "dfc-ss": 0.65, "dfc-ssa": 0.45}
SIMULATED = ("dfc", "dfc-ss", "dfc-fixed", "dfc-ss-fixed")


def mnist_or_synthetic(n: int, source: str = "mnist") -> tuple[torch.Tensor, torch.Tensor, str]:
    """``n`` training samples of ``source`` (``mnist``, ``fashion-mnist``) if cached,
    else random MNIST-shaped data."""
    try:
        from neurosim.data import load_dataset

        ds = load_dataset(source, download=False)
        return torch.from_numpy(ds.train.X[:n]), torch.from_numpy(ds.train.y[:n]), source
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


def _batch(X: torch.Tensor, y: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    n_avail = max(len(X) // BATCH, 1)
    sl = slice((i % n_avail) * BATCH, (i % n_avail + 1) * BATCH)
    return X[sl], y[sl]


def _make(name: str, dtype_name: str, device: str, eager: bool) -> tuple[Any, Any]:
    cfg = default_config(name, "mnist")
    model = registry.create(name, Task("classification", 784, 10), cfg.model_params(),
                            device=device, dtype=getattr(torch, dtype_name),
                            seed=cfg.seed)  # fmt: skip
    if eager and hasattr(model, "variant"):
        from neurosim.models.dfc.simulation import phase_circuit

        for phase in ("forward", "sleep"):
            if phase == "forward" and model.variant == "ssa":
                continue
            if phase == "sleep" and not model.has_feedback_phase:
                continue
            pc = phase_circuit(model, phase)
            pc.sim = TorchSimulator(pc.ir, device=device, dtype=pc.sim.dtype,
                                    params=pc.sim.params, progress=False, fused=False)  # fmt: skip
    return cfg, model


def bench_model(
    name: str, dtypes: list[str], X, y, k: int, device: str, eager: bool
) -> dict[str, dict[str, Any]]:
    """Interleaved rounds (peak, forward batch, feedback batch per dtype) of one model."""
    made = {dt: _make(name, dt, device, eager) for dt in dtypes}
    data = {dt: (X.to(device, getattr(torch, dt)), y.to(device)) for dt in dtypes}
    peaks = {dt: matmul_peak_callable(getattr(torch, dt), device=device) for dt in dtypes}
    n_fb = {}
    for dt, (cfg, model) in made.items():  # warm-up (kernels built, buffers allocated)
        n_fb[dt] = (1 + cfg.schedule.extra_fb_epochs) if model.has_feedback_phase else 0
        xb, yb = _batch(*data[dt], 0)
        model.train_batch(xb, yb, "forward")
        if n_fb[dt]:
            model.train_batch(xb, yb, "feedback")
    peak_memory_reset(device)
    t = {dt: {"peak": [], "forward": [], "feedback": []} for dt in dtypes}
    for i in range(k):
        for dt, (_, model) in made.items():
            xb, yb = _batch(*data[dt], i + 1)
            t[dt]["peak"].append(timed(peaks[dt][0], device))
            t[dt]["forward"].append(timed(partial(model.train_batch, xb, yb, "forward"), device))
            fb = partial(model.train_batch, xb, yb, "feedback")
            t[dt]["feedback"].append(timed(fb, device) if n_fb[dt] else 0.0)
    memory = peak_memory(device)
    n_batches = math.ceil(N_TRAIN / BATCH)
    out: dict[str, dict[str, Any]] = {}
    for dt, (cfg, model) in made.items():
        tt = t[dt]
        epoch = [n_batches * (f + n_fb[dt] * b) for f, b in zip(tt["forward"], tt["feedback"],
                                                                strict=True)]  # fmt: skip
        peak = [peaks[dt][1] / s / 1e9 for s in tt["peak"]]
        r: dict[str, Any] = {"feedback_passes": n_fb[dt], **memory}
        for stat, fn in (("median", statistics.median), ("min", min)):
            r[f"forward_batch_s_{stat}"] = fn(tt["forward"])
            r[f"feedback_batch_s_{stat}"] = fn(tt["feedback"])
            r[f"seconds_per_epoch_{stat}"] = fn(epoch)
        r["seconds_per_epoch"] = r["seconds_per_epoch_median"]
        r["matmul_peak_gflops"] = {"median": statistics.median(peak), "max": max(peak)}
        sizes = [784, *cfg.model_params()["size_hidden"], 10]
        f_fwd = flops_per_batch(model, "forward", sizes)
        f_fb = flops_per_batch(model, "feedback", sizes)
        r["fraction_of_matmul_peak"] = None
        if f_fwd is not None and f_fb is not None:
            flops = n_batches * (f_fwd + n_fb[dt] * f_fb)
            frac = [flops / e / 1e9 / p for e, p in zip(epoch, peak, strict=True)]
            r["tflop_per_epoch"] = flops / 1e12
            r["fraction_of_matmul_peak"] = statistics.median(frac)
            r["fraction_of_matmul_peak_best_round"] = max(frac)
            if name in TARGETS_S:
                r["target_s"] = TARGETS_S[name]
                r["target_needs_fraction"] = flops / TARGETS_S[name] / 1e9 / statistics.median(peak)
            if name in TARGET_FRACTION:
                r["target_fraction"] = TARGET_FRACTION[name]
        out[dt] = r
    if "float64" in out and "float32" in out:
        f64, f32 = out["float64"], out["float32"]
        out["float32_speedup"] = {
            stat: f64[f"seconds_per_epoch_{stat}"] / f32[f"seconds_per_epoch_{stat}"]
            for stat in ("median", "min")
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, help="write {model: {dtype: seconds_per_epoch}}")
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    p.add_argument("--batches", type=int, default=6, help="timed rounds (batches per phase)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's setting)")
    p.add_argument("--quick", action="store_true", help="2 rounds")
    p.add_argument("--eager", action="store_true", help="simulate without fused C kernels")
    add_device_argument(p)
    args = p.parse_args(argv)
    device = check_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    k = 2 if args.quick else args.batches
    X, y, source = mnist_or_synthetic(BATCH * (k + 1))
    avail = set(registry.available())
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {
        "what": "seconds per paper epoch (1 forward + (1 + extra_fb_epochs) feedback passes "
        f"over {N_TRAIN} samples, batch {BATCH}, MNIST paper configs), eval excluded; "
        "median over the timed rounds (details: min too)",
        "extrapolated_from_batches": k,
        "data": source,
        "fused_kernels": not args.eager,
        "date": time.strftime("%Y-%m-%d"),
        **machine(device),
        "loadavg_1min_start": os.getloadavg()[0],
        "targets_float64_s": TARGETS_S,
        "target_fraction": TARGET_FRACTION,
        "details": {},
        "missing": {},
    }
    print(f"data: {source}; {k} interleaved rounds (peak, forward, feedback per dtype), "
          f"extrapolated to one epoch; {torch.get_num_threads()} threads; device {device}; "
          f"load {meta['loadavg_1min_start']:.2f}")  # fmt: skip
    head = "".join(f"{d + ' s/epoch med (min)':>26}{'frac':>6}{'GF/s':>7}" for d in args.dtypes)
    print(f"{'model':<15}{head}{'f32 x':>7}{'MiB':>7}")
    for name in args.models:
        if name not in avail:
            results[name] = None
            meta["missing"][name] = "not registered"
            print(f"{name:<15}missing (not registered)")
            continue
        progress(f"{name}: 1 warm-up + {k} interleaved rounds of {', '.join(args.dtypes)}")
        try:
            r = bench_model(name, args.dtypes, X, y, k, device, args.eager)
        except Exception as err:  # noqa: BLE001 (report and continue)
            results[name] = None
            meta["missing"][name] = f"{type(err).__name__}: {err}"
            print(f"{name:<15}error: {type(err).__name__}: {err}")
            continue
        meta["details"][name] = r
        results[name] = {dt: r[dt]["seconds_per_epoch"] for dt in args.dtypes}
        row = f"{name:<15}"
        for dt in args.dtypes:
            d = r[dt]
            cell = f"{d['seconds_per_epoch_median']:.1f} ({d['seconds_per_epoch_min']:.1f})"
            frac = d["fraction_of_matmul_peak"]
            row += f"{cell:>26}{(f'{frac:.2f}' if frac else '-'):>6}"
            row += f"{d['matmul_peak_gflops']['median']:>7.1f}"
        sp = r.get("float32_speedup")
        speed = f"{sp['median']:.2f}" if sp else "-"
        row += f"{speed:>7}"
        mem = r[args.dtypes[0]]
        row += f"{mem['cuda_max_allocated_mib'] or mem['peak_rss_mib'] or 0:>7.0f}"
        print(row, flush=True)
    meta["loadavg_1min_end"] = os.getloadavg()[0]
    built = ccompile.compile_seconds
    meta["kernel_compile_seconds"] = {"builds": len(built), "total": sum(built.values())}
    print(f"fused kernels compiled in this run: {len(built)} ({sum(built.values()):.1f} s; "
          "the others came from the cache)")  # fmt: skip
    print(
        f"load average at the end: {meta['loadavg_1min_end']:.2f}; frac: fraction of the "
        "matmul peak of the same rounds (median); f32 x: float64/float32 epoch seconds; "
        "MiB: peak memory of the model's rounds (CUDA allocated or resident set)"
    )
    if args.json:
        args.json.write_text(json.dumps({**results, "_meta": meta}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
