"""The DFC model family (Meulemans et al., NeurIPS 2021): DFC, DFC-SS, DFC-SSA and
their fixed-feedback variants. Importing this package registers them."""

from neurosim.models.dfc import factory as _factory  # noqa: F401  (registers the models)
from neurosim.models.dfc.config import DFCConfig
from neurosim.models.dfc.model import DFCModel

__all__ = ["DFCConfig", "DFCModel"]
