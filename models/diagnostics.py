"""Diagnostics of DFC on a probe batch (DFC App. F.1).

Pure functions of the network state; :meth:`neurosim.models.dfc.model.DFCModel.diagnostics`
assembles them once per epoch.

* Condition 1 (eq. 214–215): the layer activations ``r_0 .. r_{L-1}`` have equal
  norms; measured per sample as the relative standard deviation of the norms,
  ``sqrt(mean_i (||r_i|| - m)^2) / m`` with ``m = mean_i ||r_i||``, then batch-averaged.
  (The reference code divides the variance by ``m`` inside the square root; we use the
  formula as written.)
* Condition 2 (eq. 212–213): ``Q`` lies in the column space of ``J^T``; measured as
  ``||P_J Q||_F / ||Q||_F`` with ``P_J = J^T (J J^T)^{-1} J``, batch-averaged (1 when it
  holds).
* Stability: the largest real part of the eigenvalues of the linearised closed loop
  (network + PI controller) around a state ``v``, per sample.
* Angles between a method's update and reference updates: the BP gradient, the
  Gauss–Newton update on the voltages (``Delta v = J^+ delta_L``, Theorem 2), the damped
  minimum-norm update of the parameters (Theorem 3, damping ``alpha``) and the DFC-SSA
  update — per layer, over the concatenated ``(W_i, b_i)``, with the angle functions of
  :mod:`neurosim.models.alignment_diagnostics` (the metric keys every rule shares).

All updates here are *descent directions* (``-grad``), as lists of ``(dW_i, db_i)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from neurosim.models.activations import phi_prime
from neurosim.models.alignment_diagnostics import angle, layer_angles  # noqa: F401 (re-exported)
from neurosim.models.dfc.network import feedforward, layer_jacobians

Update = list[tuple[Tensor, Tensor]]


def condition_one(x: Tensor, rs: Sequence[Tensor]) -> float:
    """Condition-1 measure (App. F eq. 214–215): mean over samples of the relative
    standard deviation of ``||r_0||, .., ||r_{L-1}||`` (0 when it holds exactly)."""
    norms = torch.stack([torch.linalg.vector_norm(r, dim=1) for r in (x, *rs[:-1])], dim=0)
    m = norms.mean(0)
    dev = torch.sqrt(((norms - m) ** 2).mean(0)) / m
    return float(dev.mean())


def condition_two(J: Tensor, Q: Tensor) -> float:
    """Condition-2 measure (App. F eq. 212–213): mean over samples of
    ``||J^T (J J^T)^{-1} J Q||_F / ||Q||_F``; ``J`` (B, n_L, N), ``Q`` (N, n_L)."""
    JQ = J @ Q
    JJt = J @ J.transpose(1, 2)
    proj_Q = J.transpose(1, 2) @ torch.linalg.solve(JJt, JQ)
    ratio = torch.linalg.matrix_norm(proj_Q) / torch.linalg.matrix_norm(Q)
    return float(ratio.mean())


def system_matrix(
    vs: Sequence[Tensor],
    weights: Sequence[Tensor],
    Q: Tensor,
    activations: Sequence[str],
    alpha: float,
    k_p: float,
    tau_v: float,
) -> Tensor:
    """Linearised closed loop around voltages ``vs`` (instantaneous apical
    compartments and transmission, PI controller ``u = u_int + k_p e``,
    ``du_int/dt = e - alpha u``; DFC eq. 1–4):

    .. math::
        A = \\begin{pmatrix} -(I-\\hat J)/\\tau_v & \\bar Q/\\tau_v \\\\
        -J_L^o + \\tfrac{k_p}{\\tau_v} J_L^o (I-\\hat J) &
        -\\alpha I - \\tfrac{k_p}{\\tau_v} J_L^o \\bar Q \\end{pmatrix}

    for the state ``(delta v, delta u)``, with ``\\hat J`` the block sub-diagonal
    ``W_i diag phi'(v_{i-1})`` and ``J_L^o = [0 .. diag phi_L'(v_L)]``.
    Shape (B, N + n_L, N + n_L).
    """
    B = vs[0].shape[0]
    sizes = [v.shape[1] for v in vs]
    N, n_L = sum(sizes), sizes[-1]
    dtype, device = vs[0].dtype, vs[0].device
    J_hat = torch.zeros(B, N, N, dtype=dtype, device=device)
    off = [0]
    for s in sizes:
        off.append(off[-1] + s)
    for i in range(1, len(vs)):
        d_prev = phi_prime(vs[i - 1], activations[i - 1])
        J_hat[:, off[i] : off[i + 1], off[i - 1] : off[i]] = weights[i] * d_prev.unsqueeze(1)
    J_Lo = torch.zeros(B, n_L, N, dtype=dtype, device=device)
    J_Lo[:, :, off[-2] :] = torch.diag_embed(phi_prime(vs[-1], activations[-1]))
    eye_N = torch.eye(N, dtype=dtype, device=device)
    eye_L = torch.eye(n_L, dtype=dtype, device=device)
    a11 = -(eye_N - J_hat) / tau_v
    a12 = (Q / tau_v).expand(B, N, n_L)
    a21 = -J_Lo + (k_p / tau_v) * J_Lo @ (eye_N - J_hat)
    a22 = -alpha * eye_L - (k_p / tau_v) * J_Lo @ Q
    return torch.cat([torch.cat([a11, a12], 2), torch.cat([a21, a22], 2)], 1)


def max_real_eigenvalue(A: Tensor) -> Tensor:
    """Largest real part of the eigenvalues of each matrix in the batch ``A``."""
    return torch.linalg.eigvals(A).real.amax(dim=1)


def bp_update(
    x: Tensor,
    y: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    activations: Sequence[str],
    loss: Callable[[Tensor, Tensor], Tensor],
) -> Update:
    """Negative backprop gradient of the batch-mean loss."""
    ws = [w.detach().requires_grad_(True) for w in weights]
    bs = [b.detach().requires_grad_(True) for b in biases]
    with torch.enable_grad():
        _, rs = feedforward(x, ws, bs, activations)
        grads = torch.autograd.grad(loss(rs[-1], y), [*ws, *bs])
    L = len(ws)
    return [(-grads[i], -grads[L + i]) for i in range(L)]


def voltage_update(x: Tensor, rs: Sequence[Tensor], delta_v: Sequence[Tensor]) -> Update:
    """Weight update from voltage changes, ``dW_i = (2/B) sum_b dv_i r_{i-1}^T``,
    ``db_i = 2 mean_b dv_i`` (the linearised steady-state rule)."""
    B = x.shape[0]
    pres = (x, *rs[:-1])
    return [
        ((2.0 / B) * dv.t() @ r, (2.0 / B) * dv.sum(0)) for dv, r in zip(delta_v, pres, strict=True)
    ]


def gauss_newton_update(
    x: Tensor,
    vs: Sequence[Tensor],
    rs: Sequence[Tensor],
    delta_L: Tensor,
    weights: Sequence[Tensor],
    activations: Sequence[str],
) -> Update:
    """GN update on the voltages (DFC Theorem 2): ``Delta v = J^T (J J^T)^{-1} delta_L``
    per sample, turned into weights with :func:`voltage_update`."""
    blocks = layer_jacobians(vs, weights, activations)
    J = torch.cat(blocks, dim=2)
    lam = torch.linalg.solve(J @ J.transpose(1, 2), delta_L.unsqueeze(2))
    dv = [(Jb.transpose(1, 2) @ lam).squeeze(2) for Jb in blocks]
    return voltage_update(x, rs, dv)


def min_norm_update(
    x: Tensor,
    vs: Sequence[Tensor],
    rs: Sequence[Tensor],
    delta_L: Tensor,
    weights: Sequence[Tensor],
    activations: Sequence[str],
    damping: float = 0.0,
) -> Update:
    """Damped minimum-norm parameter update (DFC Theorem 3): per sample, the smallest
    ``(dW, db)`` whose linearised output change is ``delta_L``, damped by ``damping``:
    ``lambda = (sum_i (||r_{i-1}||^2 + 1) J_i J_i^T + damping I)^{-1} delta_L``,
    ``dW_i = J_i^T lambda r_{i-1}^T``, ``db_i = J_i^T lambda``; batch-averaged."""
    blocks = layer_jacobians(vs, weights, activations)
    pres = (x, *rs[:-1])
    n_L = delta_L.shape[1]
    M = damping * torch.eye(n_L, dtype=x.dtype, device=x.device).expand(x.shape[0], n_L, n_L)
    for Jb, r in zip(blocks, pres, strict=True):
        scale = (r * r).sum(1) + 1.0
        M = M + scale[:, None, None] * (Jb @ Jb.transpose(1, 2))
    lam = torch.linalg.solve(M, delta_L.unsqueeze(2))
    B = x.shape[0]
    out = []
    for Jb, r in zip(blocks, pres, strict=True):
        g = (Jb.transpose(1, 2) @ lam).squeeze(2)
        out.append((g.t() @ r / B, g.mean(0)))
    return out
