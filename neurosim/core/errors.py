"""Validation errors that name the object, the attribute, the bad value and the fix.

One place for every check of user input, shared by the frontend objects, the IR
builder and both simulators (``reset``/``run`` entry, never per step): numbers
(numpy scalars accepted, NaN and inf refused), sizes (numpy integers accepted),
names from a known set (close matches suggested), plus the warning categories a
simulation may emit.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from collections.abc import Iterable
from typing import Any


class ValidationError(ValueError):
    """A frontend object got a bad parameter.

    The message reads ``"<Type> '<name>': <attr>=<value!r> <problem>; <fix>"`` so that
    the user sees which object, which attribute, what was wrong and how to fix it.
    """

    def __init__(self, obj: str, attr: str, value: Any, problem: str, fix: str) -> None:
        self.obj, self.attr, self.value = obj, attr, value
        super().__init__(f"{obj}: {attr}={_short(value)} {problem}; {fix}")


class SimulationDivergedError(FloatingPointError):
    """A simulation's state became NaN or inf; the message names the step, the
    variable and the likely cause (see :mod:`neurosim.ir.stability`)."""


class TimeStepWarning(UserWarning):
    """``dt`` is close to or above a time constant of an explicit Euler update."""


class PrecisionWarning(UserWarning):
    """An input of lower floating precision than the simulator was widened."""


class Summary:
    """A value shown by a description instead of its repr (``<array of shape (4, 14)>``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, shortened (an array of a million numbers is not a message)."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 5] + " ...>"
    return text


def label(obj: Any) -> str:
    """``"Type 'name'"`` for an object with a ``name`` attribute; a string as is."""
    if isinstance(obj, str):
        return obj
    name = getattr(obj, "name", None)
    return f"{type(obj).__name__} '{name}'" if name is not None else type(obj).__name__


def is_integer(value: Any) -> bool:
    """True for Python and numpy integers (not for bools)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """True for Python and numpy integers and floats (not for bools)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _normalize(obj: Any, attr: str, value: Any, kind: type) -> None:
    """Store a numpy scalar attribute as the plain Python number it equals, so that it
    prints, compares and saves to YAML like one (frozen dataclasses included)."""
    if type(value) in (int, float) or not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    if attr in {f.name for f in dataclasses.fields(obj)}:
        object.__setattr__(obj, attr, kind(value))


def check_choice(obj: Any, attr: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValidationError(label(obj), attr, value, "is not allowed", f"use one of {allowed}")


def check_positive(
    obj: Any, attr: str, value: Any, *, allow_none: bool = False, allow_zero: bool = False
) -> None:
    """Raise unless ``value`` is a finite positive (or non-negative) real number (or None)."""
    if value is None and allow_none:
        return
    bound = ">= 0" if allow_zero else "> 0"
    none = " or None" if allow_none else ""
    fix = f"give a finite number {bound}{none}"
    if not is_real(value) or math.isnan(value):
        raise ValidationError(label(obj), attr, value, "is not a number", fix)
    if math.isinf(value):
        raise ValidationError(label(obj), attr, value, "is not finite", fix)
    if not (value >= 0 if allow_zero else value > 0):
        raise ValidationError(label(obj), attr, value, "is out of range", fix)
    _normalize(obj, attr, value, float)


def check_real(obj: Any, attr: str, value: Any) -> None:
    """Raise unless ``value`` is a finite real number."""
    if not is_real(value) or not math.isfinite(value):
        raise ValidationError(label(obj), attr, value, "is not a finite number", "give a float")
    _normalize(obj, attr, value, float)


def check_size(obj: Any, attr: str, value: Any) -> None:
    """Raise unless ``value`` is an integer >= 1 (Python or numpy)."""
    if not is_integer(value) or value < 1:
        raise ValidationError(label(obj), attr, value, "is not a valid size", "give an int >= 1")
    _normalize(obj, attr, value, int)


def check_count(obj: Any, attr: str, value: Any, *, minimum: int = 0) -> int:
    """``value`` as an int, or raise unless it is an integer >= ``minimum`` (a number of
    steps, samples, ...; numpy integers accepted, ``2.5`` and ``True`` refused)."""
    if not is_integer(value) or value < minimum:
        raise ValidationError(
            label(obj), attr, value, "is not a valid count", f"give an int >= {minimum}"
        )
    return int(value)


def check_name(obj: Any, value: Any) -> None:
    """Names are non-empty strings without dots (dots separate ``pop.compartment``)."""
    if not isinstance(value, str) or not value or "." in value or not value.isprintable():
        raise ValidationError(
            type(obj).__name__,
            "name",
            value,
            "is not a valid name",
            "give a non-empty string without '.' (e.g. 'l1')",
        )


def close_matches(value: Any, known: Iterable[str]) -> str:
    """``"did you mean 'l1.v'? "`` when ``value`` resembles a known name, else ``""``."""
    matches = difflib.get_close_matches(str(value), list(known), n=3, cutoff=0.6)
    if not matches:
        return ""
    return "did you mean " + " or ".join(repr(m) for m in matches) + "? "


def check_known(obj: Any, attr: str, value: Any, known: Iterable[str], what: str) -> None:
    """Raise unless ``value`` is one of the ``known`` names (``what``: e.g.
    ``"a variable of model 'dfc'"``); the message suggests close matches and lists them."""
    known = sorted(known)
    if value in known:
        return
    raise ValidationError(
        label(obj),
        attr,
        value,
        f"is not {what}",
        f"{close_matches(value, known)}valid: {known}",
    )


def check_names(obj: Any, attr: str, value: Any, known: Iterable[str], what: str) -> list[str]:
    """A list of names from ``value`` (one name or an iterable of names), each checked
    with :func:`check_known`. A single string is one name, never its characters."""
    if isinstance(value, str):
        names = [value]
    else:
        try:
            names = list(value)
        except TypeError:
            raise ValidationError(
                label(obj), attr, value, "is not a list of names", "give e.g. ['l1.v', 'ctrl.e']"
            ) from None
    known = list(known)
    for name in names:
        if not isinstance(name, str):
            raise ValidationError(
                label(obj), attr, value, f"holds {name!r}, not a name", "give strings"
            )
        check_known(obj, attr, name, known, what)
    return names
