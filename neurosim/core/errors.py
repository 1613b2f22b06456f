"""Validation errors that name the object, the attribute, the bad value and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ValidationError(ValueError):
    """A frontend object got a bad parameter.

    The message reads ``"<Type> '<name>': <attr>=<value!r> <problem>; <fix>"`` so that
    the user sees which object, which attribute, what was wrong and how to fix it.
    """

    def __init__(self, obj: str, attr: str, value: Any, problem: str, fix: str) -> None:
        self.obj, self.attr, self.value = obj, attr, value
        super().__init__(f"{obj}: {attr}={value!r} {problem}; {fix}")


def label(obj: Any) -> str:
    """``"Type 'name'"`` for an object with a ``name`` attribute."""
    name = getattr(obj, "name", None)
    return f"{type(obj).__name__} '{name}'" if name is not None else type(obj).__name__


def check_choice(obj: Any, attr: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValidationError(label(obj), attr, value, "is not allowed", f"use one of {allowed}")


def check_positive(
    obj: Any, attr: str, value: Any, *, allow_none: bool = False, allow_zero: bool = False
) -> None:
    """Raise unless ``value`` is a positive (or non-negative) real number (or None)."""
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        none = " or None" if allow_none else ""
        raise ValidationError(label(obj), attr, value, "is invalid", f"give a number {bound}{none}")


def check_real(obj: Any, attr: str, value: Any) -> None:
    """Raise unless ``value`` is a real number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValidationError(label(obj), attr, value, "is not a number", "give a float")


def check_size(obj: Any, attr: str, value: Any) -> None:
    """Raise unless ``value`` is a positive int."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(label(obj), attr, value, "is not a valid size", "give an int >= 1")


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
