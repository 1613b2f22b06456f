"""Name -> factory registry of trainable models (``neurosim train --model NAME``).

A model family registers a factory with the decorator::

    @register("bp")
    def make_bp(task: Task, params: dict, *, device, dtype, seed) -> TrainableModel: ...

``params`` is the ``params:`` mapping of a run config (``models/configs/{dataset}/
{model}.yaml``); the factory validates it with the model's frozen Config dataclass
(unknown key -> error naming the key and the allowed ones). ``seed`` seeds the
model's own random draws (initial weights, noise) so that it is independent of the
data order. Built-in families are imported on first lookup: ``neurosim.models.baselines``
(bp, fa, dfa), ``neurosim.models.dfc`` (the DFC family; its ``__init__`` imports the modules
that call :func:`register`) and ``neurosim.models.learned_feedback`` (wm, ia, sa, aa, kp,
sign-sym).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

import torch

from neurosim.models.base import Task, TrainableModel

#: modules whose import registers the built-in models
BUILTIN_MODULES: tuple[str, ...] = (
    "neurosim.models.baselines",
    "neurosim.models.dfc",
    "neurosim.models.rf",
    "neurosim.models.rnn",
    "neurosim.models.learned_feedback",
)


class ModelFactory(Protocol):
    """Signature of a registered factory."""

    def __call__(
        self,
        task: Task,
        params: dict[str, Any],
        *,
        device: torch.device | str,
        dtype: torch.dtype,
        seed: int,
    ) -> TrainableModel: ...


_FACTORIES: dict[str, ModelFactory] = {}
_builtins_loaded = False


def register(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator registering ``factory`` under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is already taken by another factory.
    """

    def decorator(factory: ModelFactory) -> ModelFactory:
        previous = _FACTORIES.get(name)
        if (
            previous is not None
            and previous is not factory
            and not _same_function(previous, factory)
        ):
            raise ValueError(
                f"neurosim.models.registry: model name {name!r} is already registered by "
                f"{previous.__module__}.{previous.__qualname__}; choose another name"
            )
        _FACTORIES[name] = factory
        return factory

    return decorator


def _same_function(a: Any, b: Any) -> bool:
    """True for the same function re-registered by a module reload."""
    return (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == (
        getattr(b, "__module__", None),
        getattr(b, "__qualname__", None),
    )


def _load_builtins() -> None:
    """Import the built-in model families once (a missing family is skipped; an
    error inside an existing one propagates)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:  # the family exists but one of its imports fails
                raise


def available() -> list[str]:
    """Sorted names of all registered models."""
    _load_builtins()
    return sorted(_FACTORIES)


def get(name: str) -> ModelFactory:
    """The factory registered under ``name``.

    Raises
    ------
    KeyError
        For an unknown name; the message lists the available models.
    """
    _load_builtins()
    try:
        return _FACTORIES[name]
    except KeyError:
        raise KeyError(
            f"neurosim.models.registry: unknown model {name!r}; available models are {available()}"
        ) from None


def create(
    name: str,
    task: Task,
    params: dict[str, Any] | None = None,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    seed: int = 42,
) -> TrainableModel:
    """Build the model ``name`` for ``task`` from its ``params`` mapping.

    Parameters
    ----------
    name
        Registered model name, e.g. ``"bp"`` or ``"dfc-ssa"``.
    task
        Loss kind and input/output sizes.
    params
        Model hyperparameters (the ``params:`` block of a run config).
    device, dtype
        Where and in which precision the model's tensors live.
    seed
        Seed of the model's own random draws (initial weights, noise).
    """
    model = get(name)(task, dict(params or {}), device=device, dtype=dtype, seed=seed)
    if not isinstance(model, TrainableModel):
        raise TypeError(
            f"neurosim.models.registry: factory of {name!r} returned {type(model).__name__}, "
            "expected a neurosim.models.base.TrainableModel"
        )
    if not model.name:
        model.name = name
    return model
