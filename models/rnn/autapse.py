"""The autapse rule (Wang, Gray & Banerjee) as a trainable model: the circuit, online.

Learning is a simulation of :class:`~neurosim.circuits.AutapseRNNBuilder`'s circuit
(describe -> ``neurosim.build`` -> :class:`~neurosim.backends.torch.TorchSimulator`,
batched over trajectories) with ``plasticity="online"``: at every step
``dW = -eta mean_b (B e(t)) k(t)^T`` (eqs. 7-10, corrected; no ``sigma'``, no unrolling),
with ``k`` the autapse trace of the presynaptic rates; ``db = -eta B e`` with
``train_bias``; ``dV = -eta_V e o^T``, ``dc = -eta_V e`` with ``train_readout``. The
simulator shares the model's parameter tensors, so its updates are the model's.
The same circuit runs on brian2 (``tests/models/test_autapse_rnn_circuit.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import neurosim
from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import AutapseRNNBuilder
from neurosim.core.init import Given
from neurosim.models.base import Task
from neurosim.models.rnn.base import RNNModel, register_rule
from neurosim.models.rnn.config import RNNConfig
from neurosim.models.rnn.network import masked_mse

#: circuit parameter -> model attribute (the tensors the simulator shares)
SHARED = {"R.W": "W", "R.b": "b", "V.W": "V", "V.b": "c", "W_in.W": "U", "B.W": "B"}


@register_rule
class AutapseRNNModel(RNNModel):
    """Online autapse-rule learner (module docstring); ``circuit`` is its IR model."""

    name = "autapse-rnn"

    def __init__(self, task: Task, cfg: RNNConfig, **kwargs: Any) -> None:
        super().__init__(task, cfg, **kwargs)
        given = {k: Given(getattr(self, a).detach().cpu().numpy()) for k, a in SHARED.items()}
        self.network = AutapseRNNBuilder(
            hidden_size=cfg.hidden_size,
            io_size=task.n_out,
            tau=float(cfg.tau),
            eta=float(cfg.lr),
            input_init=given["W_in.W"],
            readout_init=given["V.W"],
            recurrent_init=given["R.W"],
            feedback_init=given["B.W"],
            recurrent_bias=cfg.train_bias,
            readout_eta=float(cfg.lr_readout) if cfg.train_readout else None,
            gate=cfg.washout > 0,
            name="autapse_rnn",
        ).build()
        if task.n_in != task.n_out:
            raise ValueError(
                f"AutapseRNNModel: input ({task.n_in}) and output ({task.n_out}) sizes differ; "
                "the circuit predicts the next value of its input"
            )
        self.circuit = neurosim.build(self.network, dt=1.0)
        self._sim: TorchSimulator | None = None

    def simulator(self) -> TorchSimulator:
        """The torch simulator of the circuit, sharing this model's tensors (rebuilt if
        they moved, e.g. after ``.to(device)``)."""
        shared = {
            k: getattr(self, a).data for k, a in SHARED.items() if k in self.circuit.variables
        }
        sim = self._sim
        if sim is None or any(sim.params[k].data_ptr() != t.data_ptr() for k, t in shared.items()):
            t = self.W.data
            sim = TorchSimulator(
                self.circuit, device=t.device, dtype=t.dtype, params=shared, progress=False
            )
            self._sim = sim
        return sim

    def _inputs(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Time-major inputs of the circuit (``(T, batch, n)``; gate with a washout)."""
        inputs = {"x.r": x.transpose(0, 1), "y.r": y.transpose(0, 1)}
        if self.cfg.washout > 0:
            g = self.gate(x)[:, None, None].expand(-1, x.shape[0], y.shape[2])
            inputs["g.r"] = g
        return inputs

    def learn(self, x: Tensor, y: Tensor) -> dict[str, float]:
        sim = self.simulator()
        sim.reset(self._inputs(x, y))
        res = sim.run(x.shape[1], record=["e.v_prediction"], plasticity="online", lr=1.0)
        pred = res.traces["e.v_prediction"][1:].transpose(0, 1)
        return {"loss": float(masked_mse(pred, y, self.gate(x)))}

    def rule_update(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(dW, db)`` accumulated over the run at fixed weights (the circuit with
        ``plasticity="accumulate"``: ``-eta <B e k^T>`` averaged over steps and batch)."""
        sim = self.simulator()
        sim.reset(self._inputs(x, y))
        upd = sim.run(x.shape[1], plasticity="accumulate").updates
        dW = upd["R.W"]
        return dW, upd.get("R.b", torch.zeros_like(self.b))
