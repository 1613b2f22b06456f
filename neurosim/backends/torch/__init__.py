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

Measured on the 2-core CPU of the build machine with intra-op threads, before shards
existed (``shards=False`` gives this mode; ``benchmarks/simulate.py``:
784-256-256-256-10 DFC forward phase, 1000 steps, batch 128, updates accumulated; best
of 5 interleaved rounds; peak = dense matmul rate, same threads and dtype, same run):

===================  ==========================  ==========================
threads, machine     float32                     float64
===================  ==========================  ==========================
2 (default), idle    5.1x plain loop, 53 % peak  5.0x plain loop, 58 % peak
1, idle              5.7x plain loop, 69 % peak  4.5x plain loop, 69 % peak
2, shared (load 10+) 5.1x, 52 % (medians 5-10x worse: every parallel op waits)
1, shared (load 30)  8.6x plain loop, 81 % peak  4.3x plain loop, 64 % peak
===================  ==========================  ==========================

Intra-op threads are fragile on a shared machine: with one of the two cores busy
with another job, 2 intra-op threads made the MNIST DFC-SS forward phase 8-30x slower
than 1 thread (``benchmarks/train_epoch.py``), while 2 shards were 1.3x slower than
1 thread (they only compete for the free core; pinned to one core, 2 shards cost 11 %
more than 1 program: the GIL and thread switches). So on a machine shared with other
jobs pass ``threads=1``. ``compile=True``
(``torch.compile`` of the step, ~30 s to compile) measured 1.15x (float32) and 1.10x
(float64) on the idle machine but 0.84x / 1.01x under load: off by default. ``tanh``
is computed as ``2 sigmoid(2x) - 1`` (``fast_tanh=True``): torch's CPU tanh was ~8x
slower than its sigmoid here.
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
