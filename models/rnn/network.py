"""The recurrent network shared by every rule: initial weights, unrolling, weightings.

Network (autapse_rnn_fa.md §2.1; the source never writes it, this is the reading where
W is the only trained matrix)::

    a(t) = W o(t-1) + U x(t) + b        o(t) = sigma(a(t))        y_hat(t) = V o(t) + c

with ``o(-1) = 0`` (state reset per trajectory), ``sigma`` the logistic function and
``b = 0``, ``c = 0`` unless trained. Tensors are batched over trajectories:
``x`` is ``(batch, T, n_in)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from neurosim.models.rnn.config import RNNConfig


@dataclass
class Trajectory:
    """One unrolled run: pre-activations ``a`` and rates ``o`` (batch, T, N), the rates
    one step earlier ``o_prev`` (``o(t-1)``, zeros at t = 0) and the outputs ``y`` (batch,
    T, n_out)."""

    a: Tensor
    o: Tensor
    o_prev: Tensor
    y: Tensor


def draw_weights(
    cfg: RNNConfig, n_in: int, n_out: int, seed: int, device: torch.device | str, dtype: torch.dtype
) -> dict[str, Tensor]:
    """Initial ``W, U, V`` and the feedback matrices ``B`` (N, n_out; autapse rule and
    RFLO), ``B_fa`` (N, N; replaces ``W`` in FA's recursion) and ``B_dfa`` (n_out, N;
    DFA sends ``B_dfa^T e``), from one generator seeded with ``seed``.

    Every matrix is always drawn, in this order, whatever the rule and options, so that
    runs of different rules with the same seed share their initial network (the
    source's shared initialisation) and an option never shifts another's draw.
    """
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    N = cfg.hidden_size

    def normal(shape: tuple[int, int], std: float) -> Tensor:
        return torch.randn(shape, generator=g, dtype=torch.float64) * std

    W = normal((N, N), cfg.w_init_std)
    U = normal((N, n_in), N**-0.5)
    V = normal((n_out, N), N**-0.5)
    B = normal((N, n_out), cfg.feedback_std)
    B_fa = normal((N, N), cfg.feedback_std * N**-0.5)
    if cfg.io_weights == "identity":
        U, V = torch.eye(N, n_in, dtype=torch.float64), torch.eye(n_out, N, dtype=torch.float64)
    if cfg.given_feedback is not None:
        B = torch.as_tensor(cfg.given_feedback, dtype=torch.float64)
    if cfg.feedback_sharing == "literal":  # one 2 x 2 B for all rules (N = 2)
        B_fa, B_dfa = B.clone(), B.clone()
    else:  # DFA delivers the same B e as the autapse rule
        B_dfa = B.t().clone()
    out = {"W": W, "U": U, "V": V, "B": B, "B_fa": B_fa, "B_dfa": B_dfa}
    return {k: v.to(device=device, dtype=dtype) for k, v in out.items()}


def unroll(x: Tensor, W: Tensor, U: Tensor, V: Tensor, c: Tensor, b: Tensor) -> Trajectory:
    """Run the network over ``x`` (batch, T, n_in) from ``o(-1) = 0``."""
    batch, T, _ = x.shape
    drive = x @ U.t() + b  # U x(t) + b for every t at once
    o = x.new_zeros(batch, W.shape[0])
    a_steps, o_steps = [], []
    for t in range(T):
        a = torch.addmm(drive[:, t], o, W.t())
        o = torch.sigmoid(a)
        a_steps.append(a)
        o_steps.append(o)
    a_all, o_all = torch.stack(a_steps, 1), torch.stack(o_steps, 1)
    o_prev = torch.cat([o_all.new_zeros(batch, 1, o_all.shape[2]), o_all[:, :-1]], 1)
    return Trajectory(a_all, o_all, o_prev, o_all @ V.t() + c)


def sigmoid_prime(a: Tensor) -> Tensor:
    """``sigma'(a) = sigma(a) (1 - sigma(a))``."""
    s = torch.sigmoid(a)
    return s * (1.0 - s)


def error_gate(T: int, washout: int, like: Tensor) -> Tensor:
    """``(T,)`` 0/1 gate of the error: 0 on the first ``washout`` steps."""
    gate = like.new_ones(T)
    gate[: min(washout, T)] = 0.0
    return gate


def time_weights(T: int, average: bool, gate: Tensor) -> Tensor:
    """Weight ``w_t`` of target step t (1-based) in the per-sequence update of the BPTT
    family: ``1/t`` for the source's eq. 1 (each step's unrolled update averaged over
    its t steps), 1 for the summed gradient; times the error gate."""
    if not average:
        return gate.clone()
    t = torch.arange(1, T + 1, dtype=gate.dtype, device=gate.device)
    return gate / t


def masked_mse(y_hat: Tensor, y: Tensor, gate: Tensor) -> Tensor:
    """Mean squared error over the gated steps, all trajectories and coordinates."""
    sq = ((y_hat - y) ** 2).mean(dim=(0, 2))
    return (sq * gate).sum() / gate.sum().clamp_min(1.0)
