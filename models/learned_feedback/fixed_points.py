"""Derived fixed points of the backward-weight rules on one linear layer, and plain
gradient descent of B to reach them (fact sheet ``alignment_regularizers.md`` §2.3).

For a layer ``y = W x`` with input second moment ``Sigma = E[x x^T]`` the expected
regulariser gradient (code convention, coefficients ``c_k``) vanishes at::

    wm   B* = (c_amp / (2 c_decay)) Sigma W^T                  -> 1/2 W^T (defaults, Sigma = I)
    ia   B* = (c_amp / (2 c_null)) Sigma W^T (W Sigma W^T + (c_decay / c_null) I)^-1
                                                                -> W^T (W W^T + I)^-1
    sa   B* = (c_self / (2 c_decay)) W^T                        -> W^T
    aa   B* = (c_amp / (2 c_sparse)) W^T   (Sigma > 0)          -> W^T
    wm + oja:  B* = Sigma W^T / ||Sigma W^T||_F

(derived for this project; the fact sheet's "checked" paragraph confirms the defaults
numerically). :func:`whitened_inputs` builds a batch whose sample second moment is
*exactly* ``sigma^2 I``, so descending the batch regulariser is descending the expected
one and B reaches B* to rounding error.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neurosim.models.learned_feedback.config import LearnedFeedbackConfig
from neurosim.models.learned_feedback.model import backward_weight_gradient


def whitened_inputs(n_samples: int, n_in: int, sigma: float, generator: torch.Generator) -> Tensor:
    """``x`` (n_samples, n_in) with ``x^T x / n_samples = sigma^2 I`` exactly (needs
    ``n_samples >= n_in``): scaled orthonormal columns of a Gaussian matrix."""
    if n_samples < n_in:
        raise ValueError(f"whitened_inputs: need n_samples >= n_in, got {n_samples} < {n_in}")
    g = torch.randn(n_samples, n_in, generator=generator, dtype=torch.float64)
    q, _ = torch.linalg.qr(g)
    return sigma * n_samples**0.5 * q


def derived_fixed_point(cfg: LearnedFeedbackConfig, W: Tensor, Sigma: Tensor) -> Tensor:
    """``B*`` of ``cfg.rule`` (module docstring) for forward weights ``W`` (n_out, n_in)
    and input second moment ``Sigma`` (n_in, n_in).

    Raises
    ------
    ValueError
        For rules without a regulariser fixed point (fa, kp, sign-sym) or coefficients
        that leave it undetermined (a zero denominator).
    """
    c = cfg.coefficients
    rule = cfg.rule

    def ratio(num: str, den: str) -> float:
        if c.get(den, 0.0) == 0.0:
            raise ValueError(f"{rule}: coefficients.{den} is 0, so B has no finite fixed point")
        return c.get(num, 0.0) / (2.0 * c[den])

    if rule == "wm" and cfg.oja:
        C = Sigma @ W.T
        return C / torch.linalg.matrix_norm(C)
    if rule == "wm":
        return ratio("amp", "decay") * Sigma @ W.T
    if rule == "ia":
        eye = torch.eye(W.shape[0], dtype=W.dtype, device=W.device)
        ridge = c.get("decay", 0.0) / c["null"] if c.get("null") else 0.0
        M = W @ Sigma @ W.T + ridge * eye
        return ratio("amp", "null") * Sigma @ W.T @ torch.linalg.inv(M)
    if rule == "sa":
        return ratio("self", "decay") * W.T
    if rule == "aa":
        return ratio("amp", "sparse") * W.T
    raise ValueError(f"{rule}: no regulariser fixed point (rule is not wm, ia, sa or aa)")


def descend(
    cfg: LearnedFeedbackConfig, W: Tensor, x: Tensor, B0: Tensor, steps: int, lr: float
) -> list[Tensor]:
    """Plain gradient descent ``B <- B - lr grad B`` on the rule's regulariser for inputs
    ``x`` (the layer's batch, fixed), W fixed; returns ``[B_0, .., B_steps]``."""
    B = B0.clone()
    out = [B.clone()]
    for _ in range(steps):
        B = B - lr * backward_weight_gradient(cfg, x, W, B)
        out.append(B.clone())
    return out


def curvature(cfg: LearnedFeedbackConfig, W: Tensor, x: Tensor, iters: int = 200) -> float:
    """Largest eigenvalue of the linear part of ``B -> grad B`` (power iteration), so
    that ``lr = 1 / curvature`` is a safe, fast step for :func:`descend`. The Oja
    variant's gradient is not linear in B; its Jacobian at the fixed point has largest
    eigenvalue ``2 c_amp ||mean x y^T||_F`` (derived), which is returned instead."""
    if cfg.oja:
        C = x.T @ (x @ W.T) / x.shape[0]
        return 2.0 * cfg.coefficients.get("amp", 0.0) * float(torch.linalg.matrix_norm(C))
    g0 = backward_weight_gradient(cfg, x, W, torch.zeros_like(W.T))
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(W.T.shape, generator=gen, dtype=W.dtype)
    lam = 0.0
    for _ in range(iters):
        v = v / torch.linalg.matrix_norm(v)
        Av = backward_weight_gradient(cfg, x, W, v) - g0
        lam = float((v * Av).sum())
        v = Av
    return abs(lam)


def relative_distance(B: Tensor, B_star: Tensor) -> float:
    """``||B - B*||_F / ||B*||_F``."""
    return float(torch.linalg.matrix_norm(B - B_star) / torch.linalg.matrix_norm(B_star))
