"""neurosim: an object-oriented simulator for biologically plausible learning.

describe (``neurosim.core`` objects, ``neurosim.circuits``, :class:`HierarchyBuilder`) ->
``neurosim.build(network, dt)`` -> :class:`neurosim.ir.Model` -> a backend
(``neurosim.backends.torch`` or ``neurosim.backends.brian2``) -> learn
(``neurosim.models``, ``neurosim train``).
"""

# Before anything imports torch: OpenMP's passive wait policy (see _threads).
from neurosim import _threads  # noqa: F401  isort: skip

# First: in a source checkout, circuits/ and models/ sit beside neurosim/; importing
# _layout maps them to neurosim.circuits and neurosim.models (see its docstring).
from neurosim import _layout  # noqa: F401  isort: skip

from neurosim.circuit_yaml import load_circuit, save_circuit
from neurosim.core import (
    AntiHebbianFeedbackRule,
    Constant,
    DendriticPredictionRule,
    ErrorDrivenRule,
    Given,
    Identity,
    Input,
    Network,
    Normal,
    PlasticityRule,
    Population,
    PrecisionWarning,
    Probe,
    Projection,
    SimulationDivergedError,
    TimeStepWarning,
    ValidationError,
    WeightInit,
    XavierNormal,
    Zeros,
)
from neurosim.graph import HierarchyBuilder, RecurrentLayerBuilder, draw_network
from neurosim.ir import lower_core as _lower_core  # noqa: F401  (registers lowerings)
from neurosim.ir.build import build, register

__version__ = "0.1.0"

__all__ = [
    "AntiHebbianFeedbackRule",
    "Constant",
    "DendriticPredictionRule",
    "ErrorDrivenRule",
    "Given",
    "HierarchyBuilder",
    "Identity",
    "Input",
    "Network",
    "Normal",
    "PlasticityRule",
    "Population",
    "PrecisionWarning",
    "Probe",
    "Projection",
    "RecurrentLayerBuilder",
    "SimulationDivergedError",
    "TimeStepWarning",
    "ValidationError",
    "WeightInit",
    "XavierNormal",
    "Zeros",
    "build",
    "draw_network",
    "load_circuit",
    "register",
    "save_circuit",
]
