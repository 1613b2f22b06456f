"""Backpropagation baseline (DFC Table 1, column BP).

The gradients are the autograd gradients of the batch-mean loss (DFC App. F
eq. 223 for classification), ``grad W_i = dL/dW_i``, ``grad b_i = dL/db_i``, written
into ``.grad`` by the shared update path and followed by one Adam step with
``lr_eff = lr / lambda``, betas (0.99, 0.99) and the config's eps. No gradient
clipping: the reference config sets ``clip_grad_norm=1`` but ``train_bp`` never
applies it (DFC.md §1.7, §5), so ``clip_grad_norm`` defaults to ``None`` here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neurosim.models.base import Task
from neurosim.models.baselines.config import BaselineConfig
from neurosim.models.baselines.mlp import FeedforwardModel, Grads
from neurosim.models.registry import register


class BPModel(FeedforwardModel):
    """Feedforward network trained by error backpropagation."""

    name = "bp"
    has_feedback_phase = False

    def gradients(self, x: Tensor, y: Tensor) -> tuple[Grads, dict[str, float]]:
        with torch.enable_grad():
            params = [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]
            out = self.forward(x)
            loss = self.task.loss(out, y)
            flat = torch.autograd.grad(loss, params)
        grads = [(flat[2 * i], flat[2 * i + 1]) for i in range(self.depth)]
        return grads, self.batch_metrics(out, y)

    def backward_matrices(self) -> list[Tensor]:
        """BP's backward matrices are the transposed forward weights ``W_l^T``."""
        return [W.detach().T for W in self.weights[1:]]


@register("bp")
def make_bp(
    task: Task,
    params: dict[str, Any],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    seed: int = 42,
) -> BPModel:
    """Registry factory: ``params`` validated by :class:`BaselineConfig`."""
    return BPModel(task, BaselineConfig.from_params(params), device=device, dtype=dtype, seed=seed)
