"""What every recurrent learner shares: parameters, forward pass, evaluation, diagnostics.

A rule subclass implements :meth:`RNNModel.learn` (one batch of trajectories: apply its
updates, return the loss seen while learning) and :meth:`RNNModel.rule_update` (its
update direction at the current weights, without applying it; for the angle to the
BPTT gradient). Updates are plain SGD steps, as in the source, so there is no
optimiser state to checkpoint.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from neurosim.models.base import Task, TrainableModel
from neurosim.models.diagnostics import angle
from neurosim.models.registry import register
from neurosim.models.rnn.config import RNNConfig
from neurosim.models.rnn.descent import descent_fraction
from neurosim.models.rnn.network import (
    Trajectory,
    draw_weights,
    error_gate,
    masked_mse,
    time_weights,
    unroll,
)
from neurosim.models.rnn.through_time import bptt_gradients
from neurosim.training.metric_labels import MetricLabel, register_metric_label

for _group, _label in {
    "angle_bptt": MetricLabel("angle to the BPTT gradient step", "angle (degrees)"),
    "descent_fraction": MetricLabel(
        "autapse descent condition e^T V D B e > 0",
        "fraction of (trajectory, step) pairs",
        name="condition holds",
    ),
    "angle_VT_B": MetricLabel("readout alignment", "angle (degrees)", name="angle(V^T, B)"),
}.items():
    register_metric_label(_group, _label)


class RNNModel(TrainableModel):
    """A recurrent network ``a = W o(t-1) + U x + b``, ``y_hat = V o + c`` on trajectories
    ``(batch, T, n)`` (see :mod:`neurosim.models.rnn.network`).

    Parameters: ``W`` (trained), ``b``, ``V``, ``c`` (trained with ``train_bias`` /
    ``train_readout``, else fixed at their initial values); buffers: ``U`` and the
    feedback matrices ``B``, ``B_fa``, ``B_dfa``.
    """

    has_feedback_phase = False
    divergence_hint = (
        "the learning rate is probably too high: lower params.lr (or lr_readout); for the "
        "autapse rule, DFA and RFLO also check the feedback B: where e^T V D B e < 0 an "
        "update raises the loss (docs/autapse_rnn.md)"
    )

    def __init__(
        self,
        task: Task,
        cfg: RNNConfig,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
        seed: int = 42,
    ) -> None:
        super().__init__(task)
        if task.kind != "regression":
            raise ValueError(
                f"{type(self).__name__}: needs a regression task on trajectories (e.g. "
                f"--dataset bouncing-ball), got a {task.kind} task"
            )
        self.cfg = cfg
        w = draw_weights(cfg, task.n_in, task.n_out, seed, device, dtype)
        N = cfg.hidden_size
        self.W = nn.Parameter(w["W"], requires_grad=False)
        self.b = nn.Parameter(w["W"].new_zeros(N), requires_grad=False)
        self.V = nn.Parameter(w["V"], requires_grad=False)
        self.c = nn.Parameter(w["V"].new_zeros(task.n_out), requires_grad=False)
        for key in ("U", "B", "B_fa", "B_dfa"):
            self.register_buffer(key, w[key])

    # -- contract -------------------------------------------------------------------
    def unroll(self, x: Tensor) -> Trajectory:
        """The network's run over ``x`` at the current weights."""
        return unroll(x, self.W, self.U, self.V, self.c, self.b)

    def forward(self, x: Tensor) -> Tensor:
        """Predictions ``y_hat`` (batch, T, n_out)."""
        return self.unroll(x).y

    def gate(self, x: Tensor) -> Tensor:
        """The error gate over the T steps of ``x`` (0 during the washout)."""
        return error_gate(x.shape[1], self.cfg.washout, x)

    def evaluate(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """MSE of the predictions over the gated steps (no learning)."""
        with torch.no_grad():
            return {"loss": float(masked_mse(self(x), y, self.gate(x)))}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {}

    @torch.no_grad()
    def train_batch(self, x: Tensor, y: Tensor, phase: str) -> dict[str, float]:
        """One batch of trajectories (the rules have no feedback phase)."""
        if phase != "forward":
            return {}
        return self.learn(x, y)

    # -- rules ----------------------------------------------------------------------
    def learn(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Apply this rule's updates for one batch; ``{"loss": MSE while learning}``."""
        raise NotImplementedError

    def rule_update(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(dW, db)`` this rule would make on ``x, y`` at the current weights (up to a
        positive factor), without changing anything."""
        raise NotImplementedError

    def apply_update(self, dW: Tensor, db: Tensor) -> None:
        """``W += dW`` (and ``b += db`` with ``train_bias``)."""
        self.W.add_(dW)
        if self.cfg.train_bias:
            self.b.add_(db)

    # -- diagnostics ----------------------------------------------------------------
    @torch.no_grad()
    def bptt_direction(self, x: Tensor, y: Tensor) -> Tensor:
        """``-dL/dW`` of the summed loss ``sum_t |e(t)|^2 / 2`` (BPTT, autograd)."""
        w = time_weights(x.shape[1], average=False, gate=self.gate(x))
        gW, _ = bptt_gradients(x, y, w, self.W, self.U, self.V, self.c, self.b)
        return -gW

    @torch.no_grad()
    def diagnostics(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """On a probe batch: ``angle_bptt/layer1``, the angle (degrees) between this
        rule's ``dW`` and the BPTT gradient step ``-dL/dW``; ``descent_fraction``, the
        share of (trajectory, step) pairs where the autapse rule's descent condition
        ``e^T V D B e > 0`` holds (:mod:`neurosim.models.rnn.descent`); with a trained
        readout ``angle_VT_B``, the angle between ``V^T`` and ``B``."""
        dW, _ = self.rule_update(x, y)
        out = {"angle_bptt/layer1": angle(dW, self.bptt_direction(x, y))}
        traj = self.unroll(x)
        e = (traj.y - y) * self.gate(x)[None, :, None]
        out["descent_fraction"] = descent_fraction(traj, e, self.V, self.B)
        if self.cfg.train_readout:
            out["angle_VT_B"] = angle(self.V.t(), self.B)
        return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isnan(v))}

    def extra_repr(self) -> str:
        c: Any = self.cfg
        return f"N={c.hidden_size}, lr={c.lr:g}, tau={c.tau:g}, io={c.io_weights}"


def _make(cls: type[RNNModel], task: Task, params: dict[str, Any], **options: Any) -> RNNModel:
    """Registry factory of an RNN rule: ``params`` validated by :class:`RNNConfig`;
    ``options`` are the registry's ``device``, ``dtype`` and ``seed``."""
    return cls(task, RNNConfig.from_params(params), **options)


def register_rule(cls: type[RNNModel]) -> type[RNNModel]:
    """Class decorator: register ``cls`` under ``cls.name`` for ``neurosim train``."""
    register(cls.name)(partial(_make, cls))
    return cls
