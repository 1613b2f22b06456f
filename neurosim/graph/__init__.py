"""Graph builders (DFC hierarchies, recurrent layers) and network drawing."""

from neurosim.graph.draw import draw_network
from neurosim.graph.hierarchy import HierarchyBuilder
from neurosim.graph.recurrent import RecurrentLayerBuilder

__all__ = ["HierarchyBuilder", "RecurrentLayerBuilder", "draw_network"]
