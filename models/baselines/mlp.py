"""Shared machinery of the feedforward baselines (BP, FA, DFA).

The network is the one of DFC §1.1: ``v_i = W_i r_{i-1} + b_i``, ``r_i = phi_i(v_i)``,
``r_0 = x``, xavier-normal weights and zero biases (DFC.md §1.6). A subclass only
says how its weight gradients are computed (:meth:`FeedforwardModel.gradients`); this
class writes them into ``.grad`` by hand, clips each tensor on its own when
``clip_grad_norm`` is set (DFC.md §1.4) and takes one optimiser step, so every
baseline runs through the same update path.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

from neurosim.models import alignment_diagnostics as alignment
from neurosim.models.activations import phi, phi_prime
from neurosim.models.base import Task, TrainableModel
from neurosim.models.baselines.config import BaselineConfig

#: per-layer (grad W_i, grad b_i), ``.grad`` convention (the optimiser descends)
Grads = list[tuple[Tensor, Tensor]]


def xavier_normal(n_out: int, n_in: int, gen: torch.Generator, **fk: Any) -> Tensor:
    """``nn.init.xavier_normal_``: N(0, 2 / (n_in + n_out)), drawn in float64 on the
    CPU from ``gen`` so the same seed gives the same weights on every device/dtype."""
    std = math.sqrt(2.0 / (n_in + n_out))
    return (std * torch.randn((n_out, n_in), generator=gen, dtype=torch.float64)).to(**fk)


def make_optimizer(
    params: list[Tensor],
    cfg: BaselineConfig,
    *,
    lr: float,
    kind: str | None = None,
    eps: float | None = None,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Adam (betas and eps of ``cfg``) or SGD over ``params``; ``kind`` defaults to
    ``cfg.optimizer`` and ``eps`` to ``cfg.adam_epsilon``."""
    kind = kind or cfg.optimizer
    if kind == "adam":
        return torch.optim.Adam(
            params,
            lr=lr,
            betas=(cfg.adam_beta1, cfg.adam_beta2),
            eps=cfg.adam_epsilon if eps is None else eps,
            weight_decay=weight_decay,
        )
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


