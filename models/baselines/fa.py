"""Feedback-alignment baseline (Lillicrap et al. 2016): the R = 0 member of the
learned-backward-weight family (:mod:`neurosim.models.learned_feedback`).

The backward pass of BP with each transposed forward weight ``W_{i+1}^T`` replaced by
a fixed random matrix ``B_{i+1}`` (n_i x n_{i+1}, xavier-normal, frozen)::

    delta_L = phi_L'(v_L) * dL/dr_L
    delta_i = phi_i'(v_i) * (delta_{i+1} B_{i+1}^T)        (row-vector convention)
    grad W_i = delta_i^T r_{i-1},   grad b_i = sum_b delta_i

``dL/dr_L`` is the gradient of the batch-mean loss, so the sums over the batch give
batch means as in BP. With ``B_{i+1} = W_{i+1}^T`` this is exactly BP. There is no
published FA cell in DFC Table 1: the configs use the BP values. No clipping (as BP).
The learned rules (weight mirror, information/symmetric/activation alignment,
Kolen–Pollack) subclass this model and add an update of ``B``; with every coefficient
0 they reproduce these updates bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neurosim.models.base import Task
from neurosim.models.baselines.config import BaselineConfig
from neurosim.models.baselines.mlp import FeedforwardModel, Grads, xavier_normal
from neurosim.models.registry import register


class FAModel(FeedforwardModel):
    """Feedforward network trained by feedback alignment.

    ``feedback[i]`` (a frozen buffer ``B{i+1}``) is ``B_{i+2}`` in the 1-based notation
    above: it carries the error of layer ``i + 2`` down to layer ``i + 1``, shape
    ``(n_{i+1}, n_{i+2})``.
    """

    name = "fa"
    has_feedback_phase = False

    def __init__(self, task: Task, cfg: BaselineConfig, **kwargs: Any) -> None:
        super().__init__(task, cfg, **kwargs)
        W0 = self.weights[0]
        for i in range(1, self.depth):
            n_below, n_above = self.sizes[i], self.sizes[i + 1]
            # the transposed shape of W_{i+1}: xavier_normal is symmetric in fan-in/out
            B = xavier_normal(n_below, n_above, self.generator, device=W0.device, dtype=W0.dtype)
            self.register_buffer(f"B{i}", B)

    @property
    def feedback(self) -> list[Tensor]:
        """``[B_2, .., B_L]``: the matrices replacing ``W_2^T, .., W_L^T``."""
        return [getattr(self, f"B{i}") for i in range(1, self.depth)]

    def backward_matrices(self) -> list[Tensor]:
        return self.feedback

    @torch.no_grad()
    def gradients(self, x: Tensor, y: Tensor) -> tuple[Grads, dict[str, float]]:
        vs, rs = self.trace(x)
        return self.gradients_from_trace(vs, rs, y), self.batch_metrics(rs[-1], y)

    def gradients_from_trace(self, vs: list[Tensor], rs: list[Tensor], y: Tensor) -> Grads:
        """``(grad W_i, grad b_i)`` from a feedforward trace (:meth:`trace`)."""
        deltas = self.deltas(vs, rs, y)
        return [(d.T @ r, d.sum(0)) for d, r in zip(deltas, rs[:-1], strict=True)]


@register("fa")
def make_fa(
    task: Task,
    params: dict[str, Any],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    seed: int = 42,
) -> FAModel:
    """Registry factory: ``params`` validated by :class:`BaselineConfig`."""
    return FAModel(task, BaselineConfig.from_params(params), device=device, dtype=dtype, seed=seed)
