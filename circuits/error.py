"""Error neurons: the difference between a prediction and a teacher signal."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.population import Node

#: compartments of an :class:`ErrorPopulation` (``gate`` is optional)
ERROR_COMPARTMENTS = ("prediction", "target", "gate")


@dataclass(frozen=True)
class ErrorPopulation(Node):
    """A population of error neurons (autapse_rnn_fa.md §2.1, ``e(t) = y_hat(t) - y(t)``):

    .. math::
        v_p = \\sum_j I_j^{prediction}, \\qquad v_y = \\sum_j I_j^{target}, \\qquad
        e = g \\odot (v_p - v_y), \\quad g = \\sum_j I_j^{gate} \\;(1 \\text{ without gate inputs})

    Projections target its compartments: ``"prediction"`` (the readout, e.g. ``V o + c``
    from a recurrent layer), ``"target"`` (the teacher, e.g. an identity projection from
    a time-varying :class:`~neurosim.core.population.Input`) and optionally ``"gate"``
    (a 0/1 mask of the steps or coordinates that count). All compartments are
    instantaneous. IR variables: ``name.v_prediction``, ``name.v_target``,
    ``name.v_gate`` (with gate inputs) and the error ``name.r`` (its output), computed
    by one :class:`~neurosim.ir.ops.ErrorSignal` op.
    """

    @property
    def targets(self) -> tuple[str, ...]:
        return ERROR_COMPARTMENTS

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """Compartments that must receive a projection (checked by ``Network.check``)."""
        return ("prediction", "target")
