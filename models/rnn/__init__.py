"""Recurrent networks that learn the bouncing ball (autapse_rnn_fa.md): the autapse rule
of Wang, Gray & Banerjee as an online circuit, and the baselines BPTT, FA and DFA
through time, and RFLO (Murray 2019). Importing this package registers
``autapse-rnn``, ``bptt``, ``fa-rnn``, ``dfa-rnn`` and ``rflo``."""

from neurosim.models.rnn.autapse import AutapseRNNModel
from neurosim.models.rnn.bptt import BPTTModel, DFARNNModel, FARNNModel
from neurosim.models.rnn.config import RNNConfig
from neurosim.models.rnn.rflo import RFLOModel

__all__ = ["AutapseRNNModel", "BPTTModel", "DFARNNModel", "FARNNModel", "RFLOModel", "RNNConfig"]
