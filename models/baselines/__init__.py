"""Feedforward baselines of DFC Table 1: BP, FA and DFA. Importing this package
registers ``bp``, ``fa`` and ``dfa`` with :mod:`neurosim.models.registry`."""

from neurosim.models.baselines.bp import BPModel
from neurosim.models.baselines.config import BaselineConfig
from neurosim.models.baselines.dfa import DFAModel
from neurosim.models.baselines.fa import FAModel

__all__ = ["BPModel", "BaselineConfig", "DFAModel", "FAModel"]
