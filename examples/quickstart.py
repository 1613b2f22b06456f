"""A DFC hierarchy with a PI controller, built, printed and simulated (README example)."""

import torch

import neurosim
from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import PIController

builder = neurosim.HierarchyBuilder(
    layer_sizes=[15, 10, 10, 5],
    nonlinearities=["tanh", "tanh", "linear"],
    controller=PIController(k_p=1.5, alpha=0.0015, loss="mse", lam=0.05),
    feedback="direct",
    tau_v=0.2,
    seed=42,
)
model = neurosim.build(builder.build(), dt=0.005)  # backend-neutral IR
print(model)  # every variable and op, in step order

sim = TorchSimulator(model, dtype=torch.float64)
x, y = torch.randn(32, 15, dtype=torch.float64), torch.randn(32, 5, dtype=torch.float64)
sim.reset({"x.r": x, "ctrl.label": y})
result = sim.run(steps=1000, record=["ctrl.e"])
e = result.traces["ctrl.e"].norm(dim=-1).mean(dim=1)  # |e| after each step (row 0: reset)
print(f"|e| first step {e[1]:.3e}  last {e[-1]:.3e}")  # the controller drives r_L to r*
