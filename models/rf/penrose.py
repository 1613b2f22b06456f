"""Penrose diagnostics of a matrix pair and the product of pseudoinverses of a chain.

For ``A`` (n x m) and a candidate inverse ``B`` (m x n), the four Moore-Penrose
conditions (recirculation_pinv.md §2.1, as the poster states them) are
(1) ``ABA = A``, (2) ``BAB = B``, (3) ``(AB)ᵀ = AB``, (4) ``(BA)ᵀ = BA``; ``B = A⁺``
exactly when all four hold. Their residuals are measured relative (Frobenius norms,
§3 E1)::

    r1 = ||ABA - A|| / ||A||          r3 = ||(AB)ᵀ - AB|| / ||AB||
    r2 = ||BAB - B|| / ||B||          r4 = ||(BA)ᵀ - BA|| / ||BA||
    d  = ||B - pinv(A)|| / ||pinv(A)||

always against the *current* ``A``: the fixed points of Recirculation form the
manifold ``{(A, A⁺)}`` along which ``A`` keeps drifting (§2.1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

#: keys of :func:`penrose_residuals`, in order
RESIDUALS = ("r1", "r2", "r3", "r4", "pinv_dist")


def _as_tensor(M: Tensor | np.ndarray, what: str) -> Tensor:
    t = torch.as_tensor(M)
    if t.dim() != 2 or not t.is_floating_point() or t.numel() == 0:
        raise ValueError(
            f"penrose_residuals: {what} must be a non-empty 2-d float matrix, got shape "
            f"{tuple(t.shape)} and dtype {t.dtype}"
        )
    return t.detach()


def _rel(num: Tensor, den: Tensor) -> float:
    d = torch.linalg.matrix_norm(den)
    return float(torch.linalg.matrix_norm(num) / d) if d > 0 else float("nan")


def penrose_residuals(A: Tensor | np.ndarray, B: Tensor | np.ndarray) -> dict[str, float]:
    """The relative Penrose residuals ``r1..r4`` of ``B`` as an inverse of ``A`` and the
    relative distance ``pinv_dist = ||B - A⁺|| / ||A⁺||`` (module docstring).

    Parameters
    ----------
    A : (n, m) matrix (torch tensor or numpy array).
    B : (m, n) matrix: the candidate inverse.

    Returns
    -------
    ``{"r1", "r2", "r3", "r4", "pinv_dist"}`` as floats (nan where a denominator is 0,
    e.g. ``r2`` of ``B = 0``).

    Raises
    ------
    ValueError
        If ``A`` and ``B`` do not chain (``B`` must have ``A``'s transposed shape).
    """
    A, B = _as_tensor(A, "A"), _as_tensor(B, "B")
    if tuple(B.shape) != tuple(A.shape[::-1]):
        raise ValueError(
            f"penrose_residuals: A of shape {tuple(A.shape)} (n x m) and B of shape "
            f"{tuple(B.shape)} do not chain: B must be (m x n) = {tuple(A.shape[::-1])}"
        )
    dtype = torch.promote_types(A.dtype, B.dtype)
    A, B = A.to(dtype), B.to(A.device, dtype)
    AB, BA = A @ B, B @ A
    P = torch.linalg.pinv(A)
    return {
        "r1": _rel(AB @ A - A, A),
        "r2": _rel(B @ AB - B, B),
        "r3": _rel(AB.T - AB, AB),
        "r4": _rel(BA.T - BA, BA),
        "pinv_dist": _rel(B - P, P),
    }


def _matmul_chain(factors: Sequence[Tensor], caller: str, convention: str) -> Tensor:
    """``M_1 M_2 ⋯ M_k`` of ``factors = [M_1, .., M_k]``, refusing shapes that do not chain."""
    out = factors[0]
    for M in factors[1:]:
        if out.shape[1] != M.shape[0]:
            raise ValueError(
                f"{caller}: factors of shapes {tuple(out.shape)} and {tuple(M.shape)} do not "
                f"chain ({convention})"
            )
        out = out @ M
    return out


def chain_product(weights: Sequence[Tensor]) -> Tensor:
    """``J = W_L ⋯ W_1`` of a chain ``weights = [W_1, .., W_L]`` (``W_i`` is
    n_i x n_{i-1}), the linear map from the chain's input to its output."""
    return _matmul_chain(weights[::-1], "chain_product", "W_i must be n_i x n_(i-1)")


def feedback_product(feedback: Sequence[Tensor]) -> Tensor:
    """``P = B_1 B_2 ⋯ B_L`` for ``feedback = [B_1, .., B_L]`` (``B_i`` is
    n_{i-1} x n_i): the layer-wise feedback of the deep RF rule, ordered as in
    recirculation_pinv.md §2.3 (``B_{l+1} B_{l+2} ⋯ B_L``, not reversed)."""
    return _matmul_chain(feedback, "feedback_product", "B_i must be n_(i-1) x n_i")
