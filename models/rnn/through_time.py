"""Updates of the through-time rules: BPTT, FA through time, DFA through time.

Per sequence (autapse_rnn_fa.md §2.1, the source's eqs. 1-6 carried through time, with
``-eta`` everywhere), for the loss ``L = sum_t w_t |e(t)|^2 / 2`` with
``e = y_hat - y`` and weights ``w_t`` (``1/t``: the source's eq. 1 average; 1: the
summed gradient; :func:`~neurosim.models.rnn.network.time_weights`), batch-averaged:

* BPTT: ``dW = -eta dL/dW`` by autograd (:func:`bptt_gradients`). Written out, the error
  of target step t travels back as ``delta_t(t) = sigma'(a(t)) * V^T e(t)``,
  ``delta_t(s) = sigma'(a(s)) * W^T delta_t(s+1)``, and
  ``dL/dW = sum_t w_t sum_{s<=t} delta_t(s) o(s-1)^T``; by linearity the sum over t is
  one backward recursion ``delta(s) = sigma'(a(s)) * (w_s V^T e(s) + W^T delta(s+1))``
  (:func:`recursion_gradients` with ``M = W``, checked against autograd).
* FA through time: the same recursion with a fixed random ``B_fa^T`` in place of
  ``W^T`` (``M = B_fa``); ``V^T`` is kept (the fact sheet's default).
* DFA through time: ``delta(s) = sigma'(a(s)) * B_dfa^T E(s)`` with
  ``E(s) = sum_{t>=s} w_t e(t)`` (the current error e(t) sent to every step s <= t,
  ``mode="current"``) or ``E(s) = w_s e(s)`` (``mode="local"``).

Every function returns ``(dL/dW, dL/db)``-like *gradients* (the update is ``-eta`` times
them); :func:`readout_gradients` gives the delta rule's ``(dL/dV, dL/dc)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neurosim.models.rnn.network import Trajectory, sigmoid_prime, unroll


def weighted_loss(y_hat: Tensor, y: Tensor, w: Tensor) -> Tensor:
    """``mean_batch sum_t w_t |y_hat(t) - y(t)|^2 / 2``."""
    return 0.5 * (((y_hat - y) ** 2).sum(2) * w).sum(1).mean()


def bptt_gradients(
    x: Tensor, y: Tensor, w: Tensor, W: Tensor, U: Tensor, V: Tensor, c: Tensor, b: Tensor
) -> tuple[Tensor, Tensor]:
    """``(dL/dW, dL/db)`` by autograd through the unrolled network."""
    W_, b_ = W.detach().requires_grad_(True), b.detach().requires_grad_(True)
    with torch.enable_grad():
        traj = unroll(x, W_, U, V, c, b_)
        gW, gb = torch.autograd.grad(weighted_loss(traj.y, y, w), [W_, b_])
    return gW, gb


def recursion_gradients(
    traj: Trajectory, e: Tensor, w: Tensor, V: Tensor, M: Tensor
) -> tuple[Tensor, Tensor]:
    """The backward recursion ``delta(s) = sigma'(a(s)) * (w_s V^T e(s) + M^T
    delta(s+1))``; ``M = W`` is BPTT, ``M = B_fa`` FA through time."""
    batch, T, N = traj.a.shape
    inject = (e * w[None, :, None]) @ V  # w_s V^T e(s), (batch, T, N)
    dphi = sigmoid_prime(traj.a)
    deltas = [None] * T
    delta = traj.a.new_zeros(batch, N)
    for s in reversed(range(T)):
        delta = dphi[:, s] * (inject[:, s] + delta @ M)
        deltas[s] = delta
    return _outer(torch.stack(deltas, 1), traj.o_prev)


def dfa_gradients(
    traj: Trajectory, e: Tensor, w: Tensor, B_dfa: Tensor, mode: str = "current"
) -> tuple[Tensor, Tensor]:
    """DFA through time: ``delta(s) = sigma'(a(s)) * B_dfa^T E(s)`` (see the module
    docstring for ``E``)."""
    we = e * w[None, :, None]
    if mode == "current":
        E = torch.flip(torch.cumsum(torch.flip(we, [1]), 1), [1])  # sum over t >= s
    elif mode == "local":
        E = we
    else:
        raise ValueError(f"dfa_gradients: mode={mode!r}; use 'current' or 'local'")
    return _outer(sigmoid_prime(traj.a) * (E @ B_dfa), traj.o_prev)


def readout_gradients(traj: Trajectory, e: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """``(dL/dV, dL/dc) = (mean_b sum_t w_t e(t) o(t)^T, mean_b sum_t w_t e(t))``."""
    return _outer(e * w[None, :, None], traj.o)


def _outer(post: Tensor, pre: Tensor) -> tuple[Tensor, Tensor]:
    """``(mean_b sum_t post pre^T, mean_b sum_t post)`` of (batch, T, n) tensors."""
    batch = post.shape[0]
    flat_post = post.reshape(-1, post.shape[2])
    return flat_post.t() @ pre.reshape(-1, pre.shape[2]) / batch, flat_post.sum(0) / batch
