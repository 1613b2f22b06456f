"""A DFC network described with the frontend and built by ``neurosim.build``, simulated by
TorchSimulator, against the literal DFC.md §1.2 loop (traces and eq. 5 updates)."""

from __future__ import annotations

import pytest
import torch
from dfc_reference_loop import controller_loop, time_integrated_gradients

from neurosim.backends.torch import TorchSimulator
from neurosim.testing import assert_allclose

neurosim = pytest.importorskip("neurosim")

SIZES = [6, 5, 4, 3]
ACTS = ["tanh", "tanh", "linear"]
F64 = torch.float64


def test_built_dfc_matches_reference_loop() -> None:
    net = neurosim.HierarchyBuilder(SIZES, plasticity="forward", seed=2).build()
    model = neurosim.build(net, dt=0.02)
    sim = TorchSimulator(model, dtype=F64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, SIZES[0], generator=g, dtype=F64)
    y = torch.randn(4, SIZES[-1], generator=g, dtype=F64)
    sim.reset({"x.r": x, "ctrl.label": y})
    r_star = sim.state["ctrl.target"].clone()
    p = sim.params
    W = [p[f"W{i}.W"] for i in (1, 2, 3)]
    b = [p[f"W{i}.b"] for i in (1, 2, 3)]
    Q = [p[f"Q{i}.W"] for i in (1, 2, 3)]
    T = 100
    res = sim.run(T - 1, record=[f"l{i}.v" for i in (1, 2, 3)] + ["ctrl.u"])
    alpha = next(op for op in model.step_ops if op.var == "ctrl.u_int").inputs[1][0]
    k_p = next(op for op in model.step_ops if op.var == "ctrl.u").inputs[1][0]
    tr = controller_loop(
        x,
        W,
        b,
        Q,
        ACTS,
        r_star,
        alpha=-alpha,
        k_p=k_p,
        dt=0.02,
        T=T,
        tau_v=0.2,
        tau_A=0.02,
        proactive=True,
    )
    for i in range(3):
        assert_allclose(res.traces[f"l{i + 1}.v"], tr.v[i], msg=f"l{i + 1}.v")
    assert_allclose(res.traces["ctrl.u"], tr.u)
    for i, (gW, _) in enumerate(time_integrated_gradients(x, tr, ACTS)):
        assert_allclose(res.updates[f"W{i + 1}.W"], -gW / 2, msg=f"W{i + 1}")
