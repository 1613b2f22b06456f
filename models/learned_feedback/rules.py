"""The backward-weight rules: which regulariser R(B) = sum_l sum_k c_k P_k(B_l) each one
descends, with the reference code's default coefficients.

Kunin, Nayebi et al. (2020) write every rule as gradient descent on
``L(W, B) = J(W) + R(B)`` (fact sheet ``alignment_regularizers.md`` §2.3). The
coefficients here are keyed by primitive name in the **code's** convention (no 1/2 in
decay, null, sparse; :mod:`~neurosim.models.learned_feedback.primitives`), with the
defaults of the authors' ``params.py``. The code calls them alpha/beta/gamma, and its
Greek letters are not the slides' (the "naming swap"): keying by primitive avoids both.

==========  ==========================  =============================  ====================
rule        slides                      code (``--alignment``)         default coefficients
==========  ==========================  =============================  ====================
fa          R = 0                       feedback                       (none)
wm          a amp + b decay             mirror: alpha decay + beta amp decay 1e-3, amp 1e-3
ia          a amp + b decay + g null    information: alpha amp +       amp 2e-3, null 1e-3,
                                        beta null + gamma decay        decay 1e-3
sa          a self + b decay            symmetric: alpha decay +       decay 1e-3, self 2e-3
                                        beta self
aa          a amp + b sparse            activation: alpha sparse +     sparse 1e-3, amp 2e-3
                                        beta amp
kp          transposed W-gradient       kolen_pollack: alpha decay,    decay 1e-3 (on W too)
            + decay                     tie_grad
sign-sym    B = sign(W^T) * scale       (Liao et al. 2016; not a       (none)
                                        regulariser)
==========  ==========================  =============================  ====================
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    """One backward-weight rule.

    Attributes
    ----------
    name
        Registry name (``neurosim train --model NAME``).
    title
        Human name.
    paper
        Where the rule comes from.
    coefficients
        Default ``{primitive: coefficient}`` (code convention, ``params.py``).
    code_alignment
        The reference code's ``--alignment`` value and its loss in the code's letters.
    learned
        Whether B is trained (by its own optimiser).
    tie_grad
        Kolen–Pollack: B also receives the transposed W-gradient, and the decay acts
        on W as well ("equal decay on both").
    sign_symmetric
        B is not a free parameter but ``sign(W^T) * scale``.
    """

    name: str
    title: str
    paper: str
    coefficients: dict[str, float] = field(default_factory=dict)
    code_alignment: str = ""
    learned: bool = True
    tie_grad: bool = False
    sign_symmetric: bool = False


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "fa",
            "feedback alignment",
            "Lillicrap et al. 2016, Nat. Commun. 7:13276",
            code_alignment="feedback (R = 0)",
            learned=False,
        ),
        Rule(
            "wm",
            "weight mirror",
            "Akrout et al. 2019, NeurIPS (eq. 7); Kunin et al. 2020 Table 1",
            {"decay": 1e-3, "amp": 1e-3},
            "mirror: alpha*decay + beta*amp (alpha 1e-3, beta 1e-3)",
        ),
        Rule(
            "ia",
            "information alignment",
            "Kunin, Nayebi et al. 2020, ICML",
            {"amp": 2e-3, "null": 1e-3, "decay": 1e-3},
            "information: alpha*amp + beta*null + gamma*decay (2e-3, 1e-3, 1e-3)",
        ),
        Rule(
            "sa",
            "symmetric alignment",
            "Kunin, Nayebi et al. 2020, ICML",
            {"decay": 1e-3, "self": 2e-3},
            "symmetric: alpha*decay + beta*self (1e-3, 2e-3)",
        ),
        Rule(
            "aa",
            "activation alignment",
            "Kunin, Nayebi et al. 2020, ICML",
            {"sparse": 1e-3, "amp": 2e-3},
            "activation: alpha*sparse + beta*amp (1e-3, 2e-3)",
        ),
        Rule(
            "kp",
            "Kolen-Pollack",
            "Kolen & Pollack 1994; Akrout et al. 2019, NeurIPS",
            {"decay": 1e-3},
            "kolen_pollack: alpha*decay with tie_grad (alpha 1e-3)",
            tie_grad=True,
        ),
        Rule(
            "sign-sym",
            "sign symmetry",
            "Liao, Leibo & Poggio 2016, AAAI; Xiao et al. 2018",
            code_alignment="(not in the reference code)",
            learned=False,
            sign_symmetric=True,
        ),
    )
}


def get_rule(name: str) -> Rule:
    """The :class:`Rule` called ``name``; unknown names list the rules."""
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(
            f"learned_feedback: unknown rule {name!r}; the rules are {sorted(RULES)}"
        ) from None
