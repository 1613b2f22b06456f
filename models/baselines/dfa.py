"""Direct feedback alignment baseline as in the DFC reference (DDTP-linear, DFC.md §1.6-1.7).

Output target (DFC.md §1.1): ``r_L* = r_L - lambda dL/dr_L`` with the batch-mean loss.
Hidden targets through frozen random ``B_i`` (n_i x n_L, xavier-normal, the weight of
``nn.Linear(n_L -> n_i)``)::

    r_i* = r_i - lambda B_i dL/dr_L            (i < L)

and every layer, the output one included, follows the local rule of DFC.md §1.7::

    grad W_i = (2/B) (phi_i'(v_i) * (r_i - r_i*))^T r_{i-1},  grad b_i = 2 mean_b(...)

For the output layer this is ``2 lambda / B`` times the true gradient (the scale is
absorbed by Adam, and by ``lr_eff = lr / lambda``). Each tensor's norm is clipped to
``clip_grad_norm`` (1 in every config) before the Adam step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neurosim.models.activations import phi_prime
from neurosim.models.base import Task
from neurosim.models.baselines.config import BaselineConfig
from neurosim.models.baselines.mlp import FeedforwardModel, Grads, xavier_normal
from neurosim.models.registry import register


class DFAModel(FeedforwardModel):
    """Feedforward network trained by direct feedback alignment.

    ``B{i}`` (frozen buffers, i = 1..L-1) project the output error to hidden layer i.
    """

    name = "dfa"
    has_feedback_phase = False

    def __init__(self, task: Task, cfg: BaselineConfig, **kwargs: Any) -> None:
        super().__init__(task, cfg, **kwargs)
        W0 = self.weights[0]
        for i in range(1, self.depth):
            B = xavier_normal(
                self.sizes[i], task.n_out, self.generator, device=W0.device, dtype=W0.dtype
            )
            self.register_buffer(f"B{i}", B)

    @property
    def feedback(self) -> list[Tensor]:
        """``[B_1, .., B_{L-1}]``, each ``(n_i, n_L)``."""
        return [getattr(self, f"B{i}") for i in range(1, self.depth)]

    def targets(self, rs: list[Tensor], y: Tensor) -> list[Tensor]:
        """``[r_1*, .., r_L*]`` (DFC.md §1.1, §1.7)."""
        lam = self.cfg.target_stepsize * self.shard_fraction  # lambda / B of the whole batch
        shift = lam * self.output_gradient(rs[-1], y)
        hidden = [r - shift @ B.T for r, B in zip(rs[1:-1], self.feedback, strict=True)]
        return [*hidden, rs[-1] - shift]

    @torch.no_grad()
    def gradients(self, x: Tensor, y: Tensor) -> tuple[Grads, dict[str, float]]:
        vs, rs = self.trace(x)
        batch = x.shape[0]
        grads: Grads = []
        for i, (v, target, fn) in enumerate(
            zip(vs, self.targets(rs, y), self.cfg.activations, strict=True)
        ):
            teaching = 2.0 * phi_prime(v, fn) * (rs[i + 1] - target)
            grads.append((teaching.T @ rs[i] / batch, teaching.mean(0)))
        return grads, self.batch_metrics(rs[-1], y)


@register("dfa")
def make_dfa(
    task: Task,
    params: dict[str, Any],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    seed: int = 42,
) -> DFAModel:
    """Registry factory: ``params`` validated by :class:`BaselineConfig`; DFA clips each
    tensor to norm 1 unless the params say otherwise (DFC.md §1.7)."""
    params = {"clip_grad_norm": 1.0, **params}
    return DFAModel(task, BaselineConfig.from_params(params), device=device, dtype=dtype, seed=seed)
