"""Closed-form pieces of DFC: output target, DFC-SSA steady state, local rules.

Pure torch kernels following DFC.md §1.1 and §1.4 (DFC eq. 3, 5, 7 and App. E).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from neurosim.models.activations import phi
from neurosim.models.dfc.network import full_jacobian, propagate_basal


def output_target(r_L: Tensor, y: Tensor, kind: str, lam: float) -> Tensor:
    """Controller target ``r_L* = r_L^- - lam * dL/dr_L`` (DFC eq. 3, DFC.md §1.1),
    with ``L`` the **batch-mean** loss, so each sample moves by ``lam / B`` times its
    own loss gradient.

    * ``kind="classification"``: cross-entropy with softmax absorbed,
      ``dL/dr_L = (softmax(r_L) - onehot(y)) / B``.
    * ``kind="regression"``: MSE over all elements, ``dL/dr_L = 2 (r_L - y) / (B n_L)``.
    """
    B = r_L.shape[0]
    if kind == "classification":
        onehot = torch.nn.functional.one_hot(y.long(), r_L.shape[1]).to(r_L.dtype)
        grad = (torch.softmax(r_L, dim=1) - onehot) / B
    elif kind == "regression":
        grad = 2.0 * (r_L - y.to(r_L.dtype)) / r_L.numel()
    else:
        raise ValueError(f"output_target: task kind {kind!r} is not classification/regression")
    return r_L - lam * grad


def ssa_control(J: Tensor, Q: Tensor, delta_L: Tensor, alpha: float) -> Tensor:
    """Linearised steady-state control of DFC-SSA (DFC eq. 7, DFC.md §1.4):
    ``u_ss = (J Q + alpha I)^{-1} delta_L`` solved per sample.

    Shapes: ``J`` (B, n_L, N), ``Q`` (N, n_L) (all ``Q_i`` stacked), ``delta_L``
    (B, n_L); returns (B, n_L).
    """
    n_L = delta_L.shape[1]
    eye = torch.eye(n_L, dtype=J.dtype, device=J.device)
    A = torch.matmul(J, Q) + alpha * eye
    return torch.linalg.solve(A, delta_L.unsqueeze(2)).squeeze(2)


def ssa_steady_state(
    x: Tensor,
    vs: Sequence[Tensor],
    rs: Sequence[Tensor],
    r_target: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    feedback: Sequence[Tensor],
    activations: Sequence[str],
    alpha: float,
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """DFC-SSA (DFC.md §1.4): ``u_ss`` from :func:`ssa_control` at the feedforward
    point, ``Delta v = Q u_ss`` split by layer, then nonlinear upward propagation.

    Returns ``(delta_v, r_ss, u_ss)``: per-layer apical pushes (B, n_i), steady-state
    rates (B, n_i) and the control (B, n_L).
    """
    delta_v, _, r_ss, u = _ssa(x, vs, rs, r_target, weights, biases, feedback, activations, alpha)
    return delta_v, r_ss, u


def _ssa(
    x: Tensor,
    vs: Sequence[Tensor],
    rs: Sequence[Tensor],
    r_target: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    feedback: Sequence[Tensor],
    activations: Sequence[str],
    alpha: float,
) -> tuple[list[Tensor], list[Tensor], list[Tensor], Tensor]:
    """:func:`ssa_steady_state` plus the steady-state basal voltages
    ``v_i^B = W_i r_{i-1}^ss + b_i`` (``v_1^B = v_1^-``: the input does not move)."""
    J = full_jacobian(vs, weights, activations, rs)
    Q = torch.cat(list(feedback), dim=0)
    u = ssa_control(J, Q, r_target - rs[-1], alpha)
    dv_all = u @ Q.t()
    sizes = [q.shape[0] for q in feedback]
    delta_v = list(torch.split(dv_all, sizes, dim=1))
    v_basal, _, r_ss = propagate_basal(x, delta_v, weights, biases, activations, vs[0])
    return delta_v, v_basal, r_ss, u


def ssa_gradients(
    x: Tensor,
    vs: Sequence[Tensor],
    rs: Sequence[Tensor],
    r_target: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    feedback: Sequence[Tensor],
    activations: Sequence[str],
    alpha: float,
) -> list[tuple[Tensor, Tensor]]:
    """DFC-SSA forward-weight gradients: :func:`ssa_steady_state` followed by
    :func:`steady_state_gradients`, equal to them bit for bit, without computing
    anything twice: ``W_1 x + b_1`` is ``v_1^-``, the basal voltages of the upward
    sweep are kept, ``phi(v_bas + Delta v_i)`` is ``r_i^ss`` and ``phi'`` of the
    Jacobian is taken from the feedforward rates.
    """
    _, v_basal, r_ss, _ = _ssa(x, vs, rs, r_target, weights, biases, feedback, activations, alpha)
    return _rule(x, v_basal, r_ss, activations)


def steady_state_gradients(
    x: Tensor,
    delta_v: Sequence[Tensor],
    r_ss: Sequence[Tensor],
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    activations: Sequence[str],
    weight: Tensor | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """Steady-state rule ("nonlinear_difference", DFC eq. 5 at steady state,
    DFC.md §1.4): with ``v_bas = W_i r_{i-1}^ss + b_i`` recomputed and
    ``delta_i = phi(v_bas + Delta v_i) - phi(v_bas)``,

    .. math::
        \\nabla W_i = -\\frac{2}{B} \\sum_b \\delta_i r_{i-1}^{ss\\,T}, \\qquad
        \\nabla b_i = -2\\, \\mathrm{mean}_b\\, \\delta_i .

    ``weight`` (B,) optionally multiplies each sample (0 drops a non-converged
    sample, DFC.md §1.3) while the normalisation stays ``1/B``.
    Returns gradients (``.grad`` convention: the update is their negative).
    """
    r_prev = x
    v_basal, r_post = [], []
    for dv, W, b, fn in zip(delta_v, weights, biases, activations, strict=True):
        v_bas = torch.addmm(b, r_prev, W.t())
        v_basal.append(v_bas)
        r_post.append(phi(v_bas + dv, fn))
        r_prev = r_ss[len(v_basal) - 1]
    return _rule(x, v_basal, r_post, activations, [x, *r_ss[:-1]], weight)


def _rule(
    x: Tensor,
    v_basal: Sequence[Tensor],
    r_post: Sequence[Tensor],
    activations: Sequence[str],
    r_pre: Sequence[Tensor] | None = None,
    weight: Tensor | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """``delta_i = r_post_i - phi(v_basal_i)``; ``grad W_i = -(2/B) delta_i^T r_pre_i``,
    ``grad b_i = -2 mean_b delta_i`` (``r_pre``: ``x, r_1 .. r_{L-1}``, default the
    ``r_post`` of the layer below)."""
    B = x.shape[0]
    r_pre = [x, *r_post[:-1]] if r_pre is None else r_pre
    grads = []
    for vb, rp, pre, fn in zip(v_basal, r_post, r_pre, activations, strict=True):
        delta = rp - phi(vb, fn)
        if weight is not None:
            delta = delta * weight.unsqueeze(1)
        grads.append((-(2.0 / B) * delta.t() @ pre, -(2.0 / B) * delta.sum(0)))
    return grads


def clip_per_tensor(grads: Sequence[Tensor], max_norm: float) -> None:
    """In place, scale each tensor to L2 norm ``<= max_norm`` on its own (forward
    weights, DFC.md §1.4; ``clip_grad_norm_`` per tensor). ``max_norm <= 0``: off."""
    if max_norm <= 0:
        return
    for g in grads:
        n = torch.linalg.vector_norm(g)
        if n > max_norm:
            g.mul_(max_norm / (n + 1e-6))


def clip_jointly(grads: Sequence[Tensor], max_norm: float) -> None:
    """In place, scale all tensors together to a joint L2 norm ``<= max_norm``
    (feedback weights, DFC.md §1.5 step 4). ``max_norm <= 0``: off."""
    if max_norm <= 0 or not grads:
        return
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
