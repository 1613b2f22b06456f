"""Batched PyTorch backend: fast simulation of any built :class:`~neurosim.ir.Model`.

>>> from neurosim.backends.torch import TorchSimulator   # doctest: +SKIP
"""

from neurosim.backends.torch.simulator import RunResult, TorchSimulator

__all__ = ["RunResult", "TorchSimulator"]
