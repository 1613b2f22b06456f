"""``HierarchyBuilder``: a DFC hierarchy (input ``x``, layers ``l1..lL``, PI controller)
with direct, layer-wise or multi-layer (DFC App. H) feedback.

Names (fixed, the models layer relies on them): input ``x``; layers ``l1..lL`` (``lL``
is the output); feedforward projections ``W{i}`` (``W{i}.W``, ``W{i}.b``) from
``l{i-1}`` (``x`` for i = 1) into the basal compartment of ``l{i}``; feedback into layer
``i``: ``Q{i}`` (``Q{i}.W``). The forward-phase and sleep-phase networks built from the
same arguments (but different phase options) have identical weight names and, for the
same seed, identical initial weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from neurosim.circuits.controller import PIController
from neurosim.circuits.pyramidal import SPIKING, Noise, PyramidalLayer, SomaModel
from neurosim.core.errors import ValidationError, check_choice, check_positive, check_size
from neurosim.core.init import Identity, WeightInit, XavierNormal
from neurosim.core.network import TRANSMISSIONS, Network
from neurosim.core.population import Input, Population
from neurosim.core.probe import Probe
from neurosim.core.projection import Projection
from neurosim.core.rules import AntiHebbianFeedbackRule, DendriticPredictionRule

FEEDBACK = ("direct", "layerwise", "multilayer")
PLASTICITY = (None, "forward", "feedback")

Inits = WeightInit | Sequence[WeightInit]


@dataclass
class HierarchyBuilder:
    """Build a DFC network (DFC §2-3, App. E, H).

    Parameters
    ----------
    layer_sizes : ``[n_0, n_1, ..., n_L]``, ``n_0`` the input size.
    nonlinearities : one per layer 1..L (default: tanh hidden, linear output).
    controller : a :class:`~neurosim.circuits.PIController` (size and output layer are filled in).
    feedback :
        * ``"direct"`` (DFC eq. 1): ``Q{i}: ctrl.u -> l{i}`` apical, ``n_i x n_L``,
          ``feedback_init`` for hidden layers, ``output_feedback_init`` (identity) for
          ``Q{L}``.
        * ``"layerwise"``: ``Q{i}: l{i+1}.r -> l{i}`` apical (``n_i x n_{i+1}``) and
          ``Q{L}: ctrl.u -> l{L}``: the control reaches layer i through the rates of the
          layers above.
        * ``"multilayer"`` (DFC App. H): a separate linear, instantaneous feedback
          pathway ``f{L} .. f{1}`` (populations of size n_i): ``Q{L}: ctrl.u -> f{L}``,
          ``Q{i}: f{i+1} -> f{i}``, and a fixed one-to-one ``A{i}: f{i} -> l{i}`` apical,
          so the effective direct feedback is ``Q_i Q_{i+1} ... Q_L``. The pathway is
          updated before the layers, top down, with either ``transmission``: App. H's
          pathway is a fast linear network that delivers ``Q_i ... Q_L u`` of the
          current control to every layer in the same step, exactly as direct feedback
          with those products does (``transmission`` delays the layers' feedforward
          path only, DFC App. E.1).
    tau_v, tau_apical, tau_basal, soma : soma/dendrite settings of every layer
        (:class:`~neurosim.circuits.PyramidalLayer`).
    spiking : None (rate somata), ``"poisson"`` or ``"lif"`` for every layer, or one
        value per layer, e.g. ``["poisson", "poisson", None]`` for spiking hidden layers
        and a rate output (a spike train cannot carry the negative values of a linear
        output layer).
    max_rate, tau_syn, tau_ref, threshold : spiking parameters of every spiking layer
        (:class:`~neurosim.circuits.PyramidalLayer`; Poisson needs ``max_rate * dt <= 1``).
    seed : network seed (weights and noise streams).
    proactive : override the controller's ``proactive`` flag (None: keep it).
    transmission : ``"instantaneous"`` or ``"delayed"`` (DFC App. E.1).
    plasticity : None; ``"forward"`` (DendriticPredictionRule(window) on every W{i});
        ``"feedback"`` (AntiHebbianFeedbackRule(beta) on every Q{i}, direct or
        layer-wise feedback only).
    sigma, sigma_output : apical white noise of hidden layers and of the output layer
        (``sigma_output=None``: same as ``sigma``).
    forward_init, feedback_init : one initialiser or one per layer (e.g. ``Given``
        arrays for the weight-product feedback of fixed DFC, DFC.md §1.6).
    output_feedback_init : initialiser of ``Q{L}`` (default identity), used when
        ``feedback_init`` is a single initialiser.
    bias : feedforward biases (zeros).
    probes : IR variable names to record (e.g. ``["l1.v", "ctrl.u"]``).
    name : network name.
    """

    layer_sizes: Sequence[int] = (784, 256, 256, 256, 10)
    nonlinearities: Sequence[str] | None = None
    controller: PIController = field(default_factory=PIController)
    feedback: str = "direct"
    tau_v: float = 0.2
    tau_apical: float | None = None
    tau_basal: float | None = None
    soma: SomaModel = field(default_factory=SomaModel)
    spiking: str | Sequence[str | None] | None = None
    max_rate: float = 200.0
    tau_syn: float = 0.01
    tau_ref: float = 0.002
    threshold: float = 1.0
    seed: int = 42
    proactive: bool | None = None
    transmission: str = "instantaneous"
    plasticity: str | None = None
    window: str = "all"
    beta: float = 0.0
    sigma: float = 0.0
    sigma_output: float | None = None
    forward_init: Inits = field(default_factory=XavierNormal)
    feedback_init: Inits = field(default_factory=XavierNormal)
    output_feedback_init: WeightInit = field(default_factory=Identity)
    bias: bool = True
    probes: Sequence[str] = ()
    name: str = "dfc"

    def __post_init__(self) -> None:
        if isinstance(self.layer_sizes, (str, bytes)) or not hasattr(self.layer_sizes, "__len__"):
            raise ValidationError(
                "HierarchyBuilder",
                "layer_sizes",
                self.layer_sizes,
                "is not a list of layer sizes",
                "give a list of ints, e.g. [15, 10, 10, 5] (input size first)",
            )
        sizes = list(self.layer_sizes)
        if len(sizes) < 2:
            raise ValidationError(
                "HierarchyBuilder",
                "layer_sizes",
                sizes,
                "is too short",
                "give [n_input, n_1, ..., n_L] with L >= 1",
            )
        for i, n in enumerate(sizes):
            check_size(self, f"layer_sizes[{i}]", n)
        self.layer_sizes = [int(n) for n in sizes]  # numpy integers become ints
        L = len(sizes) - 1
        if self.nonlinearities is None:
            self.nonlinearities = ["tanh"] * (L - 1) + ["linear"]
        if len(self.nonlinearities) != L:
            raise ValidationError(
                "HierarchyBuilder",
                "nonlinearities",
                list(self.nonlinearities),
                f"has {len(self.nonlinearities)} entries for {L} layers",
                f"give {L} (one per layer after the input)",
            )
        if not isinstance(self.controller, PIController):
            raise ValidationError(
                "HierarchyBuilder",
                "controller",
                self.controller,
                "is not a PIController",
                "give PIController(...)",
            )
        check_choice(self, "feedback", self.feedback, FEEDBACK)
        check_choice(self, "transmission", self.transmission, TRANSMISSIONS)
        check_choice(self, "plasticity", self.plasticity, PLASTICITY)
        check_choice(self, "proactive", self.proactive, (None, True, False))
        check_positive(self, "sigma", self.sigma, allow_zero=True)
        check_positive(self, "sigma_output", self.sigma_output, allow_none=True, allow_zero=True)
        if self.plasticity == "feedback" and self.feedback == "multilayer":
            raise ValidationError(
                "HierarchyBuilder",
                "plasticity",
                "feedback",
                "is defined for direct and layer-wise feedback (eq. 13 pairs v_A with "
                "the presynaptic signal of the apical synapse)",
                "use feedback='direct' or 'layerwise', or plasticity=None",
            )
        spiking = self._spiking()
        if len(spiking) != L or not all(s in SPIKING for s in spiking):
            raise ValidationError(
                "HierarchyBuilder",
                "spiking",
                self.spiking,
                f"is not one of {SPIKING} or a list of {L} of them",
                f"give e.g. 'poisson' or {['poisson'] * (L - 1) + [None]}",
            )
        for attr in ("forward_init", "feedback_init"):
            inits = self._per_layer(attr)
            if len(inits) != L or not all(isinstance(w, WeightInit) for w in inits):
                raise ValidationError(
                    "HierarchyBuilder",
                    attr,
                    getattr(self, attr),
                    f"is not one initialiser or a list of {L}",
                    "give e.g. XavierNormal() or [Given(...), ...]",
                )

    # -- helpers -----------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Number of layers L (excluding the input)."""
        return len(self.layer_sizes) - 1

    def _per_layer(self, attr: str) -> list[WeightInit]:
        value = getattr(self, attr)
        if isinstance(value, WeightInit):
            if attr == "feedback_init":
                return [value] * (self.depth - 1) + [self.output_feedback_init]
            return [value] * self.depth
        return list(value)

    def _spiking(self) -> list[str | None]:
        if self.spiking is None or isinstance(self.spiking, str):
            return [self.spiking] * self.depth
        return list(self.spiking)

    def _layers(self) -> list[PyramidalLayer]:
        L, out, spiking = self.depth, [], self._spiking()
        for i in range(1, L + 1):
            sigma = self.sigma_output if (i == L and self.sigma_output is not None) else self.sigma
            out.append(
                PyramidalLayer(
                    f"l{i}",
                    self.layer_sizes[i],
                    nonlinearity=self.nonlinearities[i - 1],
                    tau_v=self.tau_v,
                    tau_apical=self.tau_apical,
                    tau_basal=self.tau_basal,
                    soma=self.soma,
                    noise=Noise(apical=sigma),
                    spiking=spiking[i - 1],
                    max_rate=self.max_rate,
                    tau_syn=self.tau_syn,
                    tau_ref=self.tau_ref,
                    threshold=self.threshold,
                )
            )
        return out

    def _controller(self) -> PIController:
        changes = {"size": self.layer_sizes[-1], "output_layer": f"l{self.depth}"}
        if self.proactive is not None:
            changes["proactive"] = self.proactive
        return dataclasses.replace(self.controller, **changes)

    def sleep_phase(
        self,
        *,
        k_p: float,
        alpha: float,
        tau_v: float,
        tau_apical: float | None,
        sigma: float,
        sigma_output: float | None = None,
        beta: float = 0.0,
        transmission: str | None = None,
    ) -> HierarchyBuilder:
        """The builder of the feedback-learning (sleep) phase of this network (DFC App.
        E.2, DFC.md §1.5): same sizes, names, seed and initial weights; controller with
        ``k_p_fb``/``alpha_fb``, non-proactive, target = feedforward output
        (``loss="given"``, ``target_from="output"``); apical noise ``sigma`` (hidden) and
        ``sigma_output`` (output); AntiHebbianFeedbackRule(beta) on every ``Q{i}``."""
        ctrl = dataclasses.replace(
            self.controller,
            k_p=k_p,
            alpha=alpha,
            loss="given",
            target_from="output",
            proactive=False,
        )
        return dataclasses.replace(
            self,
            controller=ctrl,
            proactive=False,
            tau_v=tau_v,
            tau_apical=tau_apical,
            sigma=sigma,
            sigma_output=sigma_output,
            plasticity="feedback",
            beta=beta,
            transmission=transmission or self.transmission,
        )

    # -- build -------------------------------------------------------------------------
    def build(self) -> Network:
        """The network (checked); see the class docstring for names and feedback modes."""
        net = Network(self.name, seed=self.seed, transmission=self.transmission)
        layers = self._layers()
        ctrl = self._controller()
        net.add(Input("x", self.layer_sizes[0]), *layers, ctrl)
        fwd = self._per_layer("forward_init")
        rule = DendriticPredictionRule(self.window) if self.plasticity == "forward" else None
        for i, layer in enumerate(layers, 1):
            pre = "x" if i == 1 else f"l{i - 1}"
            net.add(
                Projection(
                    pre,
                    layer.name,
                    "basal",
                    weight=fwd[i - 1],
                    bias=self.bias,
                    plastic=True,
                    rule=rule,
                    name=f"W{i}",
                )
            )
        order = [layer.name for layer in layers]
        path = self._add_feedback(net, ctrl)  # App. H pathway f{L} .. f{1}, top down
        # delayed transmission reverses the node order (docs/design.md): list the pathway
        # reversed after the layers then, so that it still runs first and top down
        if self.transmission == "instantaneous":
            net.order = path + order
        else:
            net.order = order + path[::-1]
        for var in self.probes:
            net.add(Probe(var))
        net.options = {"builder": "HierarchyBuilder", "feedback": self.feedback}
        net.check()
        return net

    def _add_feedback(self, net: Network, ctrl: PIController) -> list[str]:
        """Add the feedback projections (and pathway); returns pathway nodes to order first."""
        L, fb = self.depth, self._per_layer("feedback_init")
        rule = AntiHebbianFeedbackRule(self.beta) if self.plasticity == "feedback" else None

        def q(pre: str, post: str, comp: str, i: int) -> Projection:
            return Projection(
                pre,
                post,
                comp,
                weight=fb[i - 1],
                plastic=True,
                role="feedback",
                rule=rule if comp == "apical" else None,
                name=f"Q{i}",
            )

        if self.feedback == "direct":
            net.add(*(q(ctrl.name, f"l{i}", "apical", i) for i in range(1, L + 1)))
            return []
        if self.feedback == "layerwise":
            net.add(*(q(f"l{i + 1}", f"l{i}", "apical", i) for i in range(1, L)))
            net.add(q(ctrl.name, f"l{L}", "apical", L))
            return []
        path = [f"f{i}" for i in range(L, 0, -1)]
        for i in range(L, 0, -1):
            net.add(Population(f"f{i}", self.layer_sizes[i], nonlinearity="linear", tau=None))
            net.add(q(ctrl.name if i == L else f"f{i + 1}", f"f{i}", "soma", i))
            net.add(
                Projection(
                    f"f{i}", f"l{i}", "apical", weight=Identity(1.0), role="feedback", name=f"A{i}"
                )
            )
        return path
