"""``@register(SomeOpType)`` decorators that fill a table keyed by type (one per stage)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def type_registry(table: dict[type, F]) -> Callable[[type], Callable[[F], F]]:
    """A decorator factory: ``@register(T)`` stores the decorated function as
    ``table[T]`` and returns it unchanged (register, don't branch on type)."""

    def register(op_type: type) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            table[op_type] = fn
            return fn

        return deco

    return register
