"""Shared helpers of the benchmark scripts: timing, matmul peak, JSON output.

Every benchmark measures what it compares *in the same run* (interleaved rounds), so
ratios stay meaningful on a shared, noisy machine; it reports the minimum (the
least-disturbed round) and the median of the repeats.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

# neurosim first: importing it sets OpenMP's passive wait policy before torch loads
# (neurosim/_threads.py), as the `neurosim` command does
import neurosim  # noqa: F401  isort: skip
import torch

_START = time.perf_counter()


def progress(message: str) -> None:
    """Print ``[elapsed] message`` at once: what a long benchmark is doing and since when
    (seconds since this module was imported, i.e. about since the script started)."""
    print(f"[{time.perf_counter() - _START:7.1f} s] {message}", flush=True)


def sync(device: str | torch.device | None) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously): every clock
    read of a benchmark comes after this."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: str | torch.device | None = None) -> float:
    """Wall-clock seconds of one call of ``fn`` (CUDA synchronised before each read)."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def repeat(
    fn: Callable[[], object], n: int, warmup: int = 1, device: str | torch.device | None = None
) -> list[float]:
    """Seconds of ``n`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    return [timed(fn, device) for _ in range(n)]


def interleaved(
    fns: dict[str, Callable[[], object]],
    n: int,
    warmup: int = 1,
    device: str | torch.device | None = None,
) -> dict[str, list[float]]:
    """Time several functions in ``n`` interleaved rounds (A B C A B C ...), so that
    a load change on a shared machine affects all of them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(n):
        for k, fn in fns.items():
            out[k].append(timed(fn, device))
    return out


def add_device_argument(parser: object) -> None:
    """The ``--device`` option every benchmark takes."""
    parser.add_argument(  # type: ignore[attr-defined]
        "--device", default="cpu", help="cpu | cuda | cuda:N (CUDA timings synchronised)"
    )


def check_device(device: str) -> str:
    """``device`` if torch can use it, else a SystemExit naming what to do."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            f"--device {device}: this torch ({torch.__version__}) has no CUDA device; "
            "install a CUDA build of torch or use --device cpu"
        )
    return device


def stats(times: list[float]) -> dict[str, float]:
    """``{"min": ..., "median": ...}`` of a list of seconds."""
    return {"min": min(times), "median": statistics.median(times)}


def matmul_flops(m: int, k: int, n: int) -> int:
    """FLOPs of an (m, k) @ (k, n) product (one multiply and one add per term)."""
    return 2 * m * k * n


def matmul_peak_callable(dtype: torch.dtype, size: int = 1024, device: str = "cpu"):
    """A function doing ``reps`` square matmuls and its FLOP count (for :func:`interleaved`)."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, generator=g, dtype=dtype, device=device)
    b = torch.randn(size, size, generator=g, dtype=dtype, device=device)
    out = torch.empty_like(a)
    reps = 4

    def run() -> None:
        for _ in range(reps):
            torch.mm(a, b, out=out)

    return run, reps * matmul_flops(size, size, size)


def matmul_peak(dtype: torch.dtype, size: int = 1024, n: int = 5, device: str = "cpu") -> float:
    """Best dense matmul rate (FLOP/s) of this machine now, for ``dtype``."""
    fn, flops = matmul_peak_callable(dtype, size, device)
    return flops / min(repeat(fn, n, device=device))


def matmul_peak_gflops(
    dtype: torch.dtype, size: int = 1024, n: int = 5, device: str = "cpu"
) -> float:
    """:func:`matmul_peak` in GFLOP/s."""
    return matmul_peak(dtype, size, n, device) / 1e9


def machine(device: str = "cpu") -> dict[str, object]:
    """What the numbers were measured on (threads, load: the machine may be shared)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    out: dict[str, object] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "loadavg_1min": load[0],
        "device": str(device),
    }
    if torch.device(device).type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def peak_memory_reset(device: str | torch.device = "cpu") -> None:
    """Start a new peak-memory window: the process's resident high-water mark (Linux:
    ``/proc/self/clear_refs``) and CUDA's max allocated bytes."""
    with contextlib.suppress(OSError):  # not Linux: the window starts at process start
        Path("/proc/self/clear_refs").write_text("5")
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: str | torch.device = "cpu") -> dict[str, float | None]:
    """Peak resident memory (MiB) since :func:`peak_memory_reset` and, on CUDA, the peak
    of ``torch.cuda.max_memory_allocated`` (MiB)."""
    rss = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
    except OSError:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cuda = None
    if torch.device(device).type == "cuda":
        cuda = torch.cuda.max_memory_allocated(device) / 2**20
    return {"peak_rss_mib": rss, "cuda_max_allocated_mib": cuda}


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as indented JSON (parents created)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned text table of string rows (first row: header)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
