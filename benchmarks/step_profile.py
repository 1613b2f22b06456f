"""Where the time of one simulated Euler step goes, torch call by torch call.

The generated step of a DFC phase circuit (the model's paper MNIST config) is cut
into its statements; each is timed alone, many times in a row, on one shard's rows
(``--rows``, 64 = a 128 batch on 2 cores) with one intra-op thread. Statements with a
matrix product are *matmul*, calls of a fused C kernel (``K3(...)``,
:mod:`neurosim.backends.torch.fused`) *fused*, the rest *elementwise* torch calls.
``--eager`` profiles the unfused step (one torch call per op). The whole step is
then timed on one thread, and on ``--side-by-side`` threads at once, each with its
own copy of the state, as the shard workers run it: the ratio is what the threads
cost each other (the GIL taken around every torch call).

The sum of the lines is the step without Python's loop and the lines' interplay;
the table says how far elementwise work and call overhead are from the matmuls.

Usage::

    python benchmarks/step_profile.py [--model dfc-ss] [--phase forward|sleep]
        [--rows 64] [--dtype float64] [--eager] [--side-by-side 2] [--json out.json]

Run time (one thread, on the shared 2-core CPU of development at the load average given;
longer on a busier machine): full (400 calls per line, 200 steps) 29 s at load 16;
--quick (50 calls, 20 steps) 14 s at load 5.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# neurosim first: importing it sets OpenMP's passive wait policy before torch loads
# (neurosim/_threads.py), as the `neurosim` command does
import neurosim  # noqa: F401  isort: skip
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, progress, table, write_json  # noqa: E402
from benchmarks.train_epoch import mnist_or_synthetic  # noqa: E402
from neurosim.backends.torch import TorchSimulator  # noqa: E402
from neurosim.models import registry  # noqa: E402
from neurosim.models.base import Task  # noqa: E402
from neurosim.models.dfc.network import feedforward  # noqa: E402
from neurosim.models.dfc.simulation import phase_circuit  # noqa: E402
from neurosim.models.dfc.steady_state import target_shift  # noqa: E402
from neurosim.training.config import default_config  # noqa: E402

SIMULATED = ("dfc", "dfc-ss", "dfc-fixed", "dfc-ss-fixed", "dfc-ssa")
MATMUL = re.compile(r"\b(?:addmm|mm|matmul)\b")
KERNEL = re.compile(r"^K\d+\(")


def per_call_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Least microseconds per call of ``fn`` over ``repeats`` rounds of ``calls``."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def bound_step(model: Any, phase: str, rows: int, dtype: torch.dtype, fused: bool | None):
    """The phase's program bound to ``rows`` samples and the arguments of its step."""
    X, y, source = mnist_or_synthetic(rows)
    X = X.to(dtype)
    pc = phase_circuit(model, phase)
    # one program for all rows (no shards), fused (None: the default) or eager
    pc.sim = TorchSimulator(pc.ir, dtype=dtype, params=pc.sim.params, fused=fused, threads=1)
    W, b, _ = model._tensors()
    with torch.no_grad():
        _, rs = feedforward(X, W, b, model.cfg.activations)
        # the circuits run in deviations from the feedforward point: the label is the
        # target shift (0 in the sleep phase)
        label = (
            target_shift(rs[-1], y, model.task.kind, model.cfg.target_stepsize)
            if phase == "forward"
            else torch.zeros_like(rs[-1])
        )
    sim = pc.sim
    sim.reset({pc.names.input: X, pc.names.label: label})
    sim.run(3, plasticity="accumulate", progress=False)  # allocates the rule buffers
    prog = sim._program("accumulate")
    sim._bind(prog, rows=(0, rows))
    prog.hoist()
    prog.prepare()  # the operating-point constants for these rows
    prog.bind_kernels(sim.params, rows)
    g = torch.Generator().manual_seed(0)
    noise = tuple(torch.randn(rows, n, generator=g, dtype=dtype) for _, _, n in prog.noise)
    return prog, prog.slot_args(0) + noise, source, sim.params


def statements(body: str) -> list[str]:
    """The step body's statements (an ``if``/``else`` block is one statement)."""
    out: list[str] = []
    for line in body.splitlines():
        code = line[4:] if line.startswith("    ") else line
        if not code.strip() or code.strip().startswith("#") or code.startswith("def "):
            continue
        if out and (code.startswith(" ") or code.startswith("else")):
            out[-1] += "\n" + code
        else:
            out.append(code)
    return out


def line_table(prog: Any, args: tuple, calls: int, repeats: int) -> list[tuple[str, float]]:
    """``(statement, microseconds)`` of every statement of the generated step."""
    head, body = prog.source.split("def step(")[1].split("\n", 1)
    names = [a.strip() for a in head.split(")")[0].split(",") if a.strip()]
    ns = dict(prog.ns, **dict(zip(names, args, strict=True)))
    out = []
    for code in statements(body.split("\ndef ")[0]):
        env = dict(ns)
        exec("def f():\n" + "".join(f"    {ln}\n" for ln in code.splitlines()), env)
        out.append((code.replace("\n", "; "), per_call_us(env["f"], calls, repeats)))
    return out


