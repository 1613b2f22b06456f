"""Hand-written reference of DFC.md §1.2–1.5 (tests only).

A literal transcription of the reference implementation's Euler loop
(``controller``, layerwise mode, instantaneous transmission), used to check that the
backend-based DFC models follow the equations. Not used by the library.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from neurosim.models.activations import phi
from neurosim.models.dfc.network import feedforward


@dataclass
class Traces:
    """Time series (T, B, n) of every variable, k = 0 .. T-1."""

    v: list[Tensor]
    v_basal: list[Tensor]
    v_apical: list[Tensor]
    r: list[Tensor]
    u: Tensor
    e: Tensor


def controller_loop(
    x: Tensor,
    W: list[Tensor],
    b: list[Tensor],
    Q: list[Tensor],
    acts: list[str],
    r_star: Tensor,
    *,
    alpha: float,
    k_p: float,
    dt: float,
    T: int,
    tau_v: float,
    tau_A: float,
    proactive: bool,
    sigma: list[float] | None = None,
    noise: list[Tensor] | None = None,
) -> Traces:
    """DFC.md §1.2 verbatim. ``noise[i]`` (T-1, B, n_i) are the standard normals
    xi of layer i (used with ``sigma[i]``; None: no noise)."""
    L = len(W)
    vs_ff, rs_ff = feedforward(x, W, b, acts)
    v = [vv.clone() for vv in vs_ff]
    vB = [vv.clone() for vv in vs_ff]
    vA = [torch.zeros_like(vv) for vv in vs_ff]
    r = [rr.clone() for rr in rs_ff]
    u = torch.zeros_like(r_star)
    u_int = torch.zeros_like(r_star)
    tr = Traces(
        [[vi.clone()] for vi in v],
        [[vi.clone()] for vi in vB],
        [[vi.clone()] for vi in vA],
        [[ri.clone()] for ri in r],
        [u.clone()],
        [],
    )
    for k in range(T - 1):
        e = r_star - r[-1]
        tr.e.append(e)
        u_old = u
        if k_p > 0:
            u_int = u_int + dt * (e - alpha * u)
            u = u_int + k_p * e
        else:
            u = u + dt * (e - alpha * u)
        u_fb = u if proactive else u_old
        r_prev = x
        for i in range(L):
            vB[i] = r_prev @ W[i].t() + b[i]
            vA[i] = vA[i] + dt / tau_A * (-vA[i] + u_fb @ Q[i].t())
            if noise is not None:
                vA[i] = vA[i] + sigma[i] * dt**0.5 / tau_A * noise[i][k]
            v[i] = v[i] + dt / tau_v * (-v[i] + vA[i] + vB[i])
            r[i] = phi(v[i], acts[i])
            r_prev = r[i]
        for i in range(L):
            tr.v[i].append(v[i].clone())
            tr.v_basal[i].append(vB[i].clone())
            tr.v_apical[i].append(vA[i].clone())
            tr.r[i].append(r[i].clone())
        tr.u.append(u.clone())
    tr.e.append(r_star - r[-1])
    stack = lambda seq: torch.stack(seq, 0)  # noqa: E731
    return Traces(
        [stack(s) for s in tr.v],
        [stack(s) for s in tr.v_basal],
        [stack(s) for s in tr.v_apical],
        [stack(s) for s in tr.r],
        stack(tr.u),
        stack(tr.e),
    )


def converged_mask(
    tr: Traces, r_star: Tensor, r_ff_L: Tensor, alpha: float, epsilon: float = 0.5
) -> Tensor:
    """DFC.md §1.3: both criteria on the last time step."""
    diff = torch.linalg.vector_norm(tr.r[-1][-1] - (r_star - alpha * tr.u[-1]), dim=1)
    norm = torch.linalg.vector_norm(r_ff_L, dim=1)
    err = torch.linalg.vector_norm(tr.e, dim=2)
    return (diff / norm < 1e-5) & (err[-1] < epsilon**2 * err[0])


def time_integrated_gradients(
    x: Tensor, tr: Traces, acts: list[str], keep: Tensor | None = None
) -> list[tuple[Tensor, Tensor]]:
    """DFC.md §1.4, ``compute_forward_gradients_deltav_continuous``."""
    T, B = tr.u.shape[0], x.shape[0]
    out = []
    for i, fn in enumerate(acts):
        delta = phi(tr.v[i], fn) - phi(tr.v_basal[i], fn)
        if keep is not None:
            delta = delta * keep.to(delta.dtype)[None, :, None]
        pre = x.expand(T, *x.shape) if i == 0 else tr.r[i - 1]
        gW = -(2.0 / (B * T)) * torch.einsum("tbi,tbj->ij", delta, pre)
        gb = -(2.0 / T) * delta.mean(1).sum(0)
        out.append((gW, gb))
    return out


def last_step_gradients(
    x: Tensor, tr: Traces, acts: list[str], keep: Tensor | None = None
) -> list[tuple[Tensor, Tensor]]:
    """DFC.md §1.4 steady-state rule with Delta v = v[T-1] - v_basal[T-1] (DFC-SS)."""
    B = x.shape[0]
    out = []
    for i, fn in enumerate(acts):
        delta = phi(tr.v[i][-1], fn) - phi(tr.v_basal[i][-1], fn)
        if keep is not None:
            delta = delta * keep.to(delta.dtype)[:, None]
        pre = x if i == 0 else tr.r[i - 1][-1]
        out.append((-(2.0 / B) * delta.t() @ pre, -2.0 * delta.mean(0)))
    return out


def feedback_gradients(tr: Traces, scale: float) -> list[Tensor]:
    """DFC.md §1.5 step 3 (beta = 0): grad Q_i = s/((T-1)B) sum_k v_apical[k] u[k+1]^T."""
    T, B = tr.u.shape[0], tr.u.shape[1]
    return [
        scale / ((T - 1) * B) * torch.einsum("tbi,tbj->ij", vA[:-1], tr.u[1:]) for vA in tr.v_apical
    ]
