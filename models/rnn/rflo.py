"""Random-feedback local online learning, RFLO (Murray 2019, eLife 43299), as the fifth rule.

The autapse rule with the derivative kept inside the trace (autapse_rnn_fa.md §3,
"going beyond" (c); after ``omarschall/vanilla-rtrl:learning_algorithms/RFLO.py``,
``B_ij <- (1 - alpha) B_ij + alpha phi'(h_i) a_hat_j``): one eligibility trace per
synapse,

.. math::
    P_{ij}(t) = P_{ij}(t-1)
        + \\frac{1}{\\tau}\\big(\\sigma'(a_i(t))\\, o_j(t-1) - P_{ij}(t-1)\\big), \\qquad
    \\Delta W_{ij}(t) = -\\eta\\, (B e(t))_i\\, P_{ij}(t),

and for the bias (presynaptic input 1) ``P^b_i(t) = P^b_i + (sigma'(a_i) - P^b_i)/tau``,
``db = -eta (B e) * P^b``. With ``sigma' = 1`` the trace is the autapse trace ``k(t)``
of every synapse of a row and the rule is the autapse rule. The trace is per synapse
(N^2 per trajectory), not per neuron, so RFLO is a model in torch, not an IR circuit.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neurosim.models.rnn.base import RNNModel, register_rule
from neurosim.models.rnn.network import masked_mse, sigmoid_prime


@register_rule
class RFLOModel(RNNModel):
    """Online RFLO learner (module docstring), batched over trajectories: every step
    applies the batch-mean update, as the autapse circuit does."""

    name = "rflo"

    def run(self, x: Tensor, y: Tensor, apply: bool) -> tuple[Tensor, Tensor, Tensor]:
        """One pass over ``x``: ``(predictions, summed dW, summed db)``; ``apply``
        updates the weights every step (online), else they stay fixed."""
        cfg, (batch, T, _) = self.cfg, x.shape
        N = cfg.hidden_size
        gate = self.gate(x)
        drive = x @ self.U.t()
        o = x.new_zeros(batch, N)
        P, Pb = x.new_zeros(batch, N, N), x.new_zeros(batch, N)
        sum_dW, sum_db = torch.zeros_like(self.W), torch.zeros_like(self.b)
        preds = []
        for t in range(T):
            a = torch.addmm(drive[:, t] + self.b, o, self.W.t())
            dphi = sigmoid_prime(a)
            o_new = torch.sigmoid(a)
            y_hat = o_new @ self.V.t() + self.c
            e = (y_hat - y[:, t]) * gate[t]
            P.add_(dphi[:, :, None] * o[:, None, :] - P, alpha=1.0 / cfg.tau)
            Pb.add_(dphi - Pb, alpha=1.0 / cfg.tau)
            m = e @ self.B.t()  # B e, (batch, N)
            dW = -cfg.lr * (m[:, :, None] * P).mean(0)
            db = -cfg.lr * (m * Pb).mean(0)
            sum_dW += dW
            sum_db += db
            if apply:
                if cfg.train_readout:
                    self.V.add_(e.t() @ o_new, alpha=-cfg.lr_readout / batch)
                    self.c.add_(e.mean(0), alpha=-cfg.lr_readout)
                self.apply_update(dW, db)
            preds.append(y_hat)
            o = o_new
        return torch.stack(preds, 1), sum_dW, sum_db

    def learn(self, x: Tensor, y: Tensor) -> dict[str, float]:
        pred, _, _ = self.run(x, y, apply=True)
        return {"loss": float(masked_mse(pred, y, self.gate(x)))}

    def rule_update(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        _, dW, db = self.run(x, y, apply=False)
        return dW, db
