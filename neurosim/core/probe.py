"""Probes: which IR variables a simulation records."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.core.errors import ValidationError


@dataclass(frozen=True)
class Probe:
    """Record IR variable ``target`` (e.g. ``"l1.v"``, ``"ctrl.u"``) every ``every`` steps.

    A bare node name (``"l1"``) records that node's output (``"l1.r"``).
    """

    target: str
    every: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.target, str) or not self.target:
            raise ValidationError(
                "Probe",
                "target",
                self.target,
                "is not a variable name",
                "give e.g. 'l1.v' or 'ctrl.u'",
            )
        if not isinstance(self.every, int) or isinstance(self.every, bool) or self.every < 1:
            raise ValidationError(
                f"Probe '{self.target}'", "every", self.every, "is invalid", "give an int >= 1"
            )
