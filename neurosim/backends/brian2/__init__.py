"""brian2 backend: IR ops lowered to NeuronGroups, (summed) Synapses and ordered code.

``Brian2Simulator(model, target="numpy"|"cython"|"cpp_standalone", batch_size=1)``
mirrors the torch backend's ``reset(inputs)`` / ``run(steps, record, plasticity, lr)``.
"""

# First: import brian2 without its global exception hook (see _import).
from neurosim.backends.brian2 import _import  # noqa: F401  isort: skip

from neurosim.backends.brian2.lowering import lower
from neurosim.backends.brian2.plan import Plan
from neurosim.backends.brian2.simulator import Brian2Simulator, RunResult
from neurosim.backends.brian2.targets import TARGETS, standalone_cache_dir

__all__ = ["TARGETS", "Brian2Simulator", "Plan", "RunResult", "lower", "standalone_cache_dir"]
