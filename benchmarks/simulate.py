"""Benchmark: the torch backend on the MNIST DFC forward phase vs a plain torch loop.

784-256-256-256-10 tanh network (linear output), PI controller, the MNIST DFC config
(DFC.md §2: dt 0.02, tau_v 0.2, tau_A = dt, alpha 1.389e-3, k_p 2, lambda 0.07794/B),
T = 1000 time samples (999 Euler steps), batch 128, time-integrated forward rule
(eq. 5, window "all") accumulated. Measured for float32 and float64, interleaved with
(a) a plain step-by-step torch loop of the same equations, written as a researcher
would (new tensors every op, ``W1 x`` recomputed every step, traces stored and the
updates computed from them at the end, as the reference code does) and (b) this
machine's dense matmul rate (1024^3 matmuls, same dtype).

FLOPs counted for the hoisted computation, per sample (only matmul FLOPs; the
elementwise work is not counted)::

    per step:   2*(256*256*2 + 256*10)        W2 r1, W3 r2, W4 r3
              + 2*(3*256*10 + 10*10)          Q_i u for the four layers
              = 282 824
    per time sample (plasticity, layers 2-4):
                2*(256*256*2 + 10*256)        delta r_{l-1}^T (one matmul over time*batch)
              = 267 264
    once:       2*784*256 (W1 x, hoisted) + 2*256*784 (layer-1 rule: (sum_k delta)^T x)
              = 802 816

On the CPU the fused C kernels (the default) are also timed against the eager step
(``fused=False``), interleaved: the ``fused x`` column. On CUDA (``--device cuda``,
synchronised before each clock read) the simulator captures CUDA graphs of its
segments; ``--no-plain`` skips the plain loop (large batches).

Usage: ``python benchmarks/simulate.py [--quick] [--compile] [--threads N] [--batch B]
[--device cpu|cuda] [--no-plain] [--json PATH]``.

Run time (one thread, on the shared 2-core CPU of development at the load average given;
longer on a busier machine): full (999 steps, 5 rounds, float32 and float64) 17.5 min at
load 16; --quick (199 steps, 3 rounds) 38 s at load 3, 96 s at load 17.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# neurosim first: importing it sets OpenMP's passive wait policy before torch loads
# (neurosim/_threads.py), as the `neurosim` command does
import neurosim  # noqa: F401  isort: skip
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    add_device_argument,
    check_device,
    interleaved,
    machine,
    matmul_peak_callable,
    progress,
    stats,
    table,
    write_json,
)

from neurosim.backends.torch import TorchSimulator  # noqa: E402
from neurosim.testing import dfc_model  # noqa: E402

SIZES = [784, 256, 256, 256, 10]
CFG = dict(dt=0.02, tau_v=0.2, alpha=1.389e-3, k_p=2.0)
LAM = 0.07794


def flops_per_sample(steps: int) -> int:
    """Matmul FLOPs per sample of a run of ``steps`` steps (see module docstring)."""
    per_step = 2 * (256 * 256 * 2 + 256 * 10) + 2 * (3 * 256 * 10 + 10 * 10)
    per_sample_time = 2 * (256 * 256 * 2 + 10 * 256)
    once = 2 * 784 * 256 + 2 * 256 * 784
    return steps * per_step + (steps + 1) * per_sample_time + once


def plain_loop(x, y, W, b, Q, steps: int, lam: float) -> list[torch.Tensor]:
    """The same DFC forward phase written plainly (no hoisting, no fusion, traces kept).
    Returns the time-integrated updates ``<delta r^T>`` of every layer (eq. 5)."""
    dt, tau_v, alpha, k_p = CFG["dt"], CFG["tau_v"], CFG["alpha"], CFG["k_p"]
    L = len(W)
    act = [torch.tanh] * (L - 1) + [lambda z: z]
    v, r = [], []
    h = x
    for i in range(L):
        v.append(h @ W[i].t() + b[i])
        h = act[i](v[i])
        r.append(h)
    r_star = r[-1] - lam * (torch.softmax(r[-1], -1) - y)
    vB = [vi.clone() for vi in v]
    vA = [torch.zeros_like(vi) for vi in v]
    u = torch.zeros_like(r_star)
    u_int = torch.zeros_like(r_star)
    tv, tvB, tr = [[vi] for vi in v], [[vi] for vi in vB], [[ri] for ri in r]
    for _ in range(steps):
        e = r_star - r[-1]
        u_int = u_int + dt * (e - alpha * u)
        u = u_int + k_p * e
        h = x
        for i in range(L):
            vB[i] = h @ W[i].t() + b[i]
            vA[i] = vA[i] + dt / dt * (-vA[i] + u @ Q[i].t())
            v[i] = v[i] + dt / tau_v * (-v[i] + vA[i] + vB[i])
            r[i] = act[i](v[i])
            h = r[i]
            tv[i].append(v[i])
            tvB[i].append(vB[i])
            tr[i].append(r[i])
    T, B = steps + 1, x.shape[0]
    out = []
    for i in range(L):
        delta = act[i](torch.stack(tv[i])) - act[i](torch.stack(tvB[i]))
        pre = x.expand(T, *x.shape) if i == 0 else torch.stack(tr[i - 1])
        out.append(torch.einsum("tbi,tbj->ij", delta, pre) / (B * T))
    return out


def bench(
    dtype: torch.dtype,
    steps: int,
    batch: int,
    repeats: int,
    compile_: bool,
    device: str = "cpu",
    plain_loop_too: bool = True,
) -> dict:
    model = dfc_model(SIZES, lam=LAM / batch, **CFG)
    model.probes = []  # nothing recorded: CUDA runs replay graphs of their segments
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, SIZES[0], generator=g).to(device, dtype)
    y = torch.nn.functional.one_hot(torch.arange(batch) % 10, 10).to(device, dtype)
    inputs = {"x.r": x, "ctrl.label": y}
    sim = TorchSimulator(model, device=device, dtype=dtype)
    p = sim.params
    names = ["x", "h1", "h2", "h3"]
    W = [p[f"{names[i]}_to_h{i + 1}_basal.W"] for i in range(4)]
    b = [p[f"{names[i]}_to_h{i + 1}_basal.b"] for i in range(4)]
    Q = [p[f"ctrl_to_h{i + 1}_apical.W"] for i in range(4)]
    box: dict = {}

    def ours(s: TorchSimulator = sim) -> None:
        s.reset(inputs)
        box["ours"] = s.run(steps, progress=False).updates

    def plain() -> None:
        box["plain"] = plain_loop(x, y, W, b, Q, steps, LAM / batch)

    peak_fn, peak_flops = matmul_peak_callable(dtype, device=device)
    fns = {"ours": ours, "peak": peak_fn}
    if plain_loop_too:
        fns["plain"] = plain
    if sim.fused:
        esim = TorchSimulator(model, device=device, dtype=dtype, fused=False)
        fns["eager"] = lambda: ours(esim)
    if compile_:
        csim = TorchSimulator(model, device=device, dtype=dtype, compile=True)
        fns["compiled"] = lambda: ours(csim)
    with torch.no_grad():
        times = interleaved(fns, repeats, device=device)
    flops = flops_per_sample(steps) * batch
    res: dict = {"seconds_per_sample": stats([t / batch for t in times["ours"]])}
    if plain_loop_too:
        err = max(
            float(
                (box["ours"][f"{names[i]}_to_h{i + 1}_basal.W"] - box["plain"][i]).norm()
                / box["plain"][i].norm()
            )
            for i in range(4)
        )
        res.update({
            "plain_seconds_per_sample": stats([t / batch for t in times["plain"]]),
            "speedup_vs_plain_loop": min(times["plain"]) / min(times["ours"]),
            "speedup_vs_plain_loop_median": stats(times["plain"])["median"]
            / stats(times["ours"])["median"],
            "updates_rel_err_vs_plain": err,
        })  # fmt: skip
    if "eager" in times:
        res["fused_speedup"] = stats(times["eager"])["median"] / stats(times["ours"])["median"]
        res["eager_seconds_per_sample"] = stats([t / batch for t in times["eager"]])
    res.update(
        {
            "matmul_peak_gflops": peak_flops / min(times["peak"]) / 1e9,
            "achieved_gflops": flops / min(times["ours"]) / 1e9,
            "fraction_of_matmul_peak": (flops / min(times["ours"]))
            / (peak_flops / min(times["peak"])),
            "fraction_of_matmul_peak_median": (flops / stats(times["ours"])["median"])
            / (peak_flops / stats(times["peak"])["median"]),
        }
    )
    if compile_:
        res["compiled_seconds_per_sample"] = stats([t / batch for t in times["compiled"]])
        res["compile_speedup"] = min(times["ours"]) / min(times["compiled"])
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="200 steps, 3 repeats (38 s at load 3, 96 s at load 17)",
    )
    ap.add_argument("--compile", action="store_true", help="also time compile=True")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain-loop baseline")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                    choices=["float32", "float64"])  # fmt: skip
    ap.add_argument("--json", type=str, default=None, help="write results to this path")
    add_device_argument(ap)
    args = ap.parse_args(argv)
    device = check_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = 199 if args.quick else 999
    repeats = args.repeats or (3 if args.quick else 5)
    out: dict = {
        "config": {"sizes": SIZES, "steps": steps, "batch": args.batch, "repeats": repeats, **CFG},
        "machine": machine(device),
    }
    rows = [
        (
            "dtype",
            "s/sample min",
            "s/sample med",
            "plain min",
            "speedup",
            "GFLOP/s",
            "peak GFLOP/s",
            "frac peak",
            "rel err",
            "fused x",
        )
    ]
    for tag in args.dtypes:
        dtype = getattr(torch, tag)
        progress(f"{tag}: {repeats} interleaved rounds (+1 warm-up) of the backend, the "
                 f"baselines and the matmul peak; {steps} steps, batch {args.batch}")  # fmt: skip
        r = bench(dtype, steps, args.batch, repeats, args.compile, device, not args.no_plain)
        out[tag] = r
        out[f"seconds_per_sample_{tag}"] = r["seconds_per_sample"]["min"]
        out[f"speedup_vs_plain_loop_{tag}"] = r.get("speedup_vs_plain_loop")
        out[f"fraction_of_matmul_peak_{tag}"] = r["fraction_of_matmul_peak"]
        if args.compile:
            out[f"compile_speedup_{tag}"] = r["compile_speedup"]
        rows.append(
            (
                tag,
                f"{r['seconds_per_sample']['min']:.2e}",
                f"{r['seconds_per_sample']['median']:.2e}",
                f"{r['plain_seconds_per_sample']['min']:.2e}"
                if "plain_seconds_per_sample" in r
                else "-",
                f"{r['speedup_vs_plain_loop']:.2f}x" if "speedup_vs_plain_loop" in r else "-",
                f"{r['achieved_gflops']:.1f}",
                f"{r['matmul_peak_gflops']:.1f}",
                f"{r['fraction_of_matmul_peak']:.2f}",
                f"{r['updates_rel_err_vs_plain']:.1e}" if "updates_rel_err_vs_plain" in r else "-",
                f"{r['fused_speedup']:.2f}x" if "fused_speedup" in r else "-",
            )
        )
    progress("done")
    print(table(rows))
    if args.compile:
        print(
            "compile=True speedup: "
            + ", ".join(f"{t} {out[f'compile_speedup_{t}']:.2f}x" for t in args.dtypes)
        )
    print(f"machine: {out['machine']}")
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
