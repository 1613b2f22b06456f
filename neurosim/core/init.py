"""Weight initialisers: descriptions of how a weight matrix is drawn at build time.

Each initialiser is a frozen dataclass with ``sample(shape, rng) -> np.ndarray``; the
IR builder calls it with a generator seeded per projection (see
:func:`neurosim.core.seeds.object_rng`), so a network built twice from the same seed
has identical weights on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.core.errors import ValidationError, check_positive, check_real


@dataclass(frozen=True)
class WeightInit:
    """Base class; subclasses implement :meth:`sample`."""

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """An array of ``shape`` (``(n_post, n_pre)`` for weights, ``(n_post,)`` for biases)."""
        raise NotImplementedError

    def check_shape(self, shape: tuple[int, ...], owner: str) -> None:
        """Raise if this initialiser cannot produce ``shape`` (``owner`` names the user)."""


@dataclass(frozen=True)
class XavierNormal(WeightInit):
    """Glorot normal, as ``torch.nn.init.xavier_normal_``:
    ``W ~ N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))`` (DFC.md §1.6).

    For a 1-d shape (a bias) ``fan_in = fan_out = n``.
    """

    gain: float = 1.0

    def __post_init__(self) -> None:
        check_positive(self, "gain", self.gain)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_out, fan_in = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])
        std = self.gain * np.sqrt(2.0 / (fan_in + fan_out))
        return rng.normal(0.0, std, size=shape)


@dataclass(frozen=True)
class Normal(WeightInit):
    """``W ~ N(mean, std^2)`` elementwise."""

    std: float = 1.0
    mean: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self, "std", self.std, allow_zero=True)
        check_real(self, "mean", self.mean)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.std, size=shape)


@dataclass(frozen=True)
class Zeros(WeightInit):
    """All zeros (biases, DFC.md §1.6)."""

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)


@dataclass(frozen=True)
class Constant(WeightInit):
    """Every entry equal to ``value``."""

    value: float = 0.0

    def __post_init__(self) -> None:
        check_real(self, "value", self.value)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, float(self.value))


@dataclass(frozen=True)
class Identity(WeightInit):
    """``scale * I`` (rectangular shapes get ``scale * eye(n_post, n_pre)``).

    The DFC output feedback ``Q_L = I`` (DFC.md §1.6).
    """

    scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(self, "scale", self.scale)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) == 1:
            return np.full(shape, float(self.scale))
        return float(self.scale) * np.eye(shape[0], shape[1])


@dataclass(frozen=True)
class Given(WeightInit):
    """A fixed array supplied by the user (stored as nested tuples: hashable, YAML-able)."""

    array: tuple = field(default=())

    def __post_init__(self) -> None:
        arr = np.asarray(self.array, dtype=float)
        if arr.ndim not in (1, 2) or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValidationError(
                "Given",
                "array",
                f"<array of shape {arr.shape}>",
                "is invalid",
                "give a finite, non-empty 1-d or 2-d array",
            )
        object.__setattr__(self, "array", _to_tuple(arr))

    @property
    def value(self) -> np.ndarray:
        """The array as float64 numpy."""
        return np.asarray(self.array, dtype=float)

    def check_shape(self, shape: tuple[int, ...], owner: str) -> None:
        if tuple(self.value.shape) != tuple(shape):
            raise ValidationError(
                owner,
                "weight",
                f"Given(shape={self.value.shape})",
                "has the wrong shape",
                f"give an array of shape {tuple(shape)} (n_post, n_pre)",
            )

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        self.check_shape(shape, "Given")
        return self.value.copy()


def _to_tuple(arr: np.ndarray) -> tuple:
    if arr.ndim == 1:
        return tuple(float(a) for a in arr)
    return tuple(tuple(float(a) for a in row) for row in arr)


INITS: dict[str, type[WeightInit]] = {
    cls.__name__: cls for cls in (XavierNormal, Normal, Zeros, Constant, Identity, Given)
}
