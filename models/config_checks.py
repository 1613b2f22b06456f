"""Type and range checks shared by the models' frozen Config dataclasses.

Every field is checked against its annotation before anything uses it, so a config
value of the wrong kind (``lr: "fast"``, ``size_hidden: 10``, ``tmax_di: 2.5``) is a
``ValueError`` that names the key, the value, what is expected and the fix, not a
``TypeError`` from deep inside the model. Supported annotations: ``float`` (any
finite real number; integers are accepted), ``int`` (whole numbers only), ``bool``,
``str``, ``tuple[X, ...]`` (a YAML list), unions of these, and ``X | None``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from typing import Any

_NONE = type(None)


def check_field_types(cfg: Any) -> None:
    """Raise ``ValueError`` for the first field of dataclass ``cfg`` whose value does
    not match its annotation (message: key, value, expected, fix)."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value, hint = getattr(cfg, f.name), hints[f.name]
        if not _matches(value, hint):
            example = f.default if f.default is not dataclasses.MISSING else None
            raise ValueError(
                f"{type(cfg).__name__}: params.{f.name}={value!r} ({type(value).__name__}) "
                f"is not {describe(hint)}; fix the value in the config's params"
                + (f", e.g. {f.name}: {_yaml(example)}" if example is not None else "")
            )


def check_range(cfg: Any, name: str, low: float, *, inclusive: bool = False, why: str = "") -> None:
    """Raise ``ValueError`` unless ``cfg.<name>`` is ``> low`` (``>= low`` if inclusive)."""
    value = getattr(cfg, name)
    ok = value >= low if inclusive else value > low
    if not ok:
        bound = f">= {low:g}" if inclusive else f"> {low:g}"
        raise ValueError(
            f"{type(cfg).__name__}: params.{name}={value!r}; expected a number {bound}"
            + (f" ({why})" if why else "")
        )


def describe(hint: Any) -> str:
    """What an annotation asks for, in words ("a whole number", "a list of ...")."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        named = [describe(a) for a in args if a is not _NONE]
        text = " or ".join(named)
        return text + (" or null" if _NONE in args else "")
    if origin is tuple:
        return f"a list of {_plural(describe(args[0]))}"
    return {
        float: "a finite number",
        int: "a whole number",
        bool: "true or false",
        str: "a string",
    }.get(hint, getattr(hint, "__name__", str(hint)))


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is _NONE:
        return value is None
    if origin is tuple:
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and math.isfinite(float(value))
        )
    return isinstance(value, hint)


def _plural(text: str) -> str:
    return {
        "a finite number": "finite numbers",
        "a whole number": "whole numbers",
        "a string": "strings",
    }.get(text, text)


def _yaml(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value}"
