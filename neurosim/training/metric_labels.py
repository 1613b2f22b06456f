"""What each metric of a run is, for plot axes and legends: quantity, unit, panel.

A metric key is ``group`` or ``group/member`` (``angle_bp/layer2``). The group's
:class:`MetricLabel` gives the panel it is drawn in, the y-axis label (quantity and
unit) and, for a key without a member, its legend entry; members are legend entries
of their own (``layer2`` -> "layer 2"). Models that report new metrics register
their labels with :func:`register_metric_label`; an unregistered group is drawn
under its own name, said to be unlabelled.

"Model time unit": the DFC configs give time constants and steps (``tau_v``,
``dt_di``) as plain numbers; rates such as eigenvalues of the closed loop are per
that unit. :data:`MODEL_TIME_NOTE` says so once per figure that uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODEL_TIME_NOTE = (
    "model time unit: the unit of the config's time constants and steps (tau_v, dt), dimensionless"
)


@dataclass(frozen=True)
class MetricLabel:
    """How a metric group is drawn.

    Attributes
    ----------
    panel
        Panel title; groups with the same panel share one axis.
    ylabel
        Quantity and unit of the y axis.
    name
        Legend entry of the group's key itself (no ``/member``).
    log
        Prefer a log y axis (used when the values span at least a factor of 10).
    model_time
        The unit involves the model time unit (:data:`MODEL_TIME_NOTE`).
    """

    panel: str
    ylabel: str
    name: str = ""
    log: bool = False
    model_time: bool = False


_LABELS: dict[str, MetricLabel] = {}


def register_metric_label(group: str, label: MetricLabel) -> None:
    """Declare how the metric group ``group`` (the key part before ``/``) is drawn."""
    _LABELS[group] = label


def metric_label(key: str) -> MetricLabel:
    """The :class:`MetricLabel` of ``key`` (its group's, else a generic one)."""
    group = key.split("/")[0]
    if group in _LABELS:
        return _LABELS[group]
    if group.startswith("angle_"):
        return MetricLabel(f"angle to the {group[6:]} update", "angle (degrees)")
    return MetricLabel(group, f"{group} (unit not declared by the model)", name=group)


def legend_entry(key: str) -> str:
    """Legend text of ``key``: its member (``layer2`` -> "layer 2"), else the group's name."""
    group, _, member = key.partition("/")
    if member:
        return re.sub(r"^([a-z_]+?)_?(\d+)$", r"\1 \2", member)
    return metric_label(key).name or group


_ANGLE = "angle (degrees)"
for _group, _label in {
    "angle_bp": MetricLabel("angle to the BP gradient update", _ANGLE),
    "angle_gn": MetricLabel("angle to the Gauss-Newton update (DFC Thm. 2)", _ANGLE),
    "angle_min_norm": MetricLabel("angle to the damped min-norm update (Thm. 3)", _ANGLE),
    "angle_ssa": MetricLabel("angle to the DFC-SSA update", _ANGLE),
    "condition_1": MetricLabel(
        "Condition 1 (DFC App. F eq. 214-215)",
        "relative s.d. of layer norms (0: holds)",
        name="condition 1",
    ),
    "condition_2": MetricLabel(
        "Condition 2 (DFC App. F eq. 212-213)",
        "||P_J Q||_F / ||Q||_F (1: holds)",
        name="condition 2",
    ),
    "max_eig_real": MetricLabel(
        "closed-loop stability (< 0: stable)",
        "max Re(eigenvalue) (1 / model time unit)",
        name="largest real part",
        model_time=True,
    ),
    "train_converged": MetricLabel(
        "forward-phase simulations", "fraction of the batch", name="converged"
    ),
    "train_diverged": MetricLabel(
        "forward-phase simulations", "fraction of the batch", name="diverged"
    ),
    "fb_u_rms": MetricLabel(
        "sleep phase (feedback learning)",
        "RMS of the control signal u (rate units)",
        name="RMS control u",
        log=True,
    ),
}.items():
    register_metric_label(_group, _label)


__all__ = [
    "MODEL_TIME_NOTE",
    "MetricLabel",
    "legend_entry",
    "metric_label",
    "register_metric_label",
]
