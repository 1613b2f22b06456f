"""Reusable microcircuits built from neurosim parts (descriptions + their lowerings).

* :class:`PyramidalLayer` — three-compartment pyramidal layer (DFC eq. 1, App. G).
* :class:`AutapseIntegrator` — self-connected leaky integrator (DFC App. I eq. 230).
* :class:`PIController` — error neurons, proportional and integral paths (DFC eq. 3-4).
* :class:`ReciprocalPair` — bottom-up ``A`` and top-down ``B`` learned by (linearised)
  Recirculation, whose fixed point under white noise is ``B = A⁺``.
* :class:`ErrorPopulation` — error neurons ``e = gate * (prediction - target)``.
* :class:`AutapseRNNBuilder` — an RNN learning online with the autapse rule (Wang et al.).
"""

# neurosim first: its package __init__ imports these modules (YAML, graph builder), so
# it must finish before ours run, whichever of the two packages a script imports first.
import neurosim  # noqa: F401  isort: skip
from neurosim.circuits import lowering as _lowering  # noqa: F401  (registers the lowerings)
from neurosim.circuits import reciprocal_lowering as _reciprocal  # noqa: F401  (registers)
from neurosim.circuits.autapse import AutapseIntegrator
from neurosim.circuits.autapse_rnn import AutapseRNNBuilder
from neurosim.circuits.controller import PIController
from neurosim.circuits.error import ErrorPopulation
from neurosim.circuits.pyramidal import Noise, PyramidalLayer, SomaModel
from neurosim.circuits.reciprocal import ReciprocalPair

__all__ = [
    "AutapseIntegrator",
    "AutapseRNNBuilder",
    "ErrorPopulation",
    "Noise",
    "PIController",
    "PyramidalLayer",
    "ReciprocalPair",
    "SomaModel",
]
