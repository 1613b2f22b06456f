"""Build, cache and load the C step kernels of :mod:`~neurosim.backends.torch.fused`.

The kernels are plain C (no torch or Python headers), so they compile in well under a
second with the system C compiler (the one brian2's compiled targets use) and are
called through :mod:`ctypes`, which releases the GIL: shard threads run them side by
side. Each source is compiled once and kept in the kernel cache, keyed by a hash of
the source, the compiler's version and the flags:

* ``$NEUROSIM_KERNEL_CACHE`` if set, else ``platformdirs.user_cache_dir("neurosim")``
  ``/kernels`` (on Linux ``~/.cache/neurosim/kernels``).

Without a C compiler (``$CC``, else ``cc``/``gcc``/``clang`` on ``PATH``) or when a
build fails, :func:`load` returns ``None`` after a one-line notice on stderr and the
simulator keeps its eager torch step.

Flags: ``-O3 -march=native -mprefer-vector-width=512`` (the widest vector units:
libmvec's AVX-512 ``tanh`` runs as fast as torch's, its AVX2 one 1.5x slower),
``-fopenmp-simd`` and glibc's vector math library (``libmvec``: ``exp``, ``tanh``,
``expm1``, ``log1p`` over whole registers, within 4 ulp), ``-fno-math-errno -fno-trapping-math``; no
``-ffast-math``: the kernels' formulas are evaluated as written (IEEE semantics,
no reassociation).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from platformdirs import user_cache_dir

CACHE_ENV = "NEUROSIM_KERNEL_CACHE"
FLAGS = (
    "-O3", "-march=native", "-mprefer-vector-width=512", "-fPIC", "-shared", "-std=gnu11",
    "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math",
)  # fmt: skip
LIBS = ("-lmvec", "-lm")

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}
_noticed: set[str] = set()
#: seconds spent compiling (not loading from the cache) in this process, by source hash
compile_seconds: dict[str, float] = {}


def cache_dir() -> Path:
    """Where compiled kernels are kept."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(user_cache_dir("neurosim")) / "kernels"


def compiler() -> str | None:
    """The C compiler to use (``$CC``, else the first of cc, gcc, clang), or None."""
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc)
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _version(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else cc
    except (OSError, subprocess.SubprocessError):
        return cc


def notice(key: str, text: str) -> None:
    """Print ``text`` on stderr once per process and ``key``."""
    if key not in _noticed:
        _noticed.add(key)
        print(f"neurosim: {text}", file=sys.stderr)


def _build(source: str, cc: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / "kernel.c"
        src.write_text(source)
        out = Path(tmp) / target.name
        cmd = [cc, *FLAGS, str(src), "-o", str(out), *LIBS]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            raise RuntimeError(res.stderr.strip().splitlines()[-1] if res.stderr else "failed")
        os.replace(out, target)  # atomic: a concurrent process sees all or nothing


def load(source: str) -> ctypes.CDLL | None:
    """The shared library compiled from ``source`` (cached), or None with a notice
    when no compiler is available or the build fails."""
    cc = compiler()
    if cc is None:
        notice("no-cc", "no C compiler found ($CC, cc, gcc, clang); the torch step runs "
                        "unfused (eager torch ops)")  # fmt: skip
        return None
    key = hashlib.sha256("\0".join([source, _version(cc), *FLAGS]).encode()).hexdigest()[:24]
    with _lock:
        if key in _loaded:
            return _loaded[key]
        target = cache_dir() / f"nsk_{key}.so"
        lib = None
        try:
            if not target.exists():
                t0 = time.perf_counter()
                _build(source, cc, target)
                compile_seconds[key] = time.perf_counter() - t0
                took = compile_seconds[key]  # the first build of the process says so
                notice("built", f"compiling fused step kernels ({took:.1f} s for the first; "
                                f"cached in {cache_dir()})")  # fmt: skip
            lib = ctypes.CDLL(str(target))
        except (OSError, RuntimeError, subprocess.SubprocessError) as err:
            notice(f"build-{key}", f"could not build the fused step kernels with {cc} ({err}); "
                                   "the torch step runs unfused")  # fmt: skip
        _loaded[key] = lib
        return lib
