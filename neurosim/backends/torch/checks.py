"""Device equivalence checks: a run on ``device`` against the same run on the CPU.

Plain functions (no pytest), so that ``tests/backends/torch/test_torch_cuda.py`` and
``benchmarks/gpu_check.py`` (on a GPU machine where only torch, numpy, networkx,
pyyaml, tqdm and matplotlib can be assumed) run the very same checks. Each raises
``AssertionError`` naming what differs, and returns a short summary.

Noise-free circuits only: CUDA and CPU generators draw different streams.
"""

from __future__ import annotations

import torch

from neurosim.backends.torch import runner as runmod
from neurosim.backends.torch.simulator import TorchSimulator
from neurosim.testing import assert_allclose, dfc_model

#: the variants whose forward updates are compared
DFC_VARIANTS = ("dfc", "dfc-ss", "dfc-ssa", "dfc-ssa-fixed")


def simulator_matches_cpu(device: str, dtype: torch.dtype, graph_steps: int = 8) -> dict:
    """A 12-10-8-4 DFC circuit (time-integrated rule, no probes) run 80 steps on
    ``device`` (CUDA graphs of ``graph_steps`` steps there) and on the CPU."""
    model = dfc_model([12, 10, 8, 4], lam=0.5, window="all")
    model.probes = []
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 12, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.arange(16) % 4, 4).double()
    before, runmod.GRAPH_STEPS = runmod.GRAPH_STEPS, graph_steps
    try:
        res = {}
        for dev in ("cpu", device):
            sim = TorchSimulator(model, device=dev, dtype=dtype, progress=False)
            sim.reset({"x.r": x.to(dev, dtype), "ctrl.label": y.to(dev, dtype)})
            out = sim.run(80)
            res[dev] = (out, sim.state["h2.v"].cpu())
    finally:
        runmod.GRAPH_STEPS = before
    assert_allclose(res[device][1], res["cpu"][1], dtype=dtype, rtol_scale=16, msg="h2.v")
    for p, u in res["cpu"][0].updates.items():
        assert_allclose(res[device][0].updates[p].cpu(), u, dtype=dtype, rtol_scale=16, msg=p)
    return {"replays": res[device][0].replays, "updates": len(res["cpu"][0].updates)}


def dfc_updates_match_cpu(name: str, device: str, dtype: torch.dtype) -> dict:
    """One batch's forward-weight updates of DFC-family model ``name`` (20-24-16-5,
    every sample kept) on ``device`` and on the CPU."""
    from neurosim.models import registry
    from neurosim.models.base import Task

    params = {"size_hidden": [24, 16], "tmax_di": 120, "include_non_converged_samples": True}
    task = Task("classification", 20, 5)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 20, generator=g, dtype=dtype)
    y = torch.randint(0, 5, (32,), generator=g)
    grads = {}
    for dev in ("cpu", device):
        m = registry.create(name, task, params, device=dev, dtype=dtype, seed=1)
        grads[dev], _ = m.forward_gradients(x.to(dev), y.to(dev))
    for i, ((gw, gb), (cw, cb)) in enumerate(zip(grads["cpu"], grads[device], strict=True), 1):
        assert_allclose(cw.cpu(), gw, dtype=dtype, rtol_scale=64, msg=f"{name} W{i}")
        assert_allclose(cb.cpu(), gb, dtype=dtype, rtol_scale=64, msg=f"{name} b{i}")
    norm = float(sum(gw.norm() ** 2 for gw, _ in grads["cpu"]) ** 0.5)
    assert norm > 0, f"{name}: a zero update compares nothing"
    return {"update_norm": norm}
