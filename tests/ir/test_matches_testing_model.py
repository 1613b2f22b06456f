"""The built IR behaves exactly like the hand-assembled ``neurosim.testing.dfc_model``
(the stand-in the backends were developed against), given the same weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import neurosim
from neurosim.circuits import PIController
from neurosim.ir import Model
from neurosim.ir.reference import simulate
from neurosim.testing import dfc_model

SIZES, T = (4, 5, 3, 2), 40


def _rename(i: int, pre: str) -> dict[str, str]:
    return {
        f"W{i}.W": f"{pre}_to_h{i}_basal.W",
        f"W{i}.b": f"{pre}_to_h{i}_basal.b",
        f"Q{i}.W": f"ctrl_to_h{i}_apical.W",
    }


def _with_weights(ref: Model, ours: Model) -> Model:
    names: dict[str, str] = {}
    for i in range(1, len(SIZES)):
        names |= _rename(i, "x" if i == 1 else f"h{i - 1}")
    variables = dict(ref.variables)
    for mine, theirs in names.items():
        value = ours.variables[mine].value
        variables[theirs] = dataclasses.replace(ref.variables[theirs], value=value)
    return Model(variables, ref.init_ops, ref.step_ops, ref.dt, [], ref.meta)


@pytest.mark.parametrize("proactive", [True, False])
@pytest.mark.parametrize("sleep", [False, True])
def test_same_trajectories_and_updates_as_testing_dfc_model(proactive, sleep):
    kw = dict(dt=0.02, tau_v=0.2, alpha=0.01, k_p=1.5, lam=0.3, proactive=proactive)
    ctrl = PIController(k_p=1.5, alpha=0.01, lam=0.3, loss="cross_entropy", proactive=proactive)
    builder = neurosim.HierarchyBuilder(
        SIZES, controller=ctrl, tau_v=0.2, plasticity="feedback" if sleep else "forward"
    )
    ours = neurosim.build(builder.build(), dt=0.02)
    ref = _with_weights(dfc_model(SIZES, loss="cross_entropy", feedback_rule=sleep, **kw), ours)
    rng = np.random.default_rng(3)
    inputs = {"x.r": rng.normal(size=(4, 4)), "ctrl.label": np.eye(2)[rng.integers(2, size=4)]}
    t_ours, u_ours, _ = simulate(ours, inputs, T - 1, "accumulate")
    t_ref, u_ref, _ = simulate(ref, inputs, T - 1, "accumulate")
    for i in range(1, len(SIZES)):
        for comp in ("v", "v_basal", "v_apical", "r"):
            np.testing.assert_allclose(
                t_ours[f"l{i}.{comp}"], t_ref[f"h{i}.{comp}"], rtol=1e-12, atol=1e-13
            )
    np.testing.assert_allclose(t_ours["ctrl.u"], t_ref["ctrl.u"], rtol=1e-12, atol=1e-13)
    names = {}
    for i in range(1, len(SIZES)):
        names |= _rename(i, "x" if i == 1 else f"h{i - 1}")
    assert set(u_ours) == {k for k, v in names.items() if v in u_ref}
    for mine in u_ours:
        np.testing.assert_allclose(u_ours[mine], u_ref[names[mine]], rtol=1e-11, atol=1e-13)
