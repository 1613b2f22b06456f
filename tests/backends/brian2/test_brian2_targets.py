"""Targets: compiled ones (cython, cpp_standalone) agree with the numpy reference, and
what a target cannot do is refused with an error that names the fix.

Compiling takes minutes the first time (cython compiles one extension per code
object; standalone compiles one C++ project), hence ``slow`` + ``brian2_compile``.
"""

from __future__ import annotations

import numpy as np
import pytest
from b2_models import autapse_model, dfc_model, random_inputs

from neurosim.backends.brian2 import Brian2Simulator, standalone_cache_dir
from neurosim.backends.brian2.targets import TARGETS
from neurosim.ir import reference

RTOL = 1e-9


@pytest.mark.slow
@pytest.mark.brian2_compile
@pytest.mark.parametrize("target", ["cython", "cpp_standalone"])
def test_compiled_target_matches_reference(target: str) -> None:
    for model, kwargs in ((dfc_model(), {"plasticity": "online", "lr": 0.3}),
                          (autapse_model(), {})):  # fmt: skip
        inputs = random_inputs(model)
        sim = Brian2Simulator(model, target)
        sim.reset(inputs)
        res = sim.run(100, **kwargs)
        ref, updates, _ = reference.simulate(
            model, inputs, 100, kwargs.get("plasticity"), kwargs.get("lr", 0.0)
        )
        for k, v in res.traces.items():
            assert np.max(np.abs(v - ref[k])) <= RTOL * np.max(np.abs(ref[k])), k
        for k, v in res.updates.items():
            assert np.max(np.abs(v - updates[k])) <= RTOL * np.max(np.abs(updates[k])), k
        # the final state is read back after the run on every target (standalone too)
        for k, v in res.traces.items():
            np.testing.assert_array_equal(sim.state[k], v[-1])


def test_targets_are_listed_and_standalone_cache_is_keyed() -> None:
    assert TARGETS == ("numpy", "cython", "cpp_standalone")
    a, b = standalone_cache_dir("model A"), standalone_cache_dir("model B")
    assert a != b and a.parent == b.parent and a.parent.name == "brian2_standalone"


def test_callback_sees_the_live_state_on_runtime_targets() -> None:
    """``callback`` is a brian2 ``network_operation``: at steps 0, k, 2k, ... it sees the
    state the traces record (the init state at step 0)."""
    model = dfc_model()
    sim = Brian2Simulator(model, "numpy")
    sim.reset(random_inputs(model))
    seen = []
    res = sim.run(10, plasticity="online", lr=0.5, callback_every=4,
                  callback=lambda s, k, state: seen.append((s, k, state["h1.v"])))  # fmt: skip
    assert [(s, k) for s, k, _ in seen] == [(0, 0), (0, 4), (0, 8)]
    for _, k, v in seen:
        np.testing.assert_array_equal(v, res.traces["h1.v"][k])


def test_standalone_refuses_a_callback_before_building(tmp_path, monkeypatch) -> None:
    """brian2 silently skips a ``network_operation`` in standalone mode: refused, with
    the fix, before anything is generated or compiled."""
    monkeypatch.setenv("NEUROSIM_BRIAN2_CACHE", str(tmp_path))
    model = autapse_model()
    sim = Brian2Simulator(model, "cpp_standalone")
    block = {k: v[None] for k, v in random_inputs(model).items()}
    with pytest.raises(ValueError, match="cpp_standalone' cannot call Python.*target='numpy'"):
        sim.run_samples(block, 5, callback=lambda *a: None)
    assert not any(tmp_path.iterdir())  # nothing built
    with pytest.raises(ValueError, match="callback_every=0"):
        Brian2Simulator(model, "numpy").run_samples(block, 5, callback=print, callback_every=0)


def test_a_run_never_silently_restarts() -> None:
    """A brian2 run starts from the init ops; a second run() of the same loaded inputs
    (which would continue in torch) is refused on every target; reset() restarts, and
    the state between runs is the final state of the last run."""
    model = autapse_model()
    inputs = random_inputs(model)
    sim = Brian2Simulator(model, "numpy")
    sim.reset(inputs)
    first = sim.run(20).traces["ai.x"]
    np.testing.assert_array_equal(sim.state["ai.x"], first[-1])
    with pytest.raises(RuntimeError, match="cannot continue the previous one.*reset"):
        sim.run(20)
    sim.reset(inputs)
    np.testing.assert_array_equal(sim.run(20).traces["ai.x"], first)


def test_standalone_make_uses_at_most_one_job_per_core(tmp_path, monkeypatch) -> None:
    """brian2's default ``make -j`` starts every compiler at once; neurosim bounds it by
    the core count, and keeps a value the user set."""
    import os

    import brian2 as b2

    from neurosim.backends.brian2.targets import device

    monkeypatch.setenv("NEUROSIM_BRIAN2_CACHE", str(tmp_path))
    prefs = b2.prefs.devices.cpp_standalone
    before = list(prefs.extra_make_args_unix)
    try:
        prefs.extra_make_args_unix = ["-j"]
        with device("cpp_standalone", "make-jobs"):
            assert list(prefs.extra_make_args_unix) == [f"-j{os.cpu_count() or 1}"]
        prefs.extra_make_args_unix = ["-j3"]
        with device("cpp_standalone", "make-jobs"):
            assert list(prefs.extra_make_args_unix) == ["-j3"]
    finally:
        prefs.extra_make_args_unix = before
        b2.set_device("runtime")
