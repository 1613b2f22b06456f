"""The CUDA path gives the CPU's results (runs only where CUDA is available).

* the torch simulator on CUDA (CUDA-graph segments on, the default there) against the
  CPU run of the same noise-free circuit: traces and accumulated updates agree within
  the dtype's tolerance;
* the DFC family's forward-weight updates (deviation form, every variant) on CUDA
  against the CPU, float64 and float32.

Noisy runs are not compared sample by sample: the CUDA and CPU generators draw
different streams (their statistics are the backend tests' business).
"""

from __future__ import annotations

import pytest
import torch
from torch_models import dfc, dfc_inputs

from neurosim.backends.torch import TorchSimulator
from neurosim.backends.torch import runner as runmod
from neurosim.models import registry
from neurosim.models.base import Task
from neurosim.testing import assert_allclose

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA device: the CUDA-vs-CPU equivalence needs a GPU (run benchmarks/gpu_check.sh)",
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_simulator_on_cuda_with_graphs_matches_cpu(
    dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runmod, "GRAPH_STEPS", 8)
    model = dfc(window="all")
    model.probes = []
    res = {}
    for device in ("cpu", "cuda"):
        sim = TorchSimulator(model, device=device, dtype=dtype)
        sim.reset(dfc_inputs(16, dtype=dtype, device=device))
        res[device] = (sim.run(80), sim.state["h2.v"].cpu())
    assert res["cuda"][0].replays > 0  # graphs were replayed
    assert_allclose(res["cuda"][1], res["cpu"][1], dtype=dtype, rtol_scale=16)
    for p, u in res["cpu"][0].updates.items():
        assert_allclose(res["cuda"][0].updates[p].cpu(), u, dtype=dtype, rtol_scale=16, msg=p)


@pytest.mark.parametrize("name", ["dfc", "dfc-ss", "dfc-ssa", "dfc-ssa-fixed"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_dfc_updates_on_cuda_match_cpu(name: str, dtype: torch.dtype) -> None:
    params = {"size_hidden": [24, 16], "tmax_di": 120, "include_non_converged_samples": True}
    task = Task("classification", 20, 5)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 20, generator=g, dtype=dtype)
    y = torch.randint(0, 5, (32,), generator=g)
    grads = {}
    for device in ("cpu", "cuda"):
        m = registry.create(name, task, params, device=device, dtype=dtype, seed=1)
        grads[device], _ = m.forward_gradients(x.to(device), y.to(device))
    for (gw, gb), (cw, cb) in zip(grads["cpu"], grads["cuda"], strict=True):
        assert_allclose(cw.cpu(), gw, dtype=dtype, rtol_scale=64)
        assert_allclose(cb.cpu(), gb, dtype=dtype, rtol_scale=64)
