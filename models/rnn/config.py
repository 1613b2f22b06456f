"""Hyperparameters of the recurrent learners (autapse rule, BPTT, FA, DFA, RFLO).

One frozen dataclass for the five rules, so that a run of each rule with the same seed
starts from the same network (W, U, V and the feedback matrices: the source's shared
initialisation, autapse_rnn_fa.md §1 C3) and a config can switch the rule alone.
Defaults follow autapse_rnn_fa.md §2.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.models.config_params import ParamsConfig

IO_WEIGHTS = ("identity", "random")
FEEDBACK_NAMES = ("random",)
SHARING = ("pathway", "literal")
DFA_ERRORS = ("current", "local")


@dataclass(frozen=True)
class RNNConfig(ParamsConfig):
    """Network, feedback and learning rates of a recurrent learner.

    Network (autapse_rnn_fa.md §2.1): ``a(t) = W o(t-1) + U x(t) [+ b]``,
    ``o = sigma(a)`` (logistic), ``y_hat = V o [+ c]``.

    Parameters
    ----------
    hidden_size : N.
    io_weights : ``"identity"`` (U = V = I, needs N = 2, the source's figures) or
        ``"random"`` (U, V ~ N(0, 1/N)).
    w_init_std : W ~ N(0, w_init_std^2) (fact sheet: 0.1).
    feedback : B in R^{N x 2} of the autapse rule and RFLO (``B e`` reaches the layer):
        ``"random"`` (N(0, feedback_std^2)) or a nested list of shape (N, 2).
    feedback_sharing : how FA (N x N) and DFA (2 x N) get theirs. ``"pathway"``: DFA
        uses ``B^T`` (so it delivers the same ``B e`` as the autapse rule) and FA its own
        N(0, feedback_std^2 / N) draw; ``"literal"`` (N = 2 only, the source's shared
        2 x 2 B): FA's recursion uses ``B^T`` and DFA ``B^T e``, each as its equation
        says, while the autapse rule uses ``B e`` (fact sheet §4, "B vs B^T").
    tau : time constant of the autapse / RFLO trace, in steps (source: 5, 10, 15).
    lr : learning rate eta of W (and b).
    time_average : BPTT, FA, DFA: the source's eq. 1, each target step's unrolled
        update averaged over its t steps (``1/t``); False: the summed gradient.
    dfa_error : DFA through time: ``"current"`` (e(t) sent to every step s <= t,
        default) or ``"local"`` (step s gets its own e(s)).
    train_readout, lr_readout : learn V and an output bias c by the delta rule
        ``dV = -eta_V e o^T``, ``dc = -eta_V e`` (beyond the paper, a).
    train_bias : learn a recurrent bias b (beyond the paper, b).
    washout : first steps of each trajectory gated out of the error (no loss, no
        learning); 0 = none, as in the source.
    """

    hidden_size: int = 2
    io_weights: str = "identity"
    w_init_std: float = 0.1
    feedback: str | tuple = "random"
    feedback_std: float = 1.0
    feedback_sharing: str = "pathway"
    tau: float = 10.0
    lr: float = 0.05
    time_average: bool = True
    dfa_error: str = "current"
    train_readout: bool = False
    lr_readout: float = 0.05
    train_bias: bool = False
    washout: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        n = self.hidden_size
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name}: hidden_size must be an integer >= 1, got {n!r}")
        _choice(self, "io_weights", self.io_weights, IO_WEIGHTS)
        _choice(self, "feedback_sharing", self.feedback_sharing, SHARING)
        _choice(self, "dfa_error", self.dfa_error, DFA_ERRORS)
        if n != 2 and self.io_weights == "identity":
            raise ValueError(
                f"{name}: io_weights='identity' (U = V = I) needs hidden_size=2 for a 2-d "
                f"ball position, got hidden_size={n}; use io_weights='random'"
            )
        if n != 2 and self.feedback_sharing == "literal":
            raise ValueError(
                f"{name}: feedback_sharing='literal' shares one 2 x 2 B between the rules, "
                f"which needs hidden_size=2, got {n}; use feedback_sharing='pathway'"
            )
        for key in ("tau", "lr", "lr_readout", "feedback_std"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name}: {key} must be a number > 0, got {value!r}")
        if not isinstance(self.w_init_std, (int, float)) or self.w_init_std < 0:
            raise ValueError(f"{name}: w_init_std must be >= 0, got {self.w_init_std!r}")
        if isinstance(self.washout, bool) or not isinstance(self.washout, int) or self.washout < 0:
            raise ValueError(f"{name}: washout must be an integer >= 0, got {self.washout!r}")
        for key in ("time_average", "train_readout", "train_bias"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{name}: {key} must be true/false, got {getattr(self, key)!r}")
        object.__setattr__(self, "feedback", _feedback(self.feedback, n))

    @property
    def given_feedback(self) -> np.ndarray | None:
        """The feedback matrix B (N, 2) given in the config, or None (random)."""
        return None if isinstance(self.feedback, str) else np.asarray(self.feedback, float)


def _choice(cfg: object, key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{type(cfg).__name__}: {key}={value!r} is not one of {choices}")


def _feedback(value: Any, n: int) -> str | tuple:
    """``"random"`` or the matrix B as nested tuples, checked to be (N, 2) and finite."""
    if isinstance(value, str):
        if value not in FEEDBACK_NAMES:
            raise ValueError(
                f"RNNConfig: feedback={value!r} is not one of {FEEDBACK_NAMES} or a matrix"
            )
        return value
    try:
        B = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"RNNConfig: feedback={value!r} is neither 'random' nor a numeric matrix"
        ) from None
    if B.shape != (n, 2) or not np.all(np.isfinite(B)):
        raise ValueError(
            f"RNNConfig: feedback matrix B has shape {B.shape}, expected (hidden_size, 2) = "
            f"({n}, 2) with finite entries (B maps the 2-d output error to the {n} units)"
        )
    return tuple(tuple(float(v) for v in row) for row in B)
