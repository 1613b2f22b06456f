"""Reciprocal pair: bottom-up ``A`` and top-down ``B`` trained by (linearised) Recirculation.

Cameron, Chen, Wagner & Sejnowski (poster, recirculation_pinv.md §2.1) and Hinton &
McClelland (NIPS 1987, §2.2 there).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.errors import ValidationError, check_choice, check_positive, check_size
from neurosim.core.init import Given, Normal, WeightInit, Zeros
from neurosim.core.population import Node

DRIVES = ("noise", "data")
VARIANTS = ("linear", "recirculation")


@dataclass(frozen=True)
class ReciprocalPair(Node):
    """A visible layer ``x`` (``size`` = m units) and a hidden layer ``h`` (``hidden`` = n
    units) joined by bottom-up weights ``A`` (n x m) and top-down weights ``B`` (m x n).

    One step is one recirculation (recirculation_pinv.md §2.1, the poster's "Dynamics"):

    .. math::
        h = A x, \\qquad \\hat x = B h, \\qquad \\hat h = A \\hat x,

    followed by both local rules, applied concurrently (each reads the same step's
    activities; the poster's "Learning rules"):

    .. math::
        \\Delta A = \\eta_A (h - \\hat h)\\, x^T, \\qquad
        \\Delta B = \\eta_B (x - \\hat x)\\, h^T,

    averaged over the batch. ``Delta B`` is the LMS rule ``-eta_B grad_B ½||x - BAx||²``;
    with white mean-zero drive (``drive="noise"``, ``Sigma = sigma² I``) its fixed point
    is the Moore-Penrose inverse ``B = A⁺`` of a wide, full-row-rank ``A``; with
    correlated data it is the Sigma-weighted inverse ``Sigma Aᵀ (A Sigma Aᵀ)⁻¹``, which
    satisfies Penrose conditions 1-3 but not 4 (§2.1, derived). An expanding pair
    (n > m) never changes ``B`` on ``range(A)``'s complement: the limit is
    ``A⁺ + B₀ P⊥``.

    ``variant="recirculation"`` is the original procedure of Hinton & McClelland (§2.2,
    as the replication ``Recirculation_ST_edit3.m`` implements it): logistic units and a
    second pass mixed with the first by ``lam`` (regression),

    .. math::
        h = \\sigma(A x + b_h), \\quad
        \\hat x = \\lambda x + (1-\\lambda)\\,\\sigma(B h + b_v), \\quad
        \\hat h = \\lambda h + (1-\\lambda)\\,\\sigma(A \\hat x + b_h),

    with the bottom-up rule's presynaptic term the second-pass visible state,
    ``Delta A = eta_A (h - ĥ) x̂ᵀ`` (the top-down rule is unchanged). With
    ``variant="linear"`` and ``lam = 0`` the two coincide except for that presynaptic term.

    IR variables: ``{name}.x``, ``{name}.xhat`` (visible), ``{name}.h``, ``{name}.hhat``
    (hidden), currents ``{name}.a_h = A x``, ``{name}.a_xhat = B h``,
    ``{name}.a_hhat = A x̂`` (plus biases), weights ``{name}.A``, ``{name}.B``, biases
    ``{name}.b_h``, ``{name}.b_v`` (``bias=True``) and, for ``drive="data"``, the
    time-varying input ``{name}.data`` (row ``k - 1`` drives step ``k``).

    Parameters
    ----------
    name : identifier (no dots).
    size : visible units m.
    hidden : hidden units n.
    drive : ``"noise"`` (``x = sigma xi``, white, fresh each step: the poster's noise
        variant, C2) or ``"data"`` (``x = data + sigma xi``).
    sigma : standard deviation of the white noise injected at the visible layer (> 0
        for ``drive="noise"``; 0 gives pure data drive).
    noise_mean : must be 0: a mean ``mu`` makes the drive's second moment
        ``sigma² I + mu muᵀ``, so ``B`` would learn a weighted inverse, not ``A⁺``
        (recirculation_pinv.md §4, "Noise"). It exists so that a request for biased
        noise fails loudly instead of being ignored.
    eta_A, eta_B : rates of the two rules (>= 0; ``eta_A = 0`` freezes ``A``, as the deep
        network's feedback learning does, §2.4).
    init_A, init_B : initialisers of ``A`` (default ``N(0, 1/m)``, §3 E1) and ``B``
        (default zeros, ``B₀ = 0``, which keeps ``B P⊥ = 0`` in an expanding pair).
    variant : ``"linear"`` (the poster) or ``"recirculation"`` (Hinton & McClelland).
    lam : second-pass mixing lambda of ``variant="recirculation"`` (None: 0.75, the
        replication's value; must be None or 0 for ``"linear"``).
    bias : biases ``b_h``, ``b_v`` (learned by the same rules with presynaptic input 1,
        the replication's constant unit).
    """

    hidden: int = 1
    drive: str = "noise"
    sigma: float = 1.0
    noise_mean: float = 0.0
    eta_A: float = 0.01  # noqa: N815  (paper notation)
    eta_B: float = 0.01  # noqa: N815
    init_A: WeightInit | None = None  # noqa: N815
    init_B: WeightInit = Zeros()  # noqa: N815
    variant: str = "linear"
    lam: float | None = None
    bias: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        who = f"ReciprocalPair '{self.name}'"
        check_size(self, "hidden", self.hidden)
        check_choice(self, "drive", self.drive, DRIVES)
        check_choice(self, "variant", self.variant, VARIANTS)
        check_choice(self, "bias", self.bias, (True, False))
        check_positive(self, "sigma", self.sigma, allow_zero=self.drive == "data")
        if not isinstance(self.noise_mean, (int, float)) or self.noise_mean != 0:
            raise ValidationError(
                who,
                "noise_mean",
                self.noise_mean,
                "is not 0: mean-biased noise has second moment sigma² I + mu muᵀ, so B "
                "would learn a weighted inverse, not the pseudoinverse of A",
                "inject mean-zero noise (noise_mean=0); to drive with an offset, use "
                "drive='data' and put the offset in the data",
            )
        for attr in ("eta_A", "eta_B"):
            value = getattr(self, attr)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValidationError(
                    who,
                    attr,
                    value,
                    "is not a valid learning rate",
                    "give a rate >= 0 (0 freezes the weight)",
                )
        self._check_lam(who)
        for attr, shape in (("init_A", self.shape_A), ("init_B", self.shape_B)):
            init = getattr(self, attr)
            if init is not None and not isinstance(init, WeightInit):
                raise ValidationError(
                    who,
                    attr,
                    init,
                    "is not an initialiser",
                    "give e.g. Normal(0.1) or Given(array)",
                )
            if isinstance(init, Given):
                self._check_chain(who, attr, init, shape)

    def _check_lam(self, who: str) -> None:
        lam = self.lam
        if self.variant == "linear":
            if lam not in (None, 0, 0.0):
                raise ValidationError(
                    who,
                    "lam",
                    lam,
                    "mixes the passes, which only the original Recirculation does",
                    "use variant='recirculation', or lam=None for the linear pair",
                )
            return
        ok = isinstance(lam, (int, float)) and not isinstance(lam, bool) and 0 <= lam < 1
        if lam is not None and not ok:
            raise ValidationError(who, "lam", lam, "is not in [0, 1)", "give 0 <= lam < 1")

    def _check_chain(self, who: str, attr: str, init: Given, shape: tuple[int, int]) -> None:
        got = tuple(init.value.shape)
        if got == shape:
            return
        m, n = self.size, self.hidden
        raise ValidationError(
            who,
            attr,
            f"Given(shape={got})",
            f"does not chain with the pair's layers (visible m={m}, hidden n={n}): "
            "h = A x needs A of shape (n, m) and x̂ = B h needs B of shape (m, n)",
            f"give an array of shape {shape}, or change size/hidden to match",
        )

    # -- derived ------------------------------------------------------------------------
    @property
    def shape_A(self) -> tuple[int, int]:  # noqa: N802
        """``(n, m)``: bottom-up weights, hidden x visible."""
        return (self.hidden, self.size)

    @property
    def shape_B(self) -> tuple[int, int]:  # noqa: N802
        """``(m, n)``: top-down weights, visible x hidden."""
        return (self.size, self.hidden)

    @property
    def mixing(self) -> float:
        """The second-pass mixing lambda actually used (0 for the linear pair)."""
        if self.variant == "linear":
            return 0.0
        return 0.75 if self.lam is None else float(self.lam)

    @property
    def nonlinearity(self) -> str:
        """Unit nonlinearity: identity (poster) or logistic (Hinton & McClelland)."""
        return "linear" if self.variant == "linear" else "logistic"

    @property
    def initial_A(self) -> WeightInit:  # noqa: N802
        """``init_A`` or the default ``N(0, 1/m)`` (recirculation_pinv.md §3, E1)."""
        return self.init_A if self.init_A is not None else Normal(std=self.size**-0.5)

    def var(self, what: str) -> str:
        """IR variable ``{name}.{what}`` (``x``, ``h``, ``xhat``, ``hhat``, ``A``, ``B``...)."""
        return f"{self.name}.{what}"

    # -- graph --------------------------------------------------------------------------
    @property
    def output(self) -> str:
        return self.var("h")

    @property
    def output_node(self) -> str:
        return f"{self.name}.hidden"

    def input_node(self, compartment: str) -> str:
        return f"{self.name}.visible"

    def graph_parts(self) -> list[tuple[str, dict]]:
        base = {"obj": self.name, "circuit": "ReciprocalPair"}
        return [
            (f"{self.name}.visible", {**base, "kind": "visible", "size": self.size}),
            (f"{self.name}.hidden", {**base, "kind": "hidden", "size": self.hidden}),
        ]

    def graph_edges(self) -> list[tuple[str, str, dict]]:
        v, h = f"{self.name}.visible", f"{self.name}.hidden"
        return [
            (v, h, {"name": self.var("A"), "role": "feedforward", "compartment": "hidden",
                    "shape": self.shape_A, "plastic": self.eta_A > 0}),
            (h, v, {"name": self.var("B"), "role": "feedback", "compartment": "visible",
                    "shape": self.shape_B, "plastic": self.eta_B > 0}),
        ]  # fmt: skip
