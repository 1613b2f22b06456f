"""Code-generation targets and devices: numpy, cython (runtime) and cpp_standalone.

brian2 separates the *device* (where state lives: runtime Python vs a standalone
C++ project) from the *codegen target* (numpy, cython). neurosim exposes the three
useful combinations as one ``target`` string.

Caches
------
* ``cython``: brian2's extension cache, ``prefs.codegen.runtime.cython.cache_dir``
  (default ``~/.cython/brian_extensions``); compiled once per distinct code object.
* ``cpp_standalone``: one C++ project per model structure under
  :func:`standalone_cache_dir` (``<user cache>/neurosim/brian2_standalone/<hash>``);
  ``make`` only recompiles files whose generated code changed.

What a target cannot do is refused, never silently ignored. ``cpp_standalone`` runs
the whole simulation in one compiled binary: brian2 silently drops a
``network_operation`` there (it has no code object), and it has no ``store``/
``restore`` and no access to the state while the binary runs. neurosim therefore

* refuses a Python ``callback`` during a run on ``cpp_standalone``
  (:func:`check_callback`; on numpy/cython it is a ``network_operation``);
* never calls brian2's ``store``/``restore`` or runs twice in one build: each
  :meth:`~neurosim.backends.brian2.Brian2Simulator.run` is one build and one brian2
  ``run``, and what must survive it (weights, biases, the final state) is read back
  into Python after the run on every target;
* refuses to run the same loaded inputs twice, on every target: a brian2 run starts
  from the init ops and cannot continue the previous one.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import brian2 as b2

TARGETS = ("numpy", "cython", "cpp_standalone")


def check_target(target: str) -> str:
    """Validate a target name (and that its compiler toolchain is importable)."""
    if target not in TARGETS:
        raise ValueError(f"Brian2Simulator: target={target!r}; use one of {TARGETS}")
    if target == "cython":
        try:
            import Cython  # noqa: F401
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "Brian2Simulator: target='cython' needs the Cython package; "
                "pip install cython, or use target='numpy'"
            ) from err
    return target


def standalone_cache_dir(key: str) -> Path:
    """Project directory of a standalone build: the neurosim cache, one per structure.

    ``NEUROSIM_BRIAN2_CACHE`` overrides the root ``<user cache>/neurosim/brian2_standalone``.
    """
    import platformdirs

    env = os.environ.get("NEUROSIM_BRIAN2_CACHE")
    root = Path(env) if env else Path(platformdirs.user_cache_dir("neurosim")) / "brian2_standalone"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return root / digest


#: ``run(net, duration, namespace, report=None, report_period=10.0)``
Runner = Callable[..., tuple[float, float]]


def check_callback(target: str, callback: object, every: int) -> None:
    """Refuse a Python callback on ``cpp_standalone`` (brian2 would silently skip the
    ``network_operation``) and a bad ``every``."""
    if callback is None:
        return
    if not callable(callback):
        raise TypeError(f"Brian2Simulator: callback={callback!r} is not callable")
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"Brian2Simulator: callback_every={every!r}; give an int >= 1")
    if target == "cpp_standalone":
        raise ValueError(
            "Brian2Simulator: target='cpp_standalone' cannot call Python during a run "
            "(the compiled binary has no network_operation; brian2 would silently skip "
            "it); use target='numpy' or 'cython' for callbacks, or record the variables "
            "(record=[...]) and inspect the traces after the run"
        )


@contextmanager
def device(target: str, project_key: str = "") -> Iterator[Runner]:
    """Activate ``target`` while brian2 objects are created and run.

    Yields ``run(net, duration, namespace, report=None, report_period=10.0) ->
    (total_seconds, run_seconds)`` (``report``, ``report_period`` in wall-clock seconds:
    brian2's own progress report, see :meth:`brian2.Network.run`); for
    ``cpp_standalone`` it also builds, compiles and executes the project, so monitors
    can be read right after it, and ``run_seconds`` is the binary's own simulation
    time (the rest is code generation and compilation). Runtime targets report
    ``run_seconds = total_seconds`` (their code generation and, for cython, cached
    compilation happen inside ``Network.run``). The runtime device is restored on exit.
    """
    check_target(target)
    if target != "cpp_standalone":
        b2.set_device("runtime")
        b2.prefs.codegen.target = target

        def run_runtime(
            net: b2.Network, duration: b2.Quantity, ns: dict, report=None, report_period=10.0
        ) -> tuple[float, float]:
            t0 = time.perf_counter()
            net.run(duration, namespace=ns, report=report, report_period=report_period * b2.second)
            total = time.perf_counter() - t0
            return total, total

        yield run_runtime
        return
    # brian2 suffixes the names of code objects whose previous namesakes are still
    # alive (``a0_x_codeobject_1``), which changes every file and forces a full
    # recompile: collect the objects of earlier runs first so names are stable.
    gc.collect()
    directory = standalone_cache_dir(project_key)
    directory.mkdir(parents=True, exist_ok=True)
    b2.set_device("cpp_standalone", directory=str(directory), build_on_run=False)
    # brian2's default "make -j" starts one compiler per source file at once (~40 for an
    # MNIST-size circuit): on a small or shared machine that swamps every core. A value
    # the user set is kept.
    make_args = b2.prefs.devices.cpp_standalone
    if list(make_args.extra_make_args_unix) == ["-j"]:
        make_args.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]

    def run(
        net: b2.Network, duration: b2.Quantity, ns: dict, report=None, report_period=10.0
    ) -> tuple[float, float]:
        t0 = time.perf_counter()
        net.run(duration, namespace=ns, report=report, report_period=report_period * b2.second)
        with_output = report is not None  # the binary prints brian2's progress report
        b2.device.build(directory=str(directory), compile=True, run=True, with_output=with_output)
        return time.perf_counter() - t0, float(b2.device._last_run_time)

    try:
        yield run
    finally:
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
