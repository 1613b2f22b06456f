"""Frontend objects: descriptions only (no torch, no brian2)."""

from neurosim.core.errors import (
    PrecisionWarning,
    SimulationDivergedError,
    TimeStepWarning,
    ValidationError,
)
from neurosim.core.init import (
    Constant,
    Given,
    Identity,
    Normal,
    WeightInit,
    XavierNormal,
    Zeros,
)
from neurosim.core.network import Network
from neurosim.core.population import Input, Node, Population
from neurosim.core.probe import Probe
from neurosim.core.projection import Projection
from neurosim.core.rules import (
    AntiHebbianFeedbackRule,
    DendriticPredictionRule,
    ErrorDrivenRule,
    PlasticityRule,
)

__all__ = [
    "AntiHebbianFeedbackRule",
    "Constant",
    "DendriticPredictionRule",
    "ErrorDrivenRule",
    "Given",
    "Identity",
    "Input",
    "Network",
    "Node",
    "Normal",
    "PlasticityRule",
    "Population",
    "PrecisionWarning",
    "Probe",
    "Projection",
    "SimulationDivergedError",
    "TimeStepWarning",
    "ValidationError",
    "WeightInit",
    "XavierNormal",
    "Zeros",
]
