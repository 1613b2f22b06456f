"""Closed-form pieces of DFC: output target, DFC-SSA steady state, local rules.

Pure torch kernels following DFC.md §1.1 and §1.4 (DFC eq. 3, 5, 7 and App. E).

Everything is computed in deviations from the feedforward operating point (as the
simulated phases, :mod:`neurosim.ir.deviation`): the target shift
``delta_L = r_L* - r_L^-`` is formed directly (never as ``r* - r_L``), the steady
state is propagated as ``Delta r_i = phi(v_i^- + Delta v_i^ss) - phi(v_i^-)`` and the
rule's ``phi(v_bas + Delta v) - phi(v_bas)`` is a
:func:`~neurosim.models.activations.phi_difference`. In float64 the results equal the
absolute form's to rounding; in float32 they keep the precision the absolute form
loses once the output error is ~1e-7 of the rates (``benchmarks/precision.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from neurosim.models.activations import phi, phi_difference
from neurosim.models.dfc.network import full_jacobian


def target_shift(r_L: Tensor, y: Tensor, kind: str, lam: float) -> Tensor:
    """``delta_L = r_L* - r_L^- = -lam * dL/dr_L`` (DFC eq. 3, DFC.md §1.1), with ``L``
    the **batch-mean** loss, so each sample moves by ``lam / B`` times its own loss
    gradient; formed directly, so it keeps full precision however small it is.

    * ``kind="classification"``: cross-entropy with softmax absorbed,
      ``dL/dr_L = (softmax(r_L) - onehot(y)) / B``; the true class's entry
      ``p_y - 1`` is taken as ``-sum_{j != y} p_j`` (``p_y - 1`` would keep only the
      digits ``p_y`` does not share with 1).
    * ``kind="regression"``: MSE over all elements, ``dL/dr_L = 2 (r_L - y) / (B n_L)``.
    """
    B = r_L.shape[0]
    if kind == "classification":
        p = torch.softmax(r_L, dim=1)
        hot = torch.nn.functional.one_hot(y.long(), r_L.shape[1]).bool()
        others = p.masked_fill(hot, 0.0).sum(1, keepdim=True)
        grad = torch.where(hot, -others, p) / B
    elif kind == "regression":
        grad = 2.0 * (r_L - y.to(r_L.dtype)) / r_L.numel()
    else:
        raise ValueError(f"target_shift: task kind {kind!r} is not classification/regression")
    return -lam * grad


def output_target(r_L: Tensor, y: Tensor, kind: str, lam: float) -> Tensor:
    """Controller target ``r_L* = r_L^- + delta_L`` (:func:`target_shift`)."""
    return r_L + target_shift(r_L, y, kind, lam)


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
    delta_L: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    feedback: Sequence[Tensor],
    activations: Sequence[str],
    alpha: float,
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """DFC-SSA (DFC.md §1.4): ``u_ss`` from :func:`ssa_control` at the feedforward
    point for the target shift ``delta_L`` (:func:`target_shift`), ``Delta v = Q u_ss``
    split by layer, then nonlinear upward propagation.

    Returns ``(delta_v, r_ss, u_ss)``: per-layer apical pushes (B, n_i), steady-state
    rates (B, n_i) and the control (B, n_L).
    """
    delta_v, _, dr, u = _ssa(vs, rs, delta_L, weights, feedback, activations, alpha)
    return delta_v, [r + d for r, d in zip(rs, dr, strict=True)], u


def _ssa(
    vs: Sequence[Tensor],
    rs: Sequence[Tensor],
    delta_L: Tensor,
    weights: Sequence[Tensor],
    feedback: Sequence[Tensor],
    activations: Sequence[str],
    alpha: float,
) -> tuple[list[Tensor], list[Tensor], list[Tensor], Tensor]:
    """The steady state in deviations: ``(Delta v_i, Delta v_i^B, Delta r_i, u_ss)``.

    ``Delta v_i^B = W_i Delta r_{i-1}`` is the basal voltage's deviation
    (``v_i^B = v_i^- + Delta v_i^B``; 0 for layer 1: the input does not move) and
    ``Delta r_i = phi(v_i^- + Delta v_i^B + Delta v_i) - phi(v_i^-)`` the rate's.
    """
    J = full_jacobian(vs, weights, activations, rs)
    Q = torch.cat(list(feedback), dim=0)
    u = ssa_control(J, Q, delta_L, alpha)
    delta_v = list(torch.split(u @ Q.t(), [q.shape[0] for q in feedback], dim=1))
    dvb: list[Tensor] = []
    dr: list[Tensor] = []
    for i, (dv, v, fn) in enumerate(zip(delta_v, vs, activations, strict=True)):
        dvb.append(torch.zeros_like(dv) if i == 0 else dr[-1] @ weights[i].t())
        dr.append(phi_difference(fn, v, dvb[-1] + dv))
    return delta_v, dvb, dr, u


def ssa_gradients(
    x: Tensor,
    vs: Sequence[Tensor],
    rs: Sequence[Tensor],
    delta_L: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    feedback: Sequence[Tensor],
    activations: Sequence[str],
    alpha: float,
) -> list[tuple[Tensor, Tensor]]:
    """DFC-SSA forward-weight gradients: :func:`ssa_steady_state` followed by
    :func:`steady_state_gradients`, in deviation form: the rule's
    ``delta_i = phi(v_bas + Delta v_i) - phi(v_bas)`` with ``v_bas = v_i^- + Delta v_i^B``
    is ``phi_difference(v_i^-, Delta v_i^B + Delta v_i, Delta v_i^B)``, the presynaptic
    rate ``r_{i-1}^ss = r_{i-1}^- + Delta r_{i-1}``.
    """
    delta_v, dvb, dr, _ = _ssa(vs, rs, delta_L, weights, feedback, activations, alpha)
    B = x.shape[0]
    grads = []
    for i, (v, dv, b_dev, fn) in enumerate(zip(vs, delta_v, dvb, activations, strict=True)):
        delta = phi_difference(fn, v, b_dev + dv, b_dev if i else None)
        pre = x if i == 0 else rs[i - 1] + dr[i - 1]
        grads.append((-(2.0 / B) * delta.t() @ pre, -(2.0 / B) * delta.sum(0)))
    return grads


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
