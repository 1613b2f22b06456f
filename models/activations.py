"""Rate nonlinearities of the trainable models and their derivatives (torch kernels).

``phi`` is the rate function of DFC eq. 1 (``r = phi(v)``); ``phi_prime`` its
elementwise derivative, the diagonal of the Jacobian blocks of DFC-SSA (DFC.md §1.4),
of the diagnostics and of the FA/DFA/BP baselines.
"""

from __future__ import annotations

import torch
from torch import Tensor

_PHI = {
    "linear": lambda v: v,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "logistic": torch.sigmoid,
    "softplus": torch.nn.functional.softplus,
}


def phi(v: Tensor, fn: str) -> Tensor:
    """Rate nonlinearity ``phi(v)``; ``fn`` one of the keys of ``_PHI``."""
    return _PHI[fn](v)


def phi_prime(v: Tensor, fn: str) -> Tensor:
    """Elementwise derivative ``phi'(v)`` (the diagonal of ``d phi / d v``)."""
    if fn == "linear":
        return torch.ones_like(v)
    if fn == "tanh":
        return 1.0 - torch.tanh(v) ** 2
    if fn == "relu":
        return (v > 0).to(v.dtype)
    if fn == "logistic":
        s = torch.sigmoid(v)
        return s * (1.0 - s)
    if fn == "softplus":
        return torch.sigmoid(v)
    raise ValueError(f"phi_prime: unknown activation {fn!r}")
