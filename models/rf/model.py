"""Deep pseudoinverse feedback (RF): the poster's headline rule and its exact oracle.

Cameron, Chen, Wagner & Sejnowski (recirculation_pinv.md §2.3, C3): the error of the
output is sent down through layer-wise pseudoinverses of the forward weights instead of
their transposes,

.. math::
    \\delta W_l = -\\Big(\\prod_{i=l+1}^{L} B_i\\Big)\\, e\\, h_{l-1}^T, \\qquad
    B_i \\approx W_i^+ \\;(n_{i-1} \\times n_i),

with the product ordered ``B_{l+1} B_{l+2} ⋯ B_L`` and the descent sign the poster
omits (§4, "Sign"). With nonlinear units the feedback path is FA's (§2.4 default, a
deliberate choice documented in docs/recirculation.md): ``phi'`` enters at every layer,

.. math::
    \\delta_L = \\phi_L'(v_L) \\odot e, \\qquad
    \\delta_l = \\phi_l'(v_l) \\odot (B_{l+1}\\, \\delta_{l+1}), \\qquad
    \\nabla W_l = \\delta_l\\, r_{l-1}^T,

so RF is feedback alignment (:class:`~neurosim.models.baselines.fa.FAModel`) whose
feedback matrices are pseudoinverses rather than fixed random matrices; on a linear
network it is exactly the poster's formula. ``e = dL/dr_L`` is the gradient of the
task's batch-mean loss (cross-entropy for classification, as BP and FA here; the
poster's squared error gives ``e = h_L - h_L*``).

* ``rf``: each ``B_l`` is learned by a noise-driven Recirculation pair whose bottom-up
  weights are ``W_l`` (:class:`~neurosim.models.rf.feedback.FeedbackLearner`), starting
  from ``B_l = 0``; feedback passes (pre-training ``schedule.epochs_fb`` and one per
  epoch) run ``feedback_steps`` noise steps per training batch, and every forward update
  is preceded by ``track_steps`` noise steps so that ``B_l`` follows ``W_l``.
* ``rf-exact``: the oracle ``B_l = pinv(W_l)`` recomputed at every update (or the ridge
  inverse with ``damping``).

Diagnostics (``--diagnostics``): per-layer angle between the update and the BP gradient
(``angle_bp/layer{l}``), for ``rf`` also to the exact-pinv update
(``angle_pinv/layer{l}``), and the Penrose residuals of each ``B_l`` against the current
``W_l`` (``penrose_r1..4/layer{l}``, ``pinv_dist/layer{l}``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neurosim.models import diagnostics as diag
from neurosim.models.base import Task
from neurosim.models.baselines.fa import FAModel
from neurosim.models.baselines.mlp import Grads
from neurosim.models.registry import register
from neurosim.models.rf.config import RFConfig, RFExactConfig
from neurosim.models.rf.feedback import FeedbackLearner
from neurosim.models.rf.penrose import RESIDUALS, penrose_residuals
from neurosim.training.metric_labels import MetricLabel, register_metric_label

#: metric key of each Penrose residual
_KEYS = {k: k if k == "pinv_dist" else f"penrose_{k}" for k in RESIDUALS}

_PENROSE_CONDITIONS = {
    "r1": "B_l against W_l: Penrose 1, ||W B W - W|| / ||W||",
    "r2": "B_l against W_l: Penrose 2, ||B W B - B|| / ||B||",
    "r3": "B_l against W_l: Penrose 3, ||(W B)^T - W B|| / ||W B||",
    "r4": "B_l against W_l: Penrose 4, ||(B W)^T - B W|| / ||B W||",
}
for _r, _panel in _PENROSE_CONDITIONS.items():
    register_metric_label(
        f"penrose_{_r}", MetricLabel(_panel, "relative Frobenius residual", log=True)
    )
register_metric_label(
    "pinv_dist",
    MetricLabel("B_l against W_l: distance to pinv(W_l)", "||B - W⁺|| / ||W⁺||", log=True),
)
register_metric_label(
    "angle_pinv", MetricLabel("angle to the exact-pinv feedback update", "angle (degrees)")
)


def ridge_inverse(W: Tensor, damping: float = 0.0) -> Tensor:
    """``Wᵀ (W Wᵀ + damping I)⁻¹`` (= ``(WᵀW + damping I)⁻¹ Wᵀ``), solved on the smaller
    Gram matrix; with ``damping = 0`` this is ``pinv(W)`` of a full-rank ``W`` (row rank
    for a contracting layer, column rank for an expanding one) at a fraction of an SVD's
    cost. A rank-deficient ``W`` without damping raises ``torch.linalg.LinAlgError``."""
    n, m = W.shape
    if n <= m:
        G = W @ W.T + damping * torch.eye(n, dtype=W.dtype, device=W.device)
        return torch.linalg.solve(G, W).T
    G = W.T @ W + damping * torch.eye(m, dtype=W.dtype, device=W.device)
    return torch.linalg.solve(G, W.T)


class _PseudoinverseFeedback(FAModel):
    """FA's backward pass with pseudoinverse feedback; diagnostics of RF."""

    cfg: RFConfig | RFExactConfig

    def penrose(self) -> dict[str, float]:
        """Penrose residuals of each ``B_l`` against the current ``W_l``, l = 2..L."""
        out: dict[str, float] = {}
        for l, (W, B) in enumerate(zip(self.weights[1:], self.feedback, strict=True), start=2):
            res = penrose_residuals(W.detach(), B)
            out.update({f"{_KEYS[k]}/layer{l}": res[k] for k in RESIDUALS})
        return out

    def descent(self, grads: Grads) -> diag.Update:
        return [(-gw, -gb) for gw, gb in grads]

    @torch.no_grad()
    def diagnostics(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """The shared alignment diagnostics of every rule with backward matrices
        (:mod:`neurosim.models.alignment_diagnostics`: per-layer angle to the BP gradient,
        ``B_l`` against ``W_l^T``) and the Penrose residuals of every feedback matrix."""
        out = super().diagnostics(x.to(self.weights[0].dtype), y)
        out.update(self.penrose())
        return out


class RFModel(_PseudoinverseFeedback):
    """Deep RF with feedback learned by noise-driven Recirculation (``rf``)."""

    name = "rf"
    has_feedback_phase = True
    #: read by the training loop when the loss or a weight becomes NaN/inf
    divergence_hint = (
        "the learning rate is probably too high (lower params.lr), or the noise-driven "
        "feedback learning is unstable: lower params.lr_feedback or params.noise_sigma "
        "(lr_feedback * noise_sigma^2 * lambda_max(W_l W_l^T) must stay below 2)"
    )

    def __init__(self, task: Task, cfg: RFConfig, **kwargs: Any) -> None:
        super().__init__(task, cfg, **kwargs)
        for B in self.feedback:
            B.zero_()  # B_0 = 0 (§2.4): keeps the complement of range(W_l) clean
        self.learner = FeedbackLearner(
            list(self.weights[1:]),
            self.feedback,
            eta=cfg.lr_feedback,
            sigma=cfg.noise_sigma,
            batch=cfg.noise_batch,
            seed=kwargs.get("seed", 42),
        )

    def train_batch(self, x: Tensor, y: Tensor, phase: str) -> dict[str, float]:
        """``"feedback"``: ``feedback_steps`` noise steps (the data are not used: the
        drive is white noise, C2). ``"forward"``: ``track_steps`` noise steps, then the
        RF update of the forward weights."""
        if phase == "feedback":
            self.learner.step(self.cfg.feedback_steps)
            return {}
        if phase != "forward":
            raise ValueError(f"{self.name}: phase must be 'forward' or 'feedback', got {phase!r}")
        self.learner.step(self.cfg.track_steps)
        return super().train_batch(x, y, phase)

    @torch.no_grad()
    def diagnostics(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Also the angle between this update and the exact-pinv (oracle) update."""
        out = super().diagnostics(x, y)
        x = x.to(self.weights[0].dtype)
        own = self.descent(self.gradients(x, y)[0])
        learned = [B.clone() for B in self.feedback]
        try:
            for B, W in zip(self.feedback, self.weights[1:], strict=True):
                B.copy_(ridge_inverse(W))
            exact = self.descent(self.gradients(x, y)[0])
        finally:
            for B, saved in zip(self.feedback, learned, strict=True):
                B.copy_(saved)
        for i, a in enumerate(diag.layer_angles(own, exact), 1):
            out[f"angle_pinv/layer{i}"] = a
        return out

    # -- random state (exact resume) ---------------------------------------------------
    def get_extra_state(self) -> Tensor:
        """The feedback pairs' noise-generator states (``state_dict`` key
        ``_extra_state``), so that a resumed run continues the noise exactly."""
        return self.learner.rng_state()

    def set_extra_state(self, state: Tensor) -> None:
        self.learner.set_rng_state(state)


class RFExactModel(_PseudoinverseFeedback):
    """The oracle ``B_l = pinv(W_l)`` (or ridge inverse), recomputed every update."""

    name = "rf-exact"
    has_feedback_phase = False

    def __init__(self, task: Task, cfg: RFExactConfig, **kwargs: Any) -> None:
        super().__init__(task, cfg, **kwargs)
        for i in range(1, self.depth):
            delattr(self, f"B{i}")  # FA's fixed random matrices: the oracle computes its own

    @property
    def feedback(self) -> list[Tensor]:
        """``[pinv(W_2), .., pinv(W_L)]`` of the current weights."""
        return [ridge_inverse(W.detach(), self.cfg.damping) for W in self.weights[1:]]


@register("rf")
def make_rf(
    task: Task,
    params: dict[str, Any],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    seed: int = 42,
) -> RFModel:
    """Registry factory: ``params`` validated by :class:`RFConfig`."""
    return RFModel(task, RFConfig.from_params(params), device=device, dtype=dtype, seed=seed)


@register("rf-exact")
def make_rf_exact(
    task: Task,
    params: dict[str, Any],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    seed: int = 42,
) -> RFExactModel:
    """Registry factory: ``params`` validated by :class:`RFExactConfig`."""
    cfg = RFExactConfig.from_params(params)
    return RFExactModel(task, cfg, device=device, dtype=dtype, seed=seed)
