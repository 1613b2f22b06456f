"""Feedback matrices of deep RF learned by one noise-driven Recirculation pair per layer.

For every layer ``l = 2..L`` of a feedforward network, a
:class:`~neurosim.circuits.ReciprocalPair` ``rf{l}`` with visible layer ``n_{l-1}``,
hidden layer ``n_l``, frozen bottom-up weights ``A = W_l`` (``eta_A = 0``) and top-down
weights ``B = B_l`` is added to one network, built to IR and simulated online by
:class:`~neurosim.backends.torch.TorchSimulator`. The simulator shares the model's
tensors: it reads ``W_l`` as the task updates it and writes ``B_l`` in place
(recirculation_pinv.md §2.4: noise at layer ``l - 1``, ``h = W_l xi``,
``Delta B_l = eta_B (xi - B_l h) hᵀ``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import ReciprocalPair
from neurosim.core.init import Zeros
from neurosim.core.network import Network
from neurosim.ir.build import build


class FeedbackLearner:
    """Learns ``feedback[k] ≈ pinv(weights[k])`` in place.

    Parameters
    ----------
    weights : ``[W_2, .., W_L]`` (each ``n_l x n_{l-1}``), read only.
    feedback : ``[B_2, .., B_L]`` (each ``n_{l-1} x n_l``), learned in place.
    eta, sigma : rate ``eta_B`` and noise standard deviation of every pair.
    batch : noise samples per step.
    seed : network seed (the pairs' noise seeds derive from it).
    """

    def __init__(
        self,
        weights: Sequence[Tensor],
        feedback: Sequence[Tensor],
        eta: float,
        sigma: float,
        batch: int,
        seed: int,
    ) -> None:
        if len(weights) != len(feedback):
            raise ValueError(
                f"FeedbackLearner: {len(weights)} weights but {len(feedback)} feedback matrices"
            )
        net = Network("rf_feedback", seed=seed)
        params: dict[str, Tensor] = {}
        self.pairs: list[ReciprocalPair] = []
        for k, (W, B) in enumerate(zip(weights, feedback, strict=True), start=2):
            n, m = W.shape
            if tuple(B.shape) != (m, n):
                raise ValueError(
                    f"FeedbackLearner: feedback of layer {k} has shape {tuple(B.shape)}, "
                    f"W_{k} is {tuple(W.shape)}; B_{k} must be {(m, n)}"
                )
            pair = ReciprocalPair(
                f"rf{k}", m, hidden=n, sigma=sigma, eta_A=0.0, eta_B=eta, init_B=Zeros()
            )
            net.add(pair)
            params[pair.var("A")], params[pair.var("B")] = W.detach(), B
            self.pairs.append(pair)
        W0 = weights[0]
        # No simulator guard: a diverging B_l (eta_B sigma² lambda_max(W Wᵀ) >= 2) turns
        # the loss NaN, and the training loop stops with the model's divergence hint and
        # the last good checkpoint, which the simulator's own error could not name.
        self.sim = TorchSimulator(
            build(net, dt=1.0),
            device=W0.device,
            dtype=W0.dtype,
            params=params,
            threads=1,
            progress=False,
            check_finite=False,
        )
        self.batch = batch
        self.sim.reset({}, batch=batch)

    @torch.no_grad()
    def step(self, steps: int) -> None:
        """``steps`` online noise steps of every pair (no-op for 0)."""
        if steps > 0:
            self.sim.run(steps, plasticity="online", lr=1.0, progress=False)

    # -- random state (exact resume) --------------------------------------------------
    def rng_state(self) -> Tensor:
        """The pairs' noise-generator states, one uint8 row per pair in name order."""
        states = self.sim.rng_state()
        return torch.stack([states[k] for k in sorted(states)])

    def set_rng_state(self, state: Tensor) -> None:
        """Restore :meth:`rng_state`."""
        names = sorted(self.sim.rng_state())
        if state.dim() != 2 or state.shape[0] != len(names):
            raise ValueError(
                f"FeedbackLearner: noise state of shape {tuple(state.shape)} does not hold "
                f"the {len(names)} generators {names}"
            )
        self.sim.set_rng_state(dict(zip(names, state.cpu(), strict=True)))