class FeedforwardModel(TrainableModel):
    """A tanh MLP trained by a gradient (or pseudo-gradient) rule.

    Parameters
    ----------
    task
        Loss kind and input/output sizes.
    cfg
        Architecture and optimiser (:class:`~neurosim.models.baselines.config.BaselineConfig`).
    device, dtype
        Where the tensors live and their precision.
    seed
        Seed of the weight initialisation (and of any fixed random feedback).
    """

    def __init__(
        self,
        task: Task,
        cfg: BaselineConfig,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
        seed: int = 42,
    ) -> None:
        super().__init__(task)
        self.cfg = cfg
        self.sizes = [task.n_in, *cfg.size_hidden, task.n_out]
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        fk = {"device": device, "dtype": dtype}
        pairs = list(zip(self.sizes[:-1], self.sizes[1:], strict=True))
        self.weights = nn.ParameterList(
            [
                nn.Parameter(xavier_normal(n_out, n_in, self.generator, **fk))
                for n_in, n_out in pairs
            ]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(n_out, **fk)) for _, n_out in pairs]
        )
        self._optimizer = make_optimizer(
            [*self.weights, *self.biases], cfg, lr=cfg.lr_eff, weight_decay=cfg.forward_wd
        )

    @property
    def depth(self) -> int:
        """Number of weight layers L."""
        return len(self.weights)

    def extra_repr(self) -> str:
        acts = ", ".join(self.cfg.activations)
        return f"sizes={self.sizes}, activations=({acts}), lr_eff={self.cfg.lr_eff:.4g}"

    # -- network -----------------------------------------------------------------------
    def trace(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Feedforward pass keeping every layer: ``vs = [v_1..v_L]``,
        ``rs = [r_0 = x, r_1..r_L]`` (DFC §1.1)."""
        rs = [x.to(self.weights[0].dtype)]
        vs = []
        for W, b, fn in zip(self.weights, self.biases, self.cfg.activations, strict=True):
            vs.append(rs[-1] @ W.T + b)
            rs.append(phi(vs[-1], fn))
        return vs, rs

    def forward(self, x: Tensor) -> Tensor:
        return self.trace(x)[1][-1]

    def output_gradient(self, r_L: Tensor, y: Tensor) -> Tensor:
        """``dL/dr_L`` of the batch-mean loss (so it carries the 1/B factor, DFC.md §1.1)."""
        r_L = r_L.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = self.task.loss(r_L, y)
            (grad,) = torch.autograd.grad(loss, r_L)
        return grad

    # -- learning ----------------------------------------------------------------------
    @abstractmethod
    def gradients(self, x: Tensor, y: Tensor) -> tuple[Grads, dict[str, float]]:
        """This batch's ``(grad W_i, grad b_i)`` for i = 1..L (``.grad`` convention,
        unclipped) and its metrics (``loss`` before the update, ``errors`` for
        classification)."""

    def batch_metrics(self, r_L: Tensor, y: Tensor) -> dict[str, float]:
        """Loss (and misclassification count) of the output ``r_L`` on this batch."""
        out = {"loss": float(self.task.loss(r_L.detach(), y))}
        if self.task.kind == "classification":
            out["errors"] = float(self.task.errors(r_L.detach(), y))
        return out

    def apply_gradients(self, grads: Grads) -> None:
        """Write ``grads`` into ``.grad``, average them over data-parallel processes
        (:meth:`reduce_updates`), clip each tensor to ``clip_grad_norm`` when set
        (DFC.md §1.4, per tensor), and take one optimiser step."""
        for (gW, gb), W, b in zip(grads, self.weights, self.biases, strict=True):
            W.grad, b.grad = gW.detach().clone(), gb.detach().clone()
        params = [*self.weights, *self.biases]
        self.reduce_updates([p.grad for p in params])
        if self.cfg.clip_grad_norm is not None:
            for p in params:
                nn.utils.clip_grad_norm_(p, self.cfg.clip_grad_norm)
        self._optimizer.step()
        self._optimizer.zero_grad(set_to_none=True)

    def train_batch(self, x: Tensor, y: Tensor, phase: str) -> dict[str, float]:
        if phase != "forward":
            raise ValueError(
                f"{self.name or type(self).__name__}: has no feedback phase "
                f"(has_feedback_phase=False); train_batch needs phase='forward', got {phase!r}"
            )
        grads, metrics = self.gradients(x, y)
        self.apply_gradients(grads)
        return metrics

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"forward": self._optimizer}

    def bp_gradients(self, x: Tensor, y: Tensor) -> Grads:
        """True gradients of the batch-mean loss by autograd (the reference for angles)."""
        with torch.enable_grad():
            params = [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]
            loss = self.task.loss(self.forward(x), y)
            flat = torch.autograd.grad(loss, params)
        return [(flat[2 * i], flat[2 * i + 1]) for i in range(self.depth)]

    # -- backward pass and diagnostics ----------------------------------------------
    def backward_matrices(self) -> list[Tensor] | None:
        """``[B_2, .., B_L]``, the matrices that carry the error of layer ``l`` down to
        layer ``l - 1`` in place of ``W_l^T`` (shape ``(n_{l-1}, n_l)``); ``None`` for
        rules without a layer-wise backward pass (DFA)."""
        return None

    def deltas(self, vs: list[Tensor], rs: list[Tensor], y: Tensor) -> list[Tensor]:
        """``[delta_1, .., delta_L]``, ``delta_l = dL/dv_l`` of the layered backward pass
        through :meth:`backward_matrices` (row-vector convention)::

            delta_L = phi_L'(v_L) * dL/dr_L,   delta_l = phi_l'(v_l) * (delta_{l+1} B_{l+1}^T)
        """
        matrices = self.backward_matrices()
        if matrices is None:
            raise NotImplementedError(f"{self.name}: has no layer-wise backward matrices")
        acts = self.cfg.activations
        delta = phi_prime(vs[-1], acts[-1]) * self.output_gradient(rs[-1], y)
        out = [delta]
        for i in reversed(range(1, self.depth)):
            delta = phi_prime(vs[i - 1], acts[i - 1]) * (delta @ matrices[i - 1].T)
            out.append(delta)
        return out[::-1]

    @torch.no_grad()
    def diagnostics(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """The shared alignment diagnostics (:mod:`neurosim.models.alignment_diagnostics`)
        on a probe batch: per layer the angle between this model's update and the BP
        gradient over the concatenated ``(W_l, b_l)`` (cf. DFC App. F.1), and for rules
        with backward matrices their angle and norm ratio to ``W_l^T`` and Kunin et al.'s
        projection and local gradient angles."""
        own, _ = self.gradients(x, y)
        out = alignment.update_angles(own, self.bp_gradients(x, y))
        matrices = self.backward_matrices()
        if matrices is not None:
            vs, rs = self.trace(x)
            out.update(
                alignment.backward_weight_metrics(
                    [W.detach() for W in self.weights[1:]],
                    [B.detach() for B in matrices],
                    rs[1:-1],
                    self.deltas(vs, rs, y)[1:],
                )
            )
        return out
