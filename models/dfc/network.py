"""Feedforward part of a DFC network: weights, the sweep and its Jacobian.

Pure torch kernels (no simulator): the feedforward pass of DFC.md §1.1 and the
Jacobian ``J = dr_L / d[v_1 .. v_L]`` of §1.4 that DFC-SSA and the diagnostics use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from neurosim.models.activations import phi, phi_prime


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
    _, vs, rs = propagate_basal(x, delta_v, weights, biases, activations)
    return vs, rs


def propagate_basal(
    x: Tensor,
    delta_v: Sequence[Tensor],
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    activations: Sequence[str],
    first_basal: Tensor | None = None,
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """:func:`propagate_from` that also returns the basal voltages
    ``v_i^B = W_i r_{i-1} + b_i`` (so ``v_i = v_i^B + Delta v_i``).

    ``first_basal``: ``W_1 x + b_1`` when already known (``v_1^-`` of the feedforward
    sweep, the same product: the result is unchanged bit for bit).
    Returns ``(v_basal, v, r)``, lists of (B, n_i).
    """
    vbs: list[Tensor] = []
    vs: list[Tensor] = []
    rs: list[Tensor] = []
    r = x
    for i, (dv, W, b, fn) in enumerate(zip(delta_v, weights, biases, activations, strict=True)):
        vb = first_basal if i == 0 and first_basal is not None else torch.addmm(b, r, W.t())
        v = vb + dv
        r = phi(v, fn)
        vbs.append(vb)
        vs.append(v)
        rs.append(r)
    return vbs, vs, rs


def phi_prime_at(v: Tensor, r: Tensor | None, fn: str) -> Tensor:
    """``phi'(v)``, from the rate ``r = phi(v)`` where that is exact and cheaper
    (``tanh``: ``1 - r^2``; ``logistic``: ``r (1 - r)``), else :func:`phi_prime`."""
    if r is not None and fn == "tanh":
        return 1.0 - r**2
    if r is not None and fn == "logistic":
        return r * (1.0 - r)
    return phi_prime(v, fn)


def layer_jacobians(
    vs: Sequence[Tensor],
    weights: Sequence[Tensor],
    activations: Sequence[str],
    rs: Sequence[Tensor] | None = None,
    out: Tensor | None = None,
) -> list[Tensor]:
    """Blocks ``J_i = d r_L / d v_i`` at voltages ``vs`` (DFC.md §1.4, recursive):

    .. math::
        J_L = \\mathrm{diag}\\,\\phi_L'(v_L), \\qquad
        J_i = J_{i+1} W_{i+1} \\mathrm{diag}\\,\\phi_i'(v_i).

    ``rs``: the rates ``phi_i(v_i)``, if known (``phi'`` is then taken from them,
    :func:`phi_prime_at`). ``out``: a (B, n_L, sum_i n_i) tensor the blocks are written
    into (they are then views of it).
    Shape: each block is (B, n_L, n_i); concatenated along the last axis they form
    ``J`` of shape (B, n_L, sum_i n_i).
    """
    L = len(vs)
    rs = list(rs) if rs is not None else [None] * L
    if out is None:
        dest: list[Tensor | None] = [None] * L
    else:
        dest = list(torch.split(out, [v.shape[1] for v in vs], dim=2))
    blocks: list[Tensor] = [torch.empty(0)] * L
    d_L = phi_prime_at(vs[-1], rs[-1], activations[-1])
    blocks[-1] = torch.diag_embed(d_L)
    if dest[-1] is not None:
        blocks[-1] = dest[-1].copy_(blocks[-1])
    for i in range(L - 2, -1, -1):
        prod = torch.matmul(blocks[i + 1], weights[i + 1])
        d = phi_prime_at(vs[i], rs[i], activations[i]).unsqueeze(1)
        blocks[i] = prod * d if dest[i] is None else torch.mul(prod, d, out=dest[i])
    return blocks


def full_jacobian(
    vs: Sequence[Tensor],
    weights: Sequence[Tensor],
    activations: Sequence[str],
    rs: Sequence[Tensor] | None = None,
) -> Tensor:
    """``J = [J_1 .. J_L]``, shape (B, n_L, sum_i n_i); see :func:`layer_jacobians`
    (the blocks are computed in place, no concatenation)."""
    B, n_L = vs[-1].shape
    J = vs[-1].new_empty(B, n_L, sum(v.shape[1] for v in vs))
    layer_jacobians(vs, weights, activations, rs, out=J)
    return J


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