def side_by_side_us(
    prog: Any, args: tuple, k: int, steps: int, repeats: int, params: dict, rows: int
) -> list[float]:
    """Microseconds per step of ``k`` threads running the step at once, each on its
    own copy of the per-sample tensors (one intra-op thread each), least of
    ``repeats`` rounds."""
    step_src = "def step(" + prog.source.split("def step(")[1]
    copies = []
    for _ in range(k):
        env = {
            n: v.clone() if isinstance(v, torch.Tensor) and not n.startswith("t_") else v
            for n, v in prog.ns.items()
        }
        if prog.kernels is not None:  # the kernels' pointers: this copy's tensors
            prog.kernels.bind(env, params, rows)
        exec(step_src, env)
        copies.append((env["step"], tuple(a.clone() for a in args)))
    best = [float("inf")] * k

    def work(i: int) -> None:
        torch.set_num_threads(1)
        fn, a = copies[i]
        fn(*a)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn(*a)
        best[i] = min(best[i], (time.perf_counter() - t0) / steps * 1e6)

    for _ in range(repeats):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="dfc-ss", choices=SIMULATED)
    p.add_argument("--phase", default="forward", choices=("forward", "sleep"))
    p.add_argument("--rows", type=int, default=64, help="samples of one shard")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--eager", action="store_true", help="the unfused step (torch calls)")
    p.add_argument("--side-by-side", type=int, default=2, help="threads stepping at once")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="fewer calls per measurement (about 15 s)")
    p.add_argument("--json", type=Path, help="write the table and totals here")
    args = p.parse_args(argv)
    if args.model == "dfc-ssa" and args.phase == "forward":
        p.error("dfc-ssa has no simulated forward phase (closed form); use --phase sleep")
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)
    cfg = default_config(args.model, "mnist")
    model = registry.create(args.model, Task("classification", 784, 10), cfg.model_params(),
                            dtype=dtype, seed=cfg.seed)  # fmt: skip
    if args.phase == "sleep" and not model.has_feedback_phase:
        p.error(f"{args.model} has frozen feedback weights: no sleep phase")
    calls, steps = (50, 20) if args.quick else (400, 200)
    fused = False if args.eager else None
    prog, step_args, source, params = bound_step(model, args.phase, args.rows, dtype, fused)
    progress(f"timing each line of the step: {calls} calls x {args.repeats} rounds")
    lines = line_table(prog, step_args, calls, args.repeats)
    progress(f"timing the whole step: {steps} steps x {args.repeats} rounds, alone and "
             f"{args.side_by_side} threads side by side")  # fmt: skip
    whole = per_call_us(lambda: prog.step(*step_args), steps, args.repeats)
    side = side_by_side_us(prog, step_args, args.side_by_side, steps, args.repeats, params,
                           args.rows)  # fmt: skip
    progress("done")
    mm = sum(us for code, us in lines if MATMUL.search(code))
    kern = sum(us for code, us in lines if KERNEL.match(code))
    total = sum(us for _, us in lines)
    rows = [("us", "share", "line")]
    rows += [(f"{us:.2f}", f"{us / total:.1%}", code[:100]) for code, us in lines]
    print(f"{args.model} {args.phase} step, {args.rows} rows, {args.dtype}, 1 thread; "
          f"data: {source}")  # fmt: skip
    print(table(rows))
    summary = {
        "lines_us": total,
        "matmul_us": mm,
        "fused_us": kern,
        "elementwise_us": total - mm - kern,
        "calls": sum(prog.calls.values()),
        "fused_kernels": len(prog.kernels.segments) if prog.kernels else 0,
        "step_us_one_thread": whole,
        "step_us_side_by_side": side,
        "side_by_side_slowdown": statistics.median(side) / whole,
    }
    print(f"\nsum of statements {total:.1f} us: matmul {mm:.1f} ({mm / total:.0%}), fused "
          f"kernels {kern:.1f} ({summary['fused_kernels']} calls), elementwise "
          f"{summary['elementwise_us']:.1f} in {summary['calls']} torch calls")  # fmt: skip
    print(f"whole step: {whole:.1f} us on one thread; {args.side_by_side} threads side by side: "
          + ", ".join(f"{s:.1f}" for s in side)
          + f" us ({summary['side_by_side_slowdown']:.2f}x)")  # fmt: skip
    if args.json:
        write_json(args.json, {
            "what": f"{args.model} {args.phase} step profile (least us of {args.repeats} rounds)",
            "rows": args.rows, "dtype": args.dtype, "data": source, "machine": machine(),
            "lines": [{"line": c, "us": us} for c, us in lines], **summary,
        })  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
