"""``compile=True``: torch.compile of the generated step gives the same results."""

from __future__ import annotations

import pytest
import torch
from torch_models import dfc, dfc_inputs

from neurosim.backends.torch import TorchSimulator
from neurosim.testing import assert_allclose


@pytest.mark.slow
def test_compiled_step_matches_eager() -> None:
    model, ins = dfc(sigma=0.05), dfc_inputs(3)
    res = []
    for comp in (False, True):
        sim = TorchSimulator(model, dtype=torch.float64, compile=comp)
        sim.reset(ins)
        res.append(sim.run(40, record=["h1.v", "ctrl.u"]))
    assert "torch.compile" in sim.describe_plan()
    for k in ("h1.v", "ctrl.u"):
        assert_allclose(res[1].traces[k], res[0].traces[k], rtol_scale=16, msg=k)
    for p, u in res[0].updates.items():
        assert_allclose(res[1].updates[p], u, rtol_scale=16, msg=p)
