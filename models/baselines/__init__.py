"""Feedforward baselines of DFC Table 1: BP, FA and DFA. Importing this package
registers ``bp``, ``fa`` and ``dfa`` with :mod:`models.registry`."""

from models.baselines.bp import BPModel
from models.baselines.config import BaselineConfig
from models.baselines.dfa import DFAModel
from models.baselines.fa import FAModel

__all__ = ["BPModel", "BaselineConfig", "DFAModel", "FAModel"]
