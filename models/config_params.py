"""Construction shared by the models' frozen Config dataclasses.

A model's ``params`` mapping (YAML) becomes its Config through
:meth:`ParamsConfig.from_params`: unknown keys raise, naming the allowed ones, and
YAML lists of the fields named in ``LIST_FIELDS`` become tuples (the dataclasses are
frozen and hashable). :meth:`ParamsConfig.replace` copies with changes and validates
again (``__post_init__`` runs on the copy).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar

_C = TypeVar("_C", bound="ParamsConfig")


class ParamsConfig:
    """Mixin for a frozen dataclass built from a model's YAML ``params``."""

    LIST_FIELDS: ClassVar[tuple[str, ...]] = ()
    """Fields given as YAML lists and stored as tuples."""

    @classmethod
    def from_params(cls: type[_C], params: dict[str, Any] | None, **overrides: Any) -> _C:
        """Build from a YAML ``params`` mapping; unknown keys raise, naming the allowed
        ones. ``overrides`` (set by a model variant, e.g. ``freeze_fb_weights``) win."""
        params = dict(params or {})
        allowed = sorted(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown parameter(s) {unknown}; allowed keys are {allowed}"
            )
        for key in cls.LIST_FIELDS:
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        params.update(overrides)
        return cls(**params)

    def replace(self: _C, **changes: Any) -> _C:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
