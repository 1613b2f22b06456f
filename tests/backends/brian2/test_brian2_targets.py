"""Compiled targets (cython, cpp_standalone) agree with the numpy target and the reference.

Compiling takes minutes the first time (cython compiles one extension per code
object; standalone compiles one C++ project), hence ``slow`` + ``brian2_compile``.
"""

from __future__ import annotations

import b2_reference
import numpy as np
import pytest
from b2_models import autapse_model, dfc_model, random_inputs

from neurosim.backends.brian2 import Brian2Simulator, standalone_cache_dir
from neurosim.backends.brian2.targets import TARGETS

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
        ref, updates, _ = b2_reference.simulate(
            model, inputs, 100, kwargs.get("plasticity"), kwargs.get("lr", 0.0)
        )
        for k, v in res.traces.items():
            assert np.max(np.abs(v - ref[k])) <= RTOL * np.max(np.abs(ref[k])), k
        for k, v in res.updates.items():
            assert np.max(np.abs(v - updates[k])) <= RTOL * np.max(np.abs(updates[k])), k


def test_targets_are_listed_and_standalone_cache_is_keyed() -> None:
    assert TARGETS == ("numpy", "cython", "cpp_standalone")
    a, b = standalone_cache_dir("model A"), standalone_cache_dir("model B")
    assert a != b and a.parent == b.parent and a.parent.name == "brian2_standalone"
