"""When does the autapse rule descend? The derived condition ``e^T V D B e > 0``.

autapse_rnn_fa.md §3 (E2, derived): one update ``dW = -eta (B e) k^T`` at step t changes
the pre-activation of that step, ``a(t) = W o(t-1) + U x(t) + b``, by
``da = dW o(t-1) = -eta B e (k^T o(t-1))``, so to first order the step's loss
``l = |e|^2 / 2`` (``e = V sigma(a) + c - y``) changes by

.. math::
    \\Delta l \\approx e^T V D\\, \\Delta a = -\\eta\\,(e^T V D B e)\\,(k^T o(t-1)),
    \\qquad D = \\mathrm{diag}\\,\\sigma'(a(t)) \\succ 0 .

Logistic rates and their traces are positive, so ``k^T o(t-1) > 0`` and the step descends
iff ``e^T V D B e > 0``. With ``V = I`` that is: the symmetric part of ``D B`` is positive
on the errors that occur; "B has positive eigenvalues" (the source's claim C6) is the
right criterion only when ``D ~ c I``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neurosim.models.rnn.network import Trajectory, sigmoid_prime


def descent_margin(e: Tensor, a: Tensor, V: Tensor, B: Tensor) -> Tensor:
    """``e^T V D B e`` with ``D = diag sigma'(a)``, for every leading index of ``e``
    (``e``: (..., n_out), ``a``: (..., N))."""
    VD = (e @ V) * sigmoid_prime(a)  # e^T V D, (..., N)
    return (VD * (e @ B.t())).sum(-1)


def descent_fraction(traj: Trajectory, e: Tensor, V: Tensor, B: Tensor) -> float:
    """Share of the (trajectory, step) pairs with a nonzero error at which
    ``e^T V D B e > 0`` (the autapse step there lowers that step's loss)."""
    margin = descent_margin(e, traj.a, V, B)
    active = (e != 0).any(-1)
    if not bool(active.any()):
        return float("nan")
    return float((margin[active] > 0).to(e.dtype).mean())


def one_step_change(
    W: Tensor,
    o_prev: Tensor,
    drive: Tensor,
    V: Tensor,
    c: Tensor,
    y: Tensor,
    B: Tensor,
    k: Tensor,
    eta: float,
) -> tuple[Tensor, Tensor]:
    """Loss change of one step from one autapse update, ``(actual, first-order)``.

    ``drive = U x(t) + b``; the step is recomputed with ``W - eta (B e) k^T`` from the
    same ``o(t-1)``. Shapes: vectors of one trajectory (``o_prev``, ``drive``, ``k``:
    (N,), ``y``: (n_out,)).
    """
    a = W @ o_prev + drive
    e = V @ torch.sigmoid(a) + c - y
    dW = -eta * torch.outer(B @ e, k)
    e_new = V @ torch.sigmoid((W + dW) @ o_prev + drive) + c - y
    actual = 0.5 * (e_new @ e_new - e @ e)
    first_order = -eta * descent_margin(e, a, V, B) * (k @ o_prev)
    return actual, first_order
