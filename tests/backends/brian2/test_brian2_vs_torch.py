"""brian2 vs the torch backend on the same IR (``neurosim.testing.dfc_model``).

15-10-10-5 DFC with PI controller, batch 1, float64, noise off: trajectories and
weight changes (accumulated and online) within 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.backends.brian2 import Brian2Simulator

torch = pytest.importorskip("torch")
torch_backend = pytest.importorskip(
    "neurosim.backends.torch", reason="torch backend not available in this checkout"
)
testing = pytest.importorskip("neurosim.testing")

RTOL = 1e-9
RECORD = ["h1.v", "h2.v_apical", "h3.r", "ctrl.u", "ctrl.e"]


def _rel(a: np.ndarray, d: np.ndarray) -> float:
    return float(np.max(np.abs(a - d)) / max(np.max(np.abs(d)), 1e-300))


@pytest.mark.parametrize("plasticity", ["accumulate", "online"])
@pytest.mark.parametrize(
    "variant",
    [{}, {"proactive": False, "feedback_rule": True}, {"window": "last"}],
    ids=["dfc", "sleep-order+fb-rule", "dfc-ss"],
)
def test_brian2_matches_torch(variant: dict, plasticity: str) -> None:
    model = testing.dfc_model((15, 10, 10, 5), **variant)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1, 15)), np.eye(5)[[2]]
    b2sim = Brian2Simulator(model, "numpy")
    b2sim.reset({"x.r": x, "ctrl.label": y})
    b2res = b2sim.run(100, record=RECORD, plasticity=plasticity, lr=0.7)
    # the torch simulator may share (and update in place) the model's arrays: run it last
    tsim = torch_backend.TorchSimulator(model, dtype=torch.float64)
    tsim.reset({"x.r": torch.tensor(x), "ctrl.label": torch.tensor(y)})
    tres = tsim.run(100, record=RECORD, plasticity=plasticity, lr=0.7)
    for k in RECORD:
        assert _rel(b2res.traces[k], tres.traces[k].numpy()) <= RTOL, k
    assert set(b2res.updates) == set(tres.updates)
    for k, u in b2res.updates.items():
        assert _rel(u, tres.updates[k].numpy()) <= RTOL, k
