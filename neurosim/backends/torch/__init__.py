"""Batched PyTorch backend: fast simulation of any built :class:`~neurosim.ir.Model`.

>>> from neurosim.backends.torch import TorchSimulator          # doctest: +SKIP
>>> sim = TorchSimulator(model, device="cpu", dtype=torch.float64)
>>> sim.reset({"x.r": x, "ctrl.label": y})                     # zero state, init ops
>>> res = sim.run(999, record=["l1.v"])                         # T = 1000 time samples
>>> res.traces["l1.v"].shape, res.updates["W1.W"].shape         # (1000, B, n), (n, n_pre)
>>> print(sim.describe_plan()); print(sim.step_source)

How a run is executed (modules in this package):

* ``codegen``: one registered lowering per op type turns the IR into torch source lines
  that write into preallocated tensors (``out=``, in-place, ``torch.addmm``).
* ``program``: the lines of all step ops are inlined, in IR order, into one generated
  function ``step`` (no per-op Python dispatch); ``Model.loop_invariant_ops`` (e.g.
  ``W1 x + b1`` of a static image) go to ``hoist``, run once per run.
* ``plasticity``: each ``LocalPlasticity`` op records its per-step factors into chunk
  buffers and folds them with one matmul over (time x batch); a constant ``pre``
  (the image) only needs a running sum; window ``last`` needs only the final state;
  ``plasticity="online"`` applies ``W += lr*dt*dW_k`` every step.
* ``runner``: the time loop (recording, chunk folding, steady-state checks, tqdm bar).

Measured on the 2-core shared CPU of the build machine (``benchmarks/simulate.py``,
784-256-256-256-10 DFC forward phase, 1000 steps, batch 128, updates accumulated):
with 1 intra-op thread 8.6x (float32) and 4.3x (float64) faster than a plain torch loop,
at 81 % / 64 % of the matmul rate measured in the same run. ``compile=True``
(``torch.compile`` of the step) measured 0.84x (float32) and 1.01x (float64), i.e. no
gain, so it is off by default. ``tanh`` is computed as ``2 sigmoid(2x) - 1``
(``fast_tanh=True``): torch's CPU tanh was ~8x slower than its sigmoid here.
"""

from neurosim.backends.torch.runner import RunResult
from neurosim.backends.torch.simulator import TorchSimulator

__all__ = ["RunResult", "TorchSimulator"]
