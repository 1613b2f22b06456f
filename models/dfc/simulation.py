"""Simulated phases of DFC on the torch backend: the forward phase (DFC, DFC-SS)
and the feedback sleep phase (all trained variants).

The circuit is described once per model and phase, built to the IR and run by
:class:`neurosim.backends.torch.TorchSimulator`, which shares the model's weight
tensors (``params=``), so every run sees the current weights and the
:class:`~neurosim.ir.ops.LocalPlasticity` updates it returns are the local rules of
the paper:

Both circuits run in deviation variables about the feedforward operating point
(:func:`neurosim.ir.deviation.deviation_form`): every voltage, rate and control holds
its difference from the feedforward value, so float32 keeps the digits that the
controller's tiny pushes live in.

* forward phase (DFC.md §1.2, App. E.1): proactive or not, instantaneous apical
  compartment (tau_A = dt), target shift ``r_L* - r_L^-`` given (computed with the
  batch-mean loss, DFC.md §1.1); rule eq. 5 with window ``"all"`` (DFC, time average over the
  T samples) or ``"last"`` (DFC-SS). The backend returns
  ``Delta W = 1/(B N) sum delta pre^T``; the reference gradient is ``-2 Delta W``.
* sleep phase (DFC eq. 12–13, App. E.2, DFC.md §1.5): non-proactive, target = the
  feedforward output, noise in every apical compartment, rule
  ``Delta Q = -1/(B (T-1)) sum v_A[k] u[k+1]^T``; the reference gradient is
  ``-s Delta Q`` with ``s = 1/max(sigma_fb, 0.01)^2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from neurosim.models.dfc.circuit import PhaseCircuit, build_forward_phase, build_sleep_phase

if TYPE_CHECKING:
    from neurosim.models.dfc.model import DFCModel

Grads = list[tuple[Tensor, Tensor]]


@dataclass
class ForwardPhaseResult:
    """Gradients of one forward phase and the convergence bookkeeping (§1.3)."""

    grads: Grads
    converged: Tensor
    diverged: Tensor


def phase_circuit(model: DFCModel, phase: str) -> PhaseCircuit:
    """The model's cached built circuit + simulator for ``phase`` ("forward" or
    "sleep"), built on first use."""
    cache = model.__dict__.setdefault("_phase_circuits", {})
    if phase not in cache:
        W = model.weights[0]
        builder = build_forward_phase if phase == "forward" else build_sleep_phase
        cache[phase] = builder(model, device=W.device, dtype=W.dtype)
    return cache[phase]


_simulator = phase_circuit


def convergence(
    dr_L: Tensor, u: Tensor, delta_L: Tensor, r_ff: Tensor, alpha: float, epsilon: float
) -> tuple[Tensor, Tensor]:
    """Convergence filter of DFC.md §1.3 on the last time step ``T-1``, in deviations
    from the feedforward point (``dr_L = r_L - r_L^-``, ``delta_L = r* - r_L^-``).

    Converged: ``||r_L - (r* - alpha u)|| / ||r_L^-|| < 1e-5``, i.e.
    ``||dr_L - delta_L + alpha u|| / ||r_L^-|| < 1e-5``, and
    ``||e[T-1]|| < epsilon^2 ||e[0]||`` with ``e[T-1] = delta_L - dr_L``,
    ``e[0] = delta_L``; diverged: the first ratio above 1. Returns boolean masks (B,).
    """
    ratio = torch.linalg.vector_norm(dr_L - delta_L + alpha * u, dim=1) / (
        torch.linalg.vector_norm(r_ff, dim=1)
    )
    e_last = torch.linalg.vector_norm(delta_L - dr_L, dim=1)
    e_first = torch.linalg.vector_norm(delta_L, dim=1)
    return (ratio < 1e-5) & (e_last < epsilon**2 * e_first), ratio > 1.0


def _run_forward(pc: PhaseCircuit, x: Tensor, delta_L: Tensor, steps: int) -> Grads:
    pc.sim.reset({pc.names.input: x, pc.names.label: delta_L})
    res = pc.sim.run(steps, plasticity="accumulate", progress=False)
    return [(-2.0 * res.updates[w], -2.0 * res.updates[b]) for w, b in pc.names.forward_params]


def forward_phase_gradients(
    model: DFCModel, x: Tensor, vs: list[Tensor], rs: list[Tensor], delta_L: Tensor
) -> tuple[Grads, dict[str, float]]:
    """Forward-weight gradients of DFC (``variant="dfc"``, eq. 5 time-integrated) or
    DFC-SS (``"ss"``, last step), with the convergence filter of DFC.md §1.3, for the
    target shift ``delta_L = r_L* - r_L^-`` (the circuit runs in deviations from the
    feedforward point, :func:`~neurosim.models.dfc.circuit.describe`).

    Samples that did not converge contribute nothing (unless
    ``include_non_converged_samples``) while the normalisation stays ``1/B``. The
    update is a sum over samples, so the smaller group is simulated again: the
    non-converged samples ``N`` when they are fewer (their part is taken out:
    ``g_C = g_all - |N|/B g_N``), else the converged ones ``C`` (``g_C |C|/B``).
    """
    cfg = model.cfg
    pc = phase_circuit(model, "forward")
    steps = cfg.tmax_di - 1
    grads = _run_forward(pc, x, delta_L, steps)
    state = pc.sim.state
    conv, div = convergence(
        state[pc.names.output],
        state[pc.names.control],
        delta_L,
        rs[-1],
        cfg.alpha_di,
        cfg.epsilon_di,
    )
    B, n_conv = x.shape[0], int(conv.sum())
    metrics = {"converged": n_conv / B, "diverged": float(div.sum()) / B}
    if cfg.include_non_converged_samples or n_conv == B:
        return grads, metrics
    if n_conv == 0:
        return [(torch.zeros_like(gw), torch.zeros_like(gb)) for gw, gb in grads], metrics
    if B - n_conv < n_conv:
        drop = ~conv
        part, f = _run_forward(pc, x[drop], delta_L[drop], steps), (B - n_conv) / B
        pairs = zip(grads, part, strict=True)
        return [(gw - f * pw, gb - f * pb) for (gw, gb), (pw, pb) in pairs], metrics
    sub = _run_forward(pc, x[conv], delta_L[conv], steps)
    return [(gw * (n_conv / B), gb * (n_conv / B)) for gw, gb in sub], metrics


def sleep_phase_gradients(model: DFCModel, x: Tensor) -> tuple[list[Tensor], dict[str, float]]:
    """Feedback-weight gradients of one sleep phase (DFC.md §1.5 steps 1–3).

    Returns ``grad Q_i`` for every layer (``.grad`` convention, before the joint
    clipping and before Adam's weight decay) and the mean squared control.
    """
    cfg = model.cfg
    pc = phase_circuit(model, "sleep")
    # the target is the feedforward output: its deviation from it is 0
    rest = torch.zeros(x.shape[0], model.task.n_out, dtype=x.dtype, device=x.device)
    pc.sim.reset({pc.names.input: x, pc.names.label: rest})
    res = pc.sim.run(cfg.tmax_di_fb - 1, plasticity="accumulate", progress=False)
    s = cfg.fb_scale
    grads = [-s * res.updates[q] for q in pc.names.feedback_params]
    u = pc.sim.state[pc.names.control]
    return grads, {"fb_u_rms": float(u.pow(2).mean().sqrt())}
