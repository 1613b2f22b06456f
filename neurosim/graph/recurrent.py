"""``RecurrentLayerBuilder``: one recurrent rate layer (for RNN learning rules).

.. math::
    \\tau \\frac{dv}{dt} = -v + W_{in} x + R\\, r + b, \\qquad r = \\phi(v),
    \\qquad y = W_{out} r \\;\\text{(instantaneous linear readout, optional)}

With ``tau=None`` the soma is instantaneous and the layer is the discrete-time RNN
``v(t) = R r(t-1) + W_in x(t) + b`` (every step reads the previous step's rates).

Names: input ``x``; hidden population ``h`` (``h.v``, ``h.r``); input projection
``W_in`` (with bias ``W_in.b`` unless ``input_bias=False``), recurrent projection ``R``
(role ``"recurrent"``; bias ``R.b`` with ``recurrent_bias=True``), readout population
``y`` through ``W_out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neurosim.core.errors import check_positive, check_size
from neurosim.core.init import Normal, WeightInit, XavierNormal
from neurosim.core.network import Network
from neurosim.core.population import Input, Population
from neurosim.core.probe import Probe
from neurosim.core.projection import Projection
from neurosim.core.rules import PlasticityRule


@dataclass
class RecurrentLayerBuilder:
    """Build ``x -> h (recurrent) [-> y]``.

    Parameters
    ----------
    input_size, hidden_size : sizes of ``x`` and ``h``.
    output_size : size of the linear readout ``y``; None for no readout.
    nonlinearity, tau : of the hidden population (``tau=None``: discrete-time RNN).
    recurrent_init : initialiser of ``R`` (default ``N(0, g^2/n)`` with g = 1).
    time_varying_input : ``x`` is a ``(T, batch, n)`` sequence.
    input_bias, recurrent_bias : the bias ``b`` sits on ``W_in`` (default) or on ``R``.
    input_plastic : whether ``W_in`` is learnable.
    recurrent_rule : a :class:`~neurosim.core.rules.PlasticityRule` of ``R`` (e.g. an
        :class:`~neurosim.core.rules.ErrorDrivenRule`).
    """

    input_size: int = 1
    hidden_size: int = 64
    output_size: int | None = None
    nonlinearity: str = "tanh"
    tau: float | None = 1.0
    input_init: WeightInit = field(default_factory=XavierNormal)
    recurrent_init: WeightInit | None = None
    output_init: WeightInit = field(default_factory=XavierNormal)
    time_varying_input: bool = True
    seed: int = 42
    probes: tuple[str, ...] = ()
    name: str = "rnn"
    input_bias: bool = True
    recurrent_bias: bool = False
    input_plastic: bool = True
    recurrent_rule: PlasticityRule | None = None

    def __post_init__(self) -> None:
        check_size(self, "input_size", self.input_size)
        check_size(self, "hidden_size", self.hidden_size)
        if self.output_size is not None:
            check_size(self, "output_size", self.output_size)
        check_positive(self, "tau", self.tau, allow_none=True)

    def build(self) -> Network:
        """The checked network."""
        net = Network(self.name, seed=self.seed)
        rec = self.recurrent_init or Normal(std=self.hidden_size**-0.5)
        net.add(
            Input("x", self.input_size, time_varying=self.time_varying_input),
            Population("h", self.hidden_size, nonlinearity=self.nonlinearity, tau=self.tau),
            Projection(
                "x",
                "h",
                "soma",
                weight=self.input_init,
                bias=self.input_bias,
                plastic=self.input_plastic,
                name="W_in",
            ),
            Projection(
                "h",
                "h",
                "soma",
                weight=rec,
                bias=self.recurrent_bias,
                plastic=True,
                role="recurrent",
                rule=self.recurrent_rule,
                name="R",
            ),
        )
        if self.output_size is not None:
            net.add(
                Population("y", self.output_size, nonlinearity="linear", tau=None),
                Projection("h", "y", "soma", weight=self.output_init, plastic=True, name="W_out"),
            )
        for var in self.probes:
            net.add(Probe(var))
        net.check()
        return net
