"""Backend-neutral intermediate representation: variables and ordered ops."""

from neurosim.ir.model import Model, Probe, Variable
from neurosim.ir.ops import (
    NONLINEARITIES,
    Copy,
    DenseProjection,
    ErrorSignal,
    Integrate,
    LocalPlasticity,
    Nonlinearity,
    NonlinearityDifference,
    Op,
    OutputTarget,
    SpikeSoma,
    UnaryOp,
)

__all__ = [
    "NONLINEARITIES",
    "Copy",
    "DenseProjection",
    "ErrorSignal",
    "Integrate",
    "LocalPlasticity",
    "Model",
    "Nonlinearity",
    "NonlinearityDifference",
    "Op",
    "OutputTarget",
    "Probe",
    "SpikeSoma",
    "UnaryOp",
    "Variable",
]
