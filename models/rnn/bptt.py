"""The through-time baselines as trainable models: BPTT, FA and DFA through time.

Each batch of trajectories gives one update per sequence (the fact sheet's default
timing), ``W -= eta * G`` with ``G`` from :mod:`neurosim.models.rnn.through_time`, summed
over time with the weights ``w_t`` (``time_average``: the source's eq. 1, ``1/t``) and
averaged over the batch; ``b`` with ``train_bias``; ``V, c`` with ``train_readout`` by
the delta rule (for these rules the exact gradient).
"""

from __future__ import annotations

from torch import Tensor

from neurosim.models.rnn.base import RNNModel, register_rule
from neurosim.models.rnn.network import Trajectory, masked_mse, time_weights
from neurosim.models.rnn.through_time import (
    bptt_gradients,
    dfa_gradients,
    readout_gradients,
    recursion_gradients,
)


class ThroughTimeModel(RNNModel):
    """Base of the rules that send the error back through the unrolled sequence."""

    def gradients(self, x: Tensor, y: Tensor, w: Tensor, traj: Trajectory) -> tuple[Tensor, Tensor]:
        """``(G_W, G_b)``: this rule's substitute for ``(dL/dW, dL/db)`` (``traj``: the
        run at the current weights)."""
        raise NotImplementedError

    def weights(self, x: Tensor) -> Tensor:
        """The per-step weights ``w_t`` (gated)."""
        return time_weights(x.shape[1], self.cfg.time_average, self.gate(x))

    def rule_update(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        gW, gb = self.gradients(x, y, self.weights(x), self.unroll(x))
        return -self.cfg.lr * gW, -self.cfg.lr * gb

    def learn(self, x: Tensor, y: Tensor) -> dict[str, float]:
        w = self.weights(x)
        traj = self.unroll(x)
        loss = float(masked_mse(traj.y, y, self.gate(x)))
        gW, gb = self.gradients(x, y, w, traj)
        if self.cfg.train_readout:
            gV, gc = readout_gradients(traj, traj.y - y, w)
            self.V.sub_(gV, alpha=self.cfg.lr_readout)
            self.c.sub_(gc, alpha=self.cfg.lr_readout)
        self.apply_update(-self.cfg.lr * gW, -self.cfg.lr * gb)
        return {"loss": loss}


@register_rule
class BPTTModel(ThroughTimeModel):
    """Backpropagation through time by autograd (the source's eqs. 1-3 through time)."""

    name = "bptt"

    def gradients(self, x: Tensor, y: Tensor, w: Tensor, traj: Trajectory) -> tuple[Tensor, Tensor]:
        return bptt_gradients(x, y, w, self.W, self.U, self.V, self.c, self.b)


@register_rule
class FARNNModel(ThroughTimeModel):
    """Feedback alignment through time: ``B_fa^T`` replaces ``W^T`` in the recursion
    (eqs. 4-5); the readout's ``V^T`` is kept."""

    name = "fa-rnn"

    def gradients(self, x: Tensor, y: Tensor, w: Tensor, traj: Trajectory) -> tuple[Tensor, Tensor]:
        return recursion_gradients(traj, traj.y - y, w, self.V, self.B_fa)


@register_rule
class DFARNNModel(ThroughTimeModel):
    """Direct feedback alignment through time (eq. 6): ``sigma' * B_dfa^T e`` at every
    unrolled step (``dfa_error``: the current error or each step's own)."""

    name = "dfa-rnn"

    def gradients(self, x: Tensor, y: Tensor, w: Tensor, traj: Trajectory) -> tuple[Tensor, Tensor]:
        return dfa_gradients(traj, traj.y - y, w, self.B_dfa, self.cfg.dfa_error)
