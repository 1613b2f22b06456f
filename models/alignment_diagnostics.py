"""One set of alignment diagnostics for every learning rule, under shared metric keys.

A model's ``diagnostics(x, y)`` (called once per epoch on a probe batch with
``neurosim train --diagnostics``) reports through these functions, so every rule's
``metrics.jsonl`` and ``diagnostics.png`` use the same names. Layers are numbered
1..L by their forward weights ``W_l`` (n_l x n_{l-1}); a layer-wise backward matrix
``B_l`` (n_{l-1} x n_l) replaces ``W_l^T`` and exists for l = 2..L.

=============================  ===========================================================
key                            meaning (degrees for angles)
=============================  ===========================================================
``angle_bp/layer{l}``          angle between the rule's update of ``(W_l, b_l)`` (flattened,
                               concatenated) and the BP gradient of the batch-mean loss
``angle_B_WT/layer{l}``        angle between ``B_l`` and ``W_l^T`` (flattened); this *is*
                               Kunin et al.'s ``weight_angle`` = angle(W_c, B_c^T) of
                               their code (their kernels are our transposes)
``norm_ratio_B_W/layer{l}``    ``||B_l||_F / ||W_l||_F``
``angle_projection/layer{l}``  Kunin ``projection_angle``: angle between ``x B_l`` and
                               ``x W_l^T`` over the probe batch, ``x`` the layer's input
``angle_local_grad/layer{l}``  Kunin ``gradient_angle``: angle between the backward
                               step the rule takes, ``delta_l B_l^T``, and the one W would
                               take, ``delta_l W_l``, for the rule's own error
                               ``delta_l = dL/dv_l`` (a *local* angle, as their code says,
                               not the angle to the true gradient)
=============================  ===========================================================

Rules without layer-wise backward matrices (DFA, DFC's direct feedback) report
``angle_bp`` only; BP reports ``B_l = W_l^T`` (angles 0, ratio 1) so that a results
table has its row. Every :class:`~neurosim.models.baselines.mlp.FeedforwardModel` whose
``backward_matrices()`` returns its ``B_l`` reports them: FA, the learned-feedback rules
and deep pseudoinverse feedback (``rf``, ``rf-exact``, where ``B_l`` approximates
``W_l^+``, so its angle to ``W_l^T`` is not expected to vanish). Other rules with
backward matrices should report the same keys through :func:`backward_weight_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from neurosim.training.metric_labels import MetricLabel, register_metric_label

#: per-layer ``(dW_l, db_l)`` of a rule (either sign convention, used consistently)
Update = Sequence[tuple[Tensor, Tensor]]


def angle(a: Tensor, b: Tensor) -> float:
    """Angle in degrees between two tensors seen as flat vectors (nan if one is 0),
    computed in float64 (a float32 cosine of 1 - 1e-7 would read as 0.03 degrees)."""
    a, b = a.flatten().double(), b.flatten().double()
    na, nb = torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)
    if na == 0 or nb == 0:
        return math.nan
    c = torch.clamp(torch.dot(a, b) / (na * nb), -1.0, 1.0)
    return math.degrees(math.acos(float(c)))


def layer_angles(a: Update, b: Update) -> list[float]:
    """Per-layer angles (degrees) between two updates over concatenated ``(W_l, b_l)``."""
    return [
        angle(torch.cat([wa.flatten(), ba.flatten()]), torch.cat([wb.flatten(), bb.flatten()]))
        for (wa, ba), (wb, bb) in zip(a, b, strict=True)
    ]


def update_angles(own: Update, bp: Update) -> dict[str, float]:
    """``angle_bp/layer{l}`` for l = 1..L (both updates in the same sign convention)."""
    return {f"angle_bp/layer{l}": a for l, a in enumerate(layer_angles(own, bp), 1)}


def backward_weight_metrics(
    weights: Sequence[Tensor],
    backward: Sequence[Tensor],
    inputs: Sequence[Tensor],
    deltas: Sequence[Tensor],
    first_layer: int = 2,
) -> dict[str, float]:
    """The keys of the backward matrices: ``angle_B_WT``, ``norm_ratio_B_W``,
    ``angle_projection``, ``angle_local_grad`` (see the module docstring).

    Parameters
    ----------
    weights
        ``W_l`` (n_l, n_{l-1}) of the layers that have a backward matrix.
    backward
        The matching ``B_l`` (n_{l-1}, n_l).
    inputs
        The layers' inputs ``x`` (batch, n_{l-1}) on the probe batch.
    deltas
        The rule's own errors at the layers' pre-activations (batch, n_l).
    first_layer
        Layer number of the first entry (2 for an MLP: W_1 has no backward matrix).
    """
    out: dict[str, float] = {}
    rows = zip(weights, backward, inputs, deltas, strict=True)
    for l, (W, B, x, d) in enumerate(rows, first_layer):
        if tuple(B.shape) != tuple(W.T.shape):
            raise ValueError(
                f"alignment diagnostics: backward matrix of layer {l} has shape "
                f"{tuple(B.shape)}, expected W^T's {tuple(W.T.shape)}"
            )
        out[f"angle_B_WT/layer{l}"] = angle(B, W.T)
        out[f"norm_ratio_B_W/layer{l}"] = float(
            torch.linalg.matrix_norm(B) / torch.linalg.matrix_norm(W)
        )
        out[f"angle_projection/layer{l}"] = angle(x @ B, x @ W.T)
        out[f"angle_local_grad/layer{l}"] = angle(d @ B.T, d @ W)
    return out


#: every key prefix of this module (documentation and tests)
KEYS = (
    "angle_bp",
    "angle_B_WT",
    "norm_ratio_B_W",
    "angle_projection",
    "angle_local_grad",
)

_ANGLE = "angle (degrees)"
for _group, _label in {
    "angle_B_WT": MetricLabel("angle between B_l and W_l^T (Kunin weight angle)", _ANGLE),
    "norm_ratio_B_W": MetricLabel("norm of B_l relative to W_l", "||B_l||_F / ||W_l||_F"),
    "angle_projection": MetricLabel(
        "angle between x B_l and x W_l^T (Kunin projection angle)", _ANGLE
    ),
    "angle_local_grad": MetricLabel(
        "angle between delta_l B_l^T and delta_l W_l (Kunin gradient angle)", _ANGLE
    ),
}.items():
    register_metric_label(_group, _label)
