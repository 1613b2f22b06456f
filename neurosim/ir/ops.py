"""The op vocabulary of the backend-neutral IR.

A built :class:`~neurosim.ir.model.Model` is a list of named variables plus two
ordered op lists: ``init_ops`` (run once when a sample is loaded: the
feedforward sweep, the controller's output target) and ``step_ops`` (one Euler
step of the dynamics, run ``T - 1`` times for ``T`` time samples).

Semantics shared by every backend
---------------------------------
* Ops run **in list order**, and each op reads the *current* value of every
  variable it reads. Order therefore encodes the update scheme: the DFC paper's
  instantaneous transmission (App. E.1) is "layers in ascending order", its
  proactive controller is "controller before layers". A backend must reproduce
  this order exactly (brian2: explicit ``order`` per operation).
* Every op declares ``reads`` and ``writes`` (variable names). Backends use them
  for scheduling, hoisting (an op whose reads are never written by a step op is
  loop-invariant and is computed once per sample) and for trace recording.
* Per-sample variables have shape ``(batch, size)``; parameters (weights,
  biases) are shared over the batch.
* Time is dimensionless in the rate model (the paper's units); ``dt`` lives on
  the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NONLINEARITIES = ("linear", "tanh", "relu", "logistic", "softplus", "leaky_relu")


@dataclass(frozen=True)
class Op:
    """Base class of IR ops. ``name`` is unique within a model."""

    name: str

    @property
    def reads(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def writes(self) -> tuple[str, ...]:
        raise NotImplementedError

    def describe(self) -> str:
        """One readable line, ``writes <- expression``."""
        raise NotImplementedError

    @property
    def stateful(self) -> bool:
        """True when the result is not a function of ``reads`` alone (the op draws
        random numbers or keeps hidden state), so a backend must run it every step."""
        return False


@dataclass(frozen=True)
class DenseProjection(Op):
    """``out = weight @ pre (+ bias)``, a synaptic current into one compartment.

    ``out`` is a per-projection current variable (one per projection, so that
    brian2 can give each its own ``(summed)`` variable); the target compartment
    sums its currents in an :class:`Integrate` op.

    Reads ``pre``, ``weight`` (and ``bias``); writes ``out``.
    """

    weight: str = ""
    pre: str = ""
    out: str = ""
    bias: str | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.pre, self.weight) + ((self.bias,) if self.bias else ())

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.out,)

    def describe(self) -> str:
        b = f" + {self.bias}" if self.bias else ""
        return f"{self.out} <- {self.weight} @ {self.pre}{b}"


@dataclass(frozen=True)
class Integrate(Op):
    """Leaky linear integration of one compartment (Euler or Euler-Maruyama).

    .. math::
        \\tau \\frac{dx}{dt} = -g_{leak}\\, x + \\sum_j c_j\\, y_j + \\sigma\\,\\xi(t)

    discretised as ``x += dt/tau * (-leak*x + sum_j c_j*y_j) + sigma*sqrt(dt)/tau*N(0,1)``
    (the noise scaling of the DFC reference code, App. E.1). ``tau=None`` makes the
    compartment instantaneous: ``x = sum_j c_j*y_j / leak`` (noise must be 0).

    Eq. 1 of the DFC paper is the soma with ``leak=1`` and inputs ``v_B, v_A`` with
    gain 1; the conductance form of App. G has ``leak = g_L + g_B + g_A`` and gains
    ``g_B, g_A``; an autapse integrator with self-weight ``w`` has ``leak = 1 - w``.

    Reads ``inputs`` variables (and ``var`` unless instantaneous); writes ``var``.
    """

    var: str = ""
    tau: float | None = None
    leak: float = 1.0
    inputs: tuple[tuple[float, str], ...] = ()
    noise_sigma: float = 0.0
    noise_seed: int | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        own = () if self.tau is None else (self.var,)
        return own + tuple(v for _, v in self.inputs)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.var,)

    @property
    def stateful(self) -> bool:
        return self.noise_sigma != 0.0

    def describe(self) -> str:
        drive = " + ".join(f"{g:g}*{v}" for g, v in self.inputs) or "0"
        if self.tau is None:
            lk = "" if self.leak == 1.0 else f" / {self.leak:g}"
            return f"{self.var} <- ({drive}){lk}"
        noise = f" + {self.noise_sigma:g}*sqrt(dt)/tau*xi" if self.noise_sigma else ""
        return (
            f"{self.var} <- {self.var} + dt/{self.tau:g}*(-{self.leak:g}*{self.var} + {drive})"
            f"{noise}"
        )


@dataclass(frozen=True)
class UnaryOp(Op):
    """An op computing ``dst`` from ``src`` alone. Reads ``src``; writes ``dst``."""

    src: str = ""
    dst: str = ""

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.src,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.dst,)


@dataclass(frozen=True)
class Nonlinearity(UnaryOp):
    """Rate from voltage: ``dst = phi(src)``; ``phi`` one of :data:`NONLINEARITIES`."""

    fn: str = "tanh"

    def describe(self) -> str:
        return f"{self.dst} <- {self.fn}({self.src})"


@dataclass(frozen=True)
class NonlinearityDifference(Op):
    """Rate difference about an operating point:
    ``dst = phi(at + src) - phi(at + src_baseline)`` (``src_baseline=None``:
    ``phi(at + src) - phi(at)``); ``phi`` one of :data:`NONLINEARITIES`.

    The rate op of a model simulated in deviation variables
    (:func:`neurosim.ir.deviation.deviation_form`): ``at`` is the operating-point
    voltage, ``src`` and ``src_baseline`` are deviations from it. Backends compute it
    without forming the two rates and subtracting them (that subtraction keeps only
    the digits of ``phi(at)`` that the deviation reaches, nothing in float32 once
    the deviations are ~1e-7 of the voltage), from exact identities such as
    (``x = src``, ``y = src_baseline``)::

        tanh       tanh(a+x) - tanh(a+y) = sinh(x-y) / (cosh(a+x) cosh(a+y))
        logistic   s(a+x) - s(a+y) = s(a+x) s(-a-y) (1 - exp(-(x-y)))
        softplus   sp(a+x) - sp(a+y) = log1p(s(a+y) expm1(x-y))
        relu, leaky_relu, linear: x - y (times the slope) on a common linear piece

    Reads ``at``, ``src`` (and ``src_baseline``); writes ``dst``.
    """

    fn: str = "tanh"
    at: str = ""
    src: str = ""
    src_baseline: str | None = None
    dst: str = ""

    @property
    def reads(self) -> tuple[str, ...]:
        base = (self.src_baseline,) if self.src_baseline else ()
        return (self.at, self.src) + base

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.dst,)

    def describe(self) -> str:
        base = f"{self.at} + {self.src_baseline}" if self.src_baseline else self.at
        return f"{self.dst} <- {self.fn}({self.at} + {self.src}) - {self.fn}({base})"


@dataclass(frozen=True)
class Copy(UnaryOp):
    """``dst = src``: a snapshot, e.g. the previous step's apical voltage that the
    feedback rule (DFC eq. 13 as implemented, App. E.2) pairs with the new control."""

    def describe(self) -> str:
        return f"{self.dst} <- {self.src}"


@dataclass(frozen=True)
class OutputTarget(Op):
    """Controller target (DFC eq. 3): ``out = r_L - lam * dL/dr_L`` at the current
    output ``output`` and per-sample ``label`` (one-hot for cross-entropy, a vector
    for MSE).

    * ``loss="mse"``: ``L = ||r - y||^2 / n``, so ``dL/dr = 2 (r - y) / n`` — pass
      ``lam`` already divided by any batch-mean factor the caller wants.
    * ``loss="cross_entropy"``: softmax absorbed into the loss (App. F eq. 223),
      ``dL/dr = softmax(r) - y``.
    * ``loss="given"``: ``out = label`` (the target is supplied directly).

    Reads ``output``, ``label``; writes ``out``. Usually an init op.
    """

    output: str = ""
    label: str = ""
    out: str = ""
    loss: Literal["mse", "cross_entropy", "given"] = "mse"
    lam: float = 0.1

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.label,) if self.loss == "given" else (self.output, self.label)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.out,)

    def describe(self) -> str:
        if self.loss == "given":
            return f"{self.out} <- {self.label}"
        gradient = f"d{self.loss}({self.output}, {self.label})"
        return f"{self.out} <- {self.output} - {self.lam:g} * {gradient}"


@dataclass(frozen=True)
class LocalPlasticity(Op):
    """An outer-product local learning rule, accumulated over the run.

    .. math::
        \\Delta W \\propto \\text{scale} \\cdot \\frac{1}{N}\\sum_k
            \\big(f(\\text{post}[k]) - f(\\text{post\\_baseline}[k])\\big)\\,
            \\text{pre}[k]^T \\; - \\; \\text{decay}\\cdot W

    averaged over the batch. ``f`` is ``fn`` (``"linear"`` for identity).

    * DFC forward rule (eq. 5, App. E): ``post = v`` (soma), ``post_baseline = v_B``
      (basal), ``fn = phi``, ``pre = r_{l-1}``, ``window="all"`` (DFC: time average
      over the whole forward phase, including the initial state, N = T) or
      ``"last"`` (DFC-SS: last step only). ``bias`` gets the same post factor.
    * DFC feedback rule (eq. 13, App. E.2): ``post = v_A`` of the previous step,
      ``pre = u``, ``fn = linear``, ``scale = -1`` (anti-Hebbian), ``decay = beta``,
      ``window="steps"`` (N = number of steps, the initial state excluded).

    In deviation variables (:func:`neurosim.ir.deviation.deviation_form`) the factors
    are taken about an operating point: with ``at`` set, the post factor is
    ``f(at + post) - f(at + post_baseline)`` (``post_baseline=None``: ``f(at + post)
    - f(at)``), computed as :class:`NonlinearityDifference` does (never as a
    difference of two rates); with ``pre_at`` set, the pre factor is
    ``pre_at + pre``.

    The op is evaluated after the step ops (its place in ``step_ops`` marks when it
    samples); backends either accumulate ``dW`` and hand it back once per run
    (batch learning, as the paper's code) or apply ``weight += eta*dt*dW_k`` every
    step (online learning; brian2 always does this, as a synaptic ODE).

    Reads ``post``, ``post_baseline``, ``pre``, ``weight`` (and ``at``, ``pre_at``);
    writes nothing in the dynamics (its update goes to ``weight`` when applied).
    """

    weight: str = ""
    post: str = ""
    pre: str = ""
    post_baseline: str | None = None
    fn: str = "linear"
    bias: str | None = None
    scale: float = 1.0
    decay: float = 0.0
    window: Literal["all", "last", "steps"] = "all"
    at: str | None = None
    pre_at: str | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        base = (self.post_baseline,) if self.post_baseline else ()
        points = tuple(v for v in (self.at, self.pre_at) if v)
        return (self.post,) + base + (self.pre, self.weight) + points

    @property
    def writes(self) -> tuple[str, ...]:
        return ()

    @property
    def updates(self) -> tuple[str, ...]:
        """Parameters this rule changes."""
        return (self.weight,) + ((self.bias,) if self.bias else ())

    def describe(self) -> str:
        f = self.fn
        at = f"{self.at} + " if self.at else ""
        post = f"{f}({at}{self.post})" if f != "linear" or at else self.post
        if self.post_baseline or self.at:
            arg = f"{at}{self.post_baseline}" if self.post_baseline else str(self.at)
            base = f"{f}({arg})" if f != "linear" or at else arg
            post = f"({post} - {base})"
        pre = f"({self.pre_at} + {self.pre})" if self.pre_at else self.pre
        decay = f" - {self.decay:g}*{self.weight}" if self.decay else ""
        return f"d{self.weight} += {self.scale:g} * <{post} {pre}^T>_{self.window}{decay}"


@dataclass(frozen=True)
class SpikeSoma(UnaryOp):
    """Spiking output of a soma (brian2 biophysical variants; torch supports Poisson).

    * ``model="poisson"``: a spike per step with probability
      ``p = min(1, max_rate * dt * clip(rho, 0, 1))``, ``rho = (phi(src) + offset) / span``
      (``(offset, span)`` = ``(1, 2)`` for tanh, ``(0, 1)`` otherwise, or ``extra``):
      the rate saturates at ``max_rate`` for an unbounded ``phi`` (relu, softplus, ...),
      in both backends.
    * ``model="lif"``: integrate-and-fire on ``src`` with threshold, reset and
      refractory period ``tau_ref``.

    ``dst`` holds a low-pass filtered spike train (synaptic trace with time constant
    ``tau_syn``) in rate units, so downstream projections read it like a rate.
    Reads ``src``; writes ``dst``.
    """

    fn: str = "tanh"
    model: Literal["poisson", "lif"] = "poisson"
    max_rate: float = 200.0
    tau_syn: float = 0.01
    tau_ref: float = 0.002
    threshold: float = 1.0
    seed: int | None = None
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def stateful(self) -> bool:
        return True  # random spikes (Poisson) or hidden membrane/refractory state (LIF)

    def describe(self) -> str:
        return f"{self.dst} <- spikes[{self.model}]({self.fn}({self.src}))"


@dataclass(frozen=True)
class ErrorSignal(Op):
    """Error neurons: ``out = gate * (prediction - target)``, elementwise.

    The output error of an online learner (Wang, Gray & Banerjee, ``e(t) = y_hat(t) -
    y(t)``; autapse_rnn_fa.md §2.1): ``prediction`` is the network's readout and
    ``target`` a (usually time-varying) teacher signal, both per-sample variables of one
    size. ``gate`` (optional, same size) multiplies the difference, e.g. a 0/1 mask of
    the steps or coordinates on which there is something to learn; without it the gate
    is 1. A plasticity op reading ``out`` is then an online rule with a gated error.

    Reads ``prediction``, ``target`` (and ``gate``); writes ``out``.
    """

    prediction: str = ""
    target: str = ""
    out: str = ""
    gate: str | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prediction, self.target) + ((self.gate,) if self.gate else ())

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.out,)

    def describe(self) -> str:
        gate = f"{self.gate} * " if self.gate else ""
        return f"{self.out} <- {gate}({self.prediction} - {self.target})"
