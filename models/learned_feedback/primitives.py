"""Layer-local regulariser primitives of Kunin, Nayebi et al. (2020), as their code defines them.

One layer maps its input ``x`` (batch, n_in) to the linear projection ``y = x W^T``
(batch, n_out) with forward weights ``W`` (n_out, n_in). Its backward matrix ``B``
(n_in, n_out) replaces ``W^T`` in the backward pass (``delta_in = delta_out B^T``,
row-vector convention). The primitives are the definitions of the authors' code
(``Alignments/primitives.py``; fact sheet ``alignment_regularizers.md`` §2.2): batch
means, and **no 1/2** in decay, null and sparse, so their B-gradients are twice the
slides' (the shipped coefficients compensate, §4 "Factor 2")::

    decay   P = ||W||^2 + ||B||^2                grad_B = 2 B          grad_W = 2 W
    amp     P = -mean_b x_b^T B y_b              grad_B = -mean_b x_b y_b^T
    null    P = mean_b ||B y_b||^2               grad_B = 2 B mean_b y_b y_b^T
    sparse  P = mean_b ||x_b^T B||^2  (+ W term) grad_B = 2 mean_b x_b x_b^T B
    self    P = -sum_ij W_ij B_ji = -tr(B W)     grad_B = -W^T

(The code's ``sparse`` adds ``mean ||W x||^2``, constant in B; ``null`` has a second,
"reconstruction reversal" term that information alignment switches off by default.)
W is a stop-gradient constant for every rule except Kolen–Pollack, which also decays W
(:func:`decay_weight_gradient`). Only decay, amp and null are local to B's synapses.

The slides' definitions are ``decay = 1/2 ||B||^2``, ``null = 1/2 ||B y||^2``,
``sparse = 1/2 ||x^T B||^2`` (the same amp and self): :data:`SLIDE_FACTOR` holds the
ratio code-gradient / slide-gradient of each primitive.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

#: the five primitives, in the slides' order
PRIMITIVES: tuple[str, ...] = ("decay", "amp", "null", "sparse", "self")
#: primitives that only use quantities available at B's synapse (slide table)
LOCAL: frozenset[str] = frozenset({"decay", "amp", "null"})
#: code gradient / slide gradient (the code omits the 1/2 of decay, null and sparse)
SLIDE_FACTOR: dict[str, float] = {"decay": 2.0, "amp": 1.0, "null": 2.0, "sparse": 2.0, "self": 1.0}


def check_layer(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> None:
    """Raise ``ValueError`` naming the argument whose shape does not fit the layer.

    ``W`` is (n_out, n_in); ``B`` must be its transpose's shape (n_in, n_out); ``x`` is
    (batch, n_in) and ``y`` (batch, n_out).
    """
    if W.dim() != 2:
        raise ValueError(
            f"primitives: W must be a matrix (n_out, n_in), got shape {tuple(W.shape)}"
        )
    n_out, n_in = W.shape
    if tuple(B.shape) != (n_in, n_out):
        raise ValueError(
            f"primitives: B has shape {tuple(B.shape)} but the backward matrix of a layer "
            f"with W of shape {tuple(W.shape)} must have W^T's shape ({n_in}, {n_out})"
        )
    if x.dim() != 2 or x.shape[1] != n_in:
        raise ValueError(f"primitives: x must be (batch, {n_in}), got shape {tuple(x.shape)}")
    if tuple(y.shape) != (x.shape[0], n_out):
        raise ValueError(
            f"primitives: y must be (batch, n_out) = ({x.shape[0]}, {n_out}), "
            f"got shape {tuple(y.shape)}"
        )


# -- values (the definitions; autograd of these is the reference in the tests) ------------
def decay(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    """``||W||^2 + ||B||^2`` (code ``decay``)."""
    return (W * W).sum() + (B * B).sum()


def amp(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    """``-mean_b sum_j (x_b B)_j y_bj`` (code ``amp``: backward-kernel projection of x
    times the forward projection)."""
    return -((x @ B) * y).sum(1).mean()


def null(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    """``mean_b ||B y_b||^2`` (code ``null``, first term: the backward reconstruction
    of the output)."""
    return ((y @ B.T) ** 2).sum(1).mean()


def sparse(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    """``mean_b ||x_b B||^2`` (code ``sparse`` without its B-independent ``||W x||^2``)."""
    return ((x @ B) ** 2).sum(1).mean()


def self_(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    """``-sum_ij W_ij B_ji`` (code ``self``; ``-tr(B W)``)."""
    return -(W * B.T).sum()


# -- closed-form gradients with respect to B --------------------------------------------
def decay_grad(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    return 2.0 * B


def amp_grad(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    return -(x.T @ y) / x.shape[0]


def null_grad(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    return (2.0 / y.shape[0]) * (B @ (y.T @ y))


def sparse_grad(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    return (2.0 / x.shape[0]) * ((x.T @ x) @ B)


def self_grad(x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    return -W.T


Primitive = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]

VALUES: dict[str, Primitive] = {
    "decay": decay,
    "amp": amp,
    "null": null,
    "sparse": sparse,
    "self": self_,
}
GRADIENTS: dict[str, Primitive] = {
    "decay": decay_grad,
    "amp": amp_grad,
    "null": null_grad,
    "sparse": sparse_grad,
    "self": self_grad,
}


def decay_weight_gradient(W: Tensor) -> Tensor:
    """``d decay / d W = 2 W``: the forward half of Kolen–Pollack's equal decay."""
    return 2.0 * W


def oja_term(x: Tensor, y: Tensor, B: Tensor) -> Tensor:
    """``B mean_b (x_b^T B y_b)``: the normalising term of Oja's rule for weight mirror
    (slides "Instability of Weight Mirror", fact sheet §2.4). With the amp gradient it
    gives ``Delta B = eta (mean x y^T - B mean x^T B y)``, whose fixed point is
    ``E[x y^T] / ||E[x y^T]||_F`` (unit Frobenius norm)."""
    return B * ((x @ B) * y).sum(1).mean()


def value(name: str, x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    """Value of primitive ``name`` on one layer (shapes checked)."""
    check_layer(x, y, W, B)
    return _lookup(VALUES, name)(x, y, W, B)


def gradient(name: str, x: Tensor, y: Tensor, W: Tensor, B: Tensor) -> Tensor:
    """Closed-form ``d P_name / d B`` on one layer (shapes checked)."""
    check_layer(x, y, W, B)
    return _lookup(GRADIENTS, name)(x, y, W, B)


def regularizer_gradient(
    coefficients: dict[str, float], x: Tensor, y: Tensor, W: Tensor, B: Tensor
) -> Tensor:
    """``d/dB sum_k c_k P_k`` for ``coefficients = {primitive: c_k}`` (zero terms skipped)."""
    check_layer(x, y, W, B)
    total = torch.zeros_like(B)
    for name, c in coefficients.items():
        if c != 0.0:
            total = total + c * _lookup(GRADIENTS, name)(x, y, W, B)
    return total


def _lookup(table: dict[str, Primitive], name: str) -> Primitive:
    try:
        return table[name]
    except KeyError:
        raise ValueError(
            f"primitives: unknown primitive {name!r}; the primitives are {list(PRIMITIVES)}"
        ) from None
