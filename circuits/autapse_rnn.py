"""The autapse-reweighted feedback-alignment RNN (Wang, Gray & Banerjee) as one circuit.

A discrete-time recurrent layer of logistic units learns online, at every step, from a
random projection of its output error reweighted by autapse traces of the presynaptic
rates (autapse_rnn_fa.md §2.1, eqs. 7-10 with the source's errors corrected)::

    a(t) = W o(t-1) + U x(t) [+ b]        o(t) = sigma(a(t))        (recurrence, unstated)
    k(t) = k(t-1) + (o(t-1) - k(t-1))/tau                            (eqs. 7-8, dt = 1)
    y_hat(t) = V o(t) [+ c]               e(t) = y_hat(t) - y(t)
    dW(t) = -eta (B e(t)) k(t)^T          [db(t) = -eta B e(t)]      (eqs. 9-10)
    [dV(t) = -eta_V e(t) o(t)^T,  dc(t) = -eta_V e(t)]               (readout delta rule)

with ``B`` in R^{N x 2} (eq. 9 uses B, not B^T; it defines the outer product
``(B e) k^T``, not a vector), the sign of eq. 10 (descent), and eq. 8's causal filter
(eq. 11's exponent has the wrong sign). There is no ``sigma'`` factor and no unrolling
in time. Time is in steps (build with ``dt=1``), so ``tau`` is in steps too.

Nodes (update order ``k, h, e, fb``: the trace reads the rates of the previous step,
which are the presynaptic activity of ``W`` at step t):

* ``x``, ``y`` (and ``g`` with ``gate=True``): time-varying inputs (ball position,
  target, gate);
* ``h``: the recurrent layer (:class:`~neurosim.graph.RecurrentLayerBuilder`,
  ``tau=None``), input projection ``W_in`` (= U, fixed), recurrent projection ``R``
  (= W, bias ``R.b`` with ``recurrent_bias``) carrying the autapse rule;
* ``k``: an :class:`~neurosim.circuits.AutapseIntegrator` of one-step membrane time
  constant whose autapse of strength ``w = 1 - 1/tau`` stretches its time constant to
  ``tau``, fed by ``h`` through ``to_trace`` (= I/tau): ``k += (o - k)/tau``;
* ``e``: an :class:`~neurosim.circuits.ErrorPopulation`, prediction through ``V``
  (bias ``V.b`` = c when the readout learns), target through ``teacher`` (= I);
* ``fb``: linear units carrying ``B e`` back to the layer (projection ``B``, fixed).

The learning rates are part of the rules (:class:`~neurosim.core.rules.ErrorDrivenRule`):
simulate online with ``lr=1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neurosim.circuits.autapse import AutapseIntegrator
from neurosim.circuits.error import ErrorPopulation
from neurosim.core.errors import ValidationError, check_positive, check_size
from neurosim.core.init import Identity, Normal, WeightInit
from neurosim.core.network import Network
from neurosim.core.population import Input, Population
from neurosim.core.probe import Probe
from neurosim.core.projection import Projection
from neurosim.core.rules import ErrorDrivenRule
from neurosim.graph.recurrent import RecurrentLayerBuilder

#: update order of the learning circuit (see the module docstring)
ORDER = ("k", "h", "e", "fb")


@dataclass
class AutapseRNNBuilder:
    """Build the learning circuit of the module docstring.

    Parameters
    ----------
    hidden_size : N, recurrent units.
    io_size : size of the input ``x`` and of the output / target (2: a ball position).
    tau : time constant of the autapse trace in steps (> 0; the source tried 5, 10, 15).
    eta : rate of the autapse rule on ``W`` (None: ``W`` stays fixed).
    input_init, readout_init, recurrent_init, feedback_init : initialisers of U (N x io),
        V (io x N), W (N x N) and B (N x io).
    recurrent_bias : a bias ``b`` on the recurrence, learnt with ``db = -eta B e``.
    readout_eta : rate of the delta rule on ``V`` and an output bias ``c`` (None: fixed
        ``V`` without bias, as in the source).
    gate : add a time-varying gate input ``g`` multiplying the error.
    probes : variables to record.
    """

    hidden_size: int = 2
    io_size: int = 2
    tau: float = 10.0
    eta: float | None = 0.05
    input_init: WeightInit = field(default_factory=lambda: Identity(1.0))
    readout_init: WeightInit = field(default_factory=lambda: Identity(1.0))
    recurrent_init: WeightInit = field(default_factory=lambda: Normal(std=0.1))
    feedback_init: WeightInit = field(default_factory=lambda: Normal(std=1.0))
    recurrent_bias: bool = False
    readout_eta: float | None = None
    gate: bool = False
    seed: int = 42
    probes: tuple[str, ...] = ()
    name: str = "autapse_rnn"

    def __post_init__(self) -> None:
        check_size(self, "hidden_size", self.hidden_size)
        check_size(self, "io_size", self.io_size)
        check_positive(self, "tau", self.tau)
        check_positive(self, "eta", self.eta, allow_none=True)
        check_positive(self, "readout_eta", self.readout_eta, allow_none=True)
        if self.recurrent_bias and self.eta is None:
            raise ValidationError(
                f"AutapseRNNBuilder '{self.name}'",
                "recurrent_bias",
                True,
                "needs a learning recurrence (eta is None)",
                "give eta > 0 or recurrent_bias=False",
            )

    def build(self) -> Network:
        """The checked network (build it with ``neurosim.build(net, dt=1.0)``)."""
        N, n = self.hidden_size, self.io_size
        rule = ErrorDrivenRule(error="fb", trace="k", eta=self.eta) if self.eta else None
        net = RecurrentLayerBuilder(
            input_size=n,
            hidden_size=N,
            nonlinearity="logistic",
            tau=None,
            input_init=self.input_init,
            recurrent_init=self.recurrent_init,
            input_bias=False,
            input_plastic=False,
            recurrent_bias=self.recurrent_bias,
            recurrent_rule=rule,
            seed=self.seed,
            name=self.name,
        ).build()
        readout_rule = (
            ErrorDrivenRule(error="e", eta=self.readout_eta) if self.readout_eta else None
        )
        net.add(
            Input("y", n, time_varying=True),
            AutapseIntegrator("k", N, w=1.0 - 1.0 / self.tau, tau=1.0),
            ErrorPopulation("e", n),
            Population("fb", N, nonlinearity="linear", tau=None),
            Projection("h", "k", "x", weight=Identity(1.0 / self.tau), name="to_trace"),
            Projection(
                "h",
                "e",
                "prediction",
                weight=self.readout_init,
                bias=readout_rule is not None,
                rule=readout_rule,
                name="V",
            ),  # fmt: skip
            Projection("y", "e", "target", weight=Identity(1.0), name="teacher"),
            Projection("e", "fb", "soma", weight=self.feedback_init, name="B"),
        )
        if self.gate:
            net.add(
                Input("g", n, time_varying=True),
                Projection("g", "e", "gate", weight=Identity(1.0), name="gating"),
            )
        net.order = ORDER
        for var in self.probes:
            net.add(Probe(var))
        net.check()
        return net
