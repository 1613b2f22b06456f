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
  White noise is drawn ahead, a segment of steps at a time, from each noisy op's own
  generator (the same stream as drawing in the step); with ``threads > 1`` a batch
  of >= 64 samples is cut into shards run side by side on worker threads (one
  intra-op thread each) while the calling thread draws the next noise segment.
  ``TorchSimulator.rng_state`` / ``set_rng_state`` save and restore the generators.
* ``fused`` (CPU, on by default): each run of consecutive elementwise ops (and small
  projections such as ``Q_i u``) becomes one C function compiled by the system C
  compiler (``ccompile``: cached, a one-line notice when built, the eager step with a
  notice when there is no compiler); the step is then a few matmul calls and a few
  kernel calls (``ctypes`` releases the GIL, so shards run truly side by side).
  ``benchmarks/simulate.py`` (``fused x`` column) measures it against the eager step.
* ``difference``: ``phi(a + x) - phi(a + y)`` of the deviation form
  (:class:`~neurosim.ir.ops.NonlinearityDifference`) by exact identities.
* ``runner.StepGraph`` (CUDA, on by default): segments of ``GRAPH_STEPS`` steps captured
  as CUDA graphs and replayed (untested on a GPU so far: ``benchmarks/gpu_check.sh``).

Threads: shards need no intra-op parallelism; intra-op parallel ops on a machine whose
cores other jobs hold wait for their slowest thread, which is why importing neurosim
sets OpenMP's passive wait policy (``neurosim/_threads.py``; measured in
``benchmarks/threads.py``). ``compile=True`` (``torch.compile`` of the eager step)
stays off by default: it measured 0.84-1.15x and ~30-130 s to compile here, and it
cannot run in the shards. ``tanh`` of the eager step is ``2 sigmoid(2x) - 1``
(``fast_tanh=True``).
"""

from neurosim.backends.torch.runner import RunResult
from neurosim.backends.torch.simulator import (
    TorchSimulator,
    available_cores,
    default_threads,
    set_default_threads,
)

__all__ = [
    "RunResult",
    "TorchSimulator",
    "available_cores",
    "default_threads",
    "set_default_threads",
]
