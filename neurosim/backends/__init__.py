"""Simulation backends consuming the IR :class:`~neurosim.ir.Model`.

``neurosim.backends.torch`` (batched PyTorch) and ``neurosim.backends.brian2``;
import the one you need (neither is imported here, so the core stays light).
"""
