"""Three-compartment pyramidal layer (DFC eq. 1, App. G): soma, basal and apical dendrite."""

from __future__ import annotations

from dataclasses import dataclass, field

from neurosim.core.errors import ValidationError, check_choice, check_positive
from neurosim.core.population import Node
from neurosim.ir.ops import NONLINEARITIES

SPIKING = (None, "poisson", "lif")


@dataclass(frozen=True)
class SomaModel:
    """How the soma integrates its dendrites.

    * ``form="current"`` (DFC eq. 1, gains default 1):
      ``tau_v dv/dt = -g_L v + g_B v_B + g_A v_A``.
    * ``form="conductance"`` (DFC App. G):
      ``tau_v dv/dt = -g_L v + g_B (v_B - v) + g_A (v_A - v)``,
      i.e. leak ``g_L + g_B + g_A`` and input gains ``g_B, g_A``.
    """

    form: str = "current"
    g_L: float = 1.0  # noqa: N815  (paper notation)
    g_B: float = 1.0  # noqa: N815
    g_A: float = 1.0  # noqa: N815

    def __post_init__(self) -> None:
        check_choice(self, "form", self.form, ("current", "conductance"))
        for attr in ("g_L", "g_B", "g_A"):
            check_positive(self, attr, getattr(self, attr), allow_zero=attr != "g_L")

    @property
    def leak(self) -> float:
        """Total leak conductance multiplying ``v``."""
        return self.g_L + (self.g_B + self.g_A if self.form == "conductance" else 0.0)

    @property
    def basal_attenuation(self) -> float:
        """``g_B / leak``: the soma's steady state without apical input is
        ``v* = g_B / leak * v_B`` (the *dendritic prediction* ``V_B*`` of Urbanczik &
        Senn 2014, DFC App. G); 1 for eq. 1 with unit gains."""
        return self.g_B / self.leak


@dataclass(frozen=True)
class Noise:
    """White-noise amplitude ``sigma`` per compartment (Euler-Maruyama in the backend,
    increment ``sigma sqrt(dt)/tau xi``, DFC.md §1.2). 0 disables it."""

    soma: float = 0.0
    basal: float = 0.0
    apical: float = 0.0

    def __post_init__(self) -> None:
        for attr in ("soma", "basal", "apical"):
            check_positive(self, attr, getattr(self, attr), allow_zero=True)


@dataclass(frozen=True)
class PyramidalLayer(Node):
    """A layer of three-compartment pyramidal neurons (DFC eq. 1, App. G).

    .. math::
        \\tau_v \\frac{dv}{dt} = -v + v^B + v^A, \\quad
        v^B = \\sum_j I_j^{basal}, \\quad v^A = \\sum_j I_j^{apical}, \\quad r = \\phi(v)

    (current form; see :class:`SomaModel` for the conductance form). Dendrites are
    instantaneous (``tau_basal``/``tau_apical`` None) or low-pass
    (``tau_X dv^X/dt = -v^X + sum_j I_j^X``). A noisy instantaneous dendrite is
    integrated with ``tau = dt``, the reference code's ``apical_time_constant=-1``
    (DFC.md §1.2), which equals the instantaneous value plus ``sigma sqrt(dt)/dt xi``.

    IR variables: ``name.v``, ``name.v_basal``, ``name.v_apical``, ``name.r``.
    Projections target ``"basal"``, ``"apical"`` or ``"soma"``.

    Parameters
    ----------
    nonlinearity : phi, one of :data:`neurosim.ir.ops.NONLINEARITIES`.
    tau_v : soma time constant (DFC ``time_constant_ratio``).
    tau_apical, tau_basal : dendritic time constants or None (instantaneous).
    soma : :class:`SomaModel`.
    noise : :class:`Noise` per compartment.
    spiking : None (rate output), ``"poisson"`` or ``"lif"`` (lowered to ``SpikeSoma``).
    max_rate, tau_syn, tau_ref, threshold : spiking parameters (see
        :class:`neurosim.ir.ops.SpikeSoma`; ``tau_ref`` and ``threshold`` for ``"lif"``).
    """

    nonlinearity: str = "tanh"
    tau_v: float = 0.2
    tau_apical: float | None = None
    tau_basal: float | None = None
    soma: SomaModel = field(default_factory=SomaModel)
    noise: Noise = field(default_factory=Noise)
    spiking: str | None = None
    max_rate: float = 200.0
    tau_syn: float = 0.01
    tau_ref: float = 0.002
    threshold: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        who = f"PyramidalLayer '{self.name}'"
        check_choice(self, "nonlinearity", self.nonlinearity, NONLINEARITIES)
        check_positive(self, "tau_v", self.tau_v)
        check_positive(self, "tau_apical", self.tau_apical, allow_none=True)
        check_positive(self, "tau_basal", self.tau_basal, allow_none=True)
        for attr, cls in (("soma", SomaModel), ("noise", Noise)):
            if not isinstance(getattr(self, attr), cls):
                raise ValidationError(
                    who,
                    attr,
                    getattr(self, attr),
                    "has the wrong type",
                    f"give a {cls.__name__}(...)",
                )
        check_choice(self, "spiking", self.spiking, SPIKING)
        check_positive(self, "max_rate", self.max_rate)
        check_positive(self, "tau_syn", self.tau_syn)
        check_positive(self, "tau_ref", self.tau_ref, allow_zero=True)
        check_positive(self, "threshold", self.threshold)

    @property
    def targets(self) -> tuple[str, ...]:
        return ("soma", "basal", "apical")

    @property
    def basal_prediction(self) -> str:
        """The IR variable a :class:`~neurosim.core.rules.DendriticPredictionRule` on this
        layer compares the soma with: ``v_basal`` when the soma settles at it (eq. 1,
        ``SomaModel.basal_attenuation == 1``), else ``v_basal_star = g_B/leak * v_basal``
        (conductance form, App. G), so the rule is ``(phi(U) - phi(V_B*)) r_pre^T`` and
        vanishes at rest without control."""
        if self.soma.basal_attenuation == 1.0:
            return f"{self.name}.v_basal"
        return f"{self.name}.v_basal_star"

    #: compartments that must receive a projection (build-time check)
    required_inputs = ("basal",)

    def graph_parts(self) -> list[tuple[str, dict]]:
        attrs = {
            "kind": "PyramidalLayer",
            "size": self.size,
            "obj": self.name,
            "nonlinearity": self.nonlinearity,
            "tau_v": self.tau_v,
        }
        return [(self.name, attrs)]
