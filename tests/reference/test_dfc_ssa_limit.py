"""DFC-SSA (closed form) against DFC-SS (simulated on the torch backend): the
linearised steady state is exact to first order in lambda (DFC.md §1.4), so the two
updates align as lambda -> 0."""

from __future__ import annotations

import pytest
import torch

from neurosim.models import diagnostics as diag
from neurosim.models import registry
from neurosim.models.base import Task

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _angle(lam: float) -> float:
    params = {
        "size_hidden": [6, 5],
        "target_stepsize": lam,
        "lr": 1e-3 * lam,
        "alpha_di": 1e-3,
        "k_p": 2.0,
        "dt_di": 0.02,
        "tmax_di": 1500,
        "time_constant_ratio": 0.2,
        "include_non_converged_samples": True,
    }
    task = Task("classification", 7, 3)
    ss = registry.create("dfc-ss-fixed", task, params, seed=3)
    ssa = registry.create("dfc-ssa-fixed", task, params, seed=3)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 7, generator=g, dtype=DT)
    y = torch.randint(0, 3, (6,), generator=g)
    up_ss = [(-a, -b) for a, b in ss.forward_gradients(x, y)[0]]
    up_ssa = [(-a, -b) for a, b in ssa.forward_gradients(x, y)[0]]
    return max(diag.layer_angles(up_ss, up_ssa))


def test_ssa_update_equals_simulated_ss_update_in_small_lambda_limit():
    angles = [_angle(lam) for lam in (1.0, 0.1, 0.01)]
    assert angles[2] < angles[1] < angles[0]
    assert angles[2] < 0.1  # degrees
