"""Rate nonlinearities of the trainable models and their derivatives (torch kernels).

``phi`` is the rate function of DFC eq. 1 (``r = phi(v)``); ``phi_difference`` the
difference ``phi(a + x) - phi(a + y)`` by exact identities (the deviation form, never
two rates subtracted; the same kernel as the simulator's); ``phi_prime`` its
elementwise derivative, the diagonal of the Jacobian blocks of DFC-SSA (DFC.md §1.4),
of the diagnostics and of the FA/DFA/BP baselines.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from neurosim.backends.torch.difference import phi_difference

__all__ = ["ACTIVATIONS", "hidden_activations", "phi", "phi_difference", "phi_prime"]

_PHI = {
    "linear": lambda v: v,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "logistic": torch.sigmoid,
    "softplus": torch.nn.functional.softplus,
}


#: the rate functions every model accepts (config keys ``hidden_activation``,
#: ``output_activation``)
ACTIVATIONS = tuple(_PHI)


def hidden_activations(
    owner: str, hidden_activation: str | Sequence[str], n_hidden: int
) -> tuple[str, ...]:
    """One activation per hidden layer from a config's ``hidden_activation`` (one name
    for every layer, or one per layer); a length mismatch is an error naming ``owner``."""
    acts = (
        (hidden_activation,) * n_hidden
        if isinstance(hidden_activation, str)
        else tuple(hidden_activation)
    )
    if len(acts) != n_hidden:
        raise ValueError(
            f"{owner}: hidden_activation has {len(acts)} entries but size_hidden has "
            f"{n_hidden} layers; give one activation or one per hidden layer"
        )
    return acts


def phi(v: Tensor, fn: str) -> Tensor:
    """Rate nonlinearity ``phi(v)``; ``fn`` one of :data:`ACTIVATIONS`."""
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
