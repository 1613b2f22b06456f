"""Reciprocal (pseudoinverse) feedback: the Recirculation pair's runs and diagnostics and
the deep RF models. Importing this package registers ``rf`` and ``rf-exact`` with
:mod:`neurosim.models.registry`."""

from neurosim.models.rf.config import RFConfig, RFExactConfig
from neurosim.models.rf.model import RFExactModel, RFModel, ridge_inverse
from neurosim.models.rf.penrose import chain_product, feedback_product, penrose_residuals

__all__ = [
    "RFConfig",
    "RFExactConfig",
    "RFExactModel",
    "RFModel",
    "chain_product",
    "feedback_product",
    "penrose_residuals",
    "ridge_inverse",
]
