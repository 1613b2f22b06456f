"""Feedforward networks whose backward matrices B_l are learned by layer-local
regularisers (Kunin, Nayebi et al. 2020) or by Kolen–Pollack.

The forward weights learn exactly as in feedback alignment
(:class:`~neurosim.models.baselines.fa.FAModel`): ``B_l`` replaces ``W_l^T`` in the
backward pass. In the same step (the reference code descends one loss
``J(W) + R(B)`` with the gradients taken at the current W and B) every ``B_l`` takes one
step of its own optimiser on::

    grad B_l = sum_k c_k dP_k/dB_l (x_l, y_l, W_l, B_l)      (primitives.py, rules.py)
             + dJ/dW_l^T                                     (Kolen–Pollack only)
             + c_amp * B_l mean_b(x^T B_l y)                 (Oja-normalised WM only)

with ``x_l`` the layer's input (or white noise, ``regularizer_input``) and
``y_l = x_l W_l^T`` (``+ b_l`` with ``projection_bias``). Kolen–Pollack also adds
``c_decay * 2 W_l`` to every forward weight's gradient ("equal decay on both"), so
that with SGD ``W_l - B_l^T`` shrinks by ``(1 - 2 lr c_decay)`` per step.

With every coefficient 0 (rule ``fa``) B never changes and the forward updates are
FA's, bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from neurosim.models.base import Task
from neurosim.models.baselines.fa import FAModel
from neurosim.models.baselines.mlp import Grads, make_optimizer
from neurosim.models.learned_feedback import primitives as prim
from neurosim.models.learned_feedback.config import LearnedFeedbackConfig
from neurosim.models.learned_feedback.rules import get_rule


class LearnedFeedbackModel(FAModel):
    """FA network plus a learning rule for its backward matrices.

    Parameters
    ----------
    task
        Loss kind and input/output sizes.
    cfg
        Network, forward optimiser and backward-weight rule
        (:class:`~neurosim.models.learned_feedback.config.LearnedFeedbackConfig`).
    device, dtype, seed
        As :class:`~neurosim.models.baselines.mlp.FeedforwardModel`; the same seed gives
        the same initial W and B as ``fa``, and seeds the mirror-mode noise.
    """

    has_feedback_phase = False

    def __init__(self, task: Task, cfg: LearnedFeedbackConfig, **kwargs: Any) -> None:
        super().__init__(task, cfg, **kwargs)
        self.cfg: LearnedFeedbackConfig = cfg
        self.rule = get_rule(cfg.rule)
        self.name = cfg.rule
        self._feedback_optimizer: torch.optim.Optimizer | None = None
        if cfg.learned:
            for i in range(1, self.depth):
                B = self._buffers.pop(f"B{i}")
                self.register_parameter(f"B{i}", nn.Parameter(B, requires_grad=False))
            self._feedback_optimizer = make_optimizer(
                self.feedback,
                cfg,
                lr=cfg.feedback_lr_eff,
                kind=cfg.feedback_optimizer_name,
                eps=cfg.feedback_adam_epsilon,
            )

    def extra_repr(self) -> str:
        terms = ", ".join(f"{k}={v:g}" for k, v in self.cfg.coefficients.items()) or "R=0"
        return f"{super().extra_repr()}, rule={self.rule.name} ({terms})"

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = super().optimizers()
        if self._feedback_optimizer is not None:
            opts["feedback"] = self._feedback_optimizer
        return opts

    # -- learning ----------------------------------------------------------------------
    @torch.no_grad()
    def train_batch(self, x: Tensor, y: Tensor, phase: str) -> dict[str, float]:
        if phase != "forward":
            return super().train_batch(x, y, phase)  # raises the phase error
        vs, rs = self.trace(x)
        grads = self.gradients_from_trace(vs, rs, y)
        metrics = self.batch_metrics(rs[-1], y)
        if self._feedback_optimizer is None:
            self.apply_gradients(grads)
            return metrics
        fb_grads = self.feedback_gradients(rs, grads)
        if self.rule.tie_grad:
            grads = self.forward_decay(grads)
        self.apply_gradients(grads)
        for B, g in zip(self.feedback, fb_grads, strict=True):
            B.grad = g
        self._feedback_optimizer.step()
        self._feedback_optimizer.zero_grad(set_to_none=True)
        return metrics

    def feedback_gradients(self, rs: list[Tensor], grads: Grads) -> list[Tensor]:
        """``grad B_l`` for l = 2..L (:func:`backward_weight_gradient`) at the current W
        and B; ``rs`` is the feedforward trace ``[x, r_1, .., r_L]`` of the batch and
        ``grads`` the forward gradients (Kolen–Pollack adds their transposes)."""
        out = []
        for j, B in enumerate(self.feedback):
            layer = j + 1  # index into self.weights: B replaces weights[layer].T
            bias = self.biases[layer].detach() if self.cfg.projection_bias else None
            g = backward_weight_gradient(
                self.cfg, self.regularizer_input(rs[layer]), self.weights[layer].detach(), B, bias
            )
            if self.rule.tie_grad:
                g = g + grads[layer][0].T
            out.append(g)
        return out

    def forward_decay(self, grads: Grads) -> Grads:
        """Kolen–Pollack's decay on the forward weights: ``grad W_l += c_decay * 2 W_l``
        for every layer (the same primitive, hence the same decay, as on B)."""
        c = self.cfg.coefficients.get("decay", 0.0)
        if c == 0.0:
            return grads
        return [
            (gW + c * prim.decay_weight_gradient(W.detach()), gb)
            for (gW, gb), W in zip(grads, self.weights, strict=True)
        ]

    def regularizer_input(self, r: Tensor) -> Tensor:
        """What the regularisers see as a layer's input: the data ``r`` itself, or white
        noise of ``r``'s shape drawn from the model's generator (mirror mode)."""
        kind, std = self.cfg.regularizer_input, self.cfg.regularizer_input_std
        if kind == "data":
            return r
        if kind == "normal":
            noise = std * torch.randn(r.shape, generator=self.generator, dtype=torch.float64)
        else:  # uniform with the same variance: half-width sqrt(3) std
            u = torch.rand(r.shape, generator=self.generator, dtype=torch.float64)
            noise = (2.0 * u - 1.0) * (math.sqrt(3.0) * std)
        return noise.to(device=r.device, dtype=r.dtype)

    def set_noise_stream(self, stream: int) -> None:
        """Mirror-mode noise is drawn per sample: data-parallel process ``r > 0`` draws
        it from its own stream (the model's generator re-seeded with ``stream``)."""
        self.generator.manual_seed(stream)

    def set_feedback(self, layer: int, B: Tensor) -> None:
        """Replace ``B_layer`` (layer = 2..L, shape of ``W_layer^T``) in place."""
        if not 2 <= layer <= self.depth:
            raise ValueError(
                f"{self.name}: layer must be in 2..{self.depth} (the layers with a backward "
                f"matrix), got {layer}"
            )
        target = self.feedback[layer - 2]
        if tuple(B.shape) != tuple(target.shape):
            raise ValueError(
                f"{self.name}: B for layer {layer} must have W_{layer}^T's shape "
                f"{tuple(target.shape)}, got {tuple(B.shape)}"
            )
        with torch.no_grad():
            target.copy_(B)


def backward_weight_gradient(
    cfg: LearnedFeedbackConfig, x: Tensor, W: Tensor, B: Tensor, bias: Tensor | None = None
) -> Tensor:
    """The regulariser part of ``grad B`` for one layer (module docstring): the
    coefficients' primitives at ``x``, ``y = x W^T (+ bias)``, plus Oja's term for the
    Oja-normalised weight mirror. Kolen–Pollack's transposed W-gradient is not included.

    Parameters
    ----------
    cfg
        The rule's coefficients and options.
    x
        Layer input (batch, n_in).
    W
        Forward weights (n_out, n_in).
    B
        Backward matrix (n_in, n_out).
    bias
        Forward bias added to ``y`` (``projection_bias``), or ``None``.
    """
    y = x @ W.T
    if bias is not None:
        y = y + bias
    g = prim.regularizer_gradient(cfg.coefficients, x, y, W, B)
    if cfg.oja:
        g = g + cfg.coefficients.get("amp", 0.0) * prim.oja_term(x, y, B)
    return g
