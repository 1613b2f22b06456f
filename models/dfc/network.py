"""Feedforward part of a DFC network: weights, the sweep and its Jacobian.

Pure torch kernels (no simulator): the feedforward pass of DFC.md §1.1 and the
Jacobian ``J = dr_L / d[v_1 .. v_L]`` of §1.4 that DFC-SSA and the diagnostics use.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """Rate nonlinearity ``phi(v)``; ``fn`` one of :data:`models.dfc.config.ACTIVATIONS`."""
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


def feedforward(
    x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor], activations: Sequence[str]
) -> tuple[list[Tensor], list[Tensor]]:
    """Feedforward sweep ``v_i^- = W_i r_{i-1}^- + b_i``, ``r_i^- = phi_i(v_i^-)``
    with ``r_0 = x`` (DFC.md §1.1).

    Shape: ``x`` (B, n_0); returns lists ``v``, ``r`` of (B, n_i), i = 1..L.
    """
    vs: list[Tensor] = []
    rs: list[Tensor] = []
    r = x
    for W, b, fn in zip(weights, biases, activations, strict=True):
        v = torch.addmm(b, r, W.t())
        r = phi(v, fn)
        vs.append(v)
        rs.append(r)
    return vs, rs


def propagate_from(
    x: Tensor,
    delta_v: Sequence[Tensor],
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    activations: Sequence[str],
) -> tuple[list[Tensor], list[Tensor]]:
    """Nonlinear upward propagation of apical pushes (DFC.md §1.4, DFC-SSA):
    ``v_i = Delta v_i + W_i r_{i-1} + b_i``, ``r_i = phi_i(v_i)``, ``r_0 = x``."""
    vs: list[Tensor] = []
    rs: list[Tensor] = []
    r = x
    for dv, W, b, fn in zip(delta_v, weights, biases, activations, strict=True):
        v = torch.addmm(b, r, W.t()) + dv
        r = phi(v, fn)
        vs.append(v)
        rs.append(r)
    return vs, rs


def layer_jacobians(
    vs: Sequence[Tensor], weights: Sequence[Tensor], activations: Sequence[str]
) -> list[Tensor]:
    """Blocks ``J_i = d r_L / d v_i`` at voltages ``vs`` (DFC.md §1.4, recursive):

    .. math::
        J_L = \\mathrm{diag}\\,\\phi_L'(v_L), \\qquad
        J_i = J_{i+1} W_{i+1} \\mathrm{diag}\\,\\phi_i'(v_i).

    Shape: each block is (B, n_L, n_i); concatenated along the last axis they form
    ``J`` of shape (B, n_L, sum_i n_i).
    """
    L = len(vs)
    blocks: list[Tensor] = [torch.empty(0)] * L
    d_L = phi_prime(vs[-1], activations[-1])
    blocks[-1] = torch.diag_embed(d_L)
    for i in range(L - 2, -1, -1):
        blocks[i] = torch.matmul(blocks[i + 1], weights[i + 1]) * phi_prime(
            vs[i], activations[i]
        ).unsqueeze(1)
    return blocks


def full_jacobian(
    vs: Sequence[Tensor], weights: Sequence[Tensor], activations: Sequence[str]
) -> Tensor:
    """``J = [J_1 .. J_L]``, shape (B, n_L, sum_i n_i); see :func:`layer_jacobians`."""
    return torch.cat(layer_jacobians(vs, weights, activations), dim=2)


def weight_product_feedback(weights: Sequence[Tensor]) -> list[Tensor]:
    """Fixed-feedback initialisation (DFC App. F eq. 221–222):
    ``Q_i = W_{i+1}^T W_{i+2}^T ... W_L^T`` for hidden layers, ``Q_L = I``.

    Returns a list of (n_i, n_L) tensors, i = 1..L.
    """
    n_L = weights[-1].shape[0]
    qs: list[Tensor] = [torch.eye(n_L, dtype=weights[-1].dtype, device=weights[-1].device)]
    for i in range(len(weights) - 2, -1, -1):
        qs.insert(0, weights[i + 1].t() @ qs[0])
    return qs
