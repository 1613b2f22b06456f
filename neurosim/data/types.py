"""Containers returned by :func:`neurosim.data.load_dataset`, and the data errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class DataError(RuntimeError):
    """A data set could not be obtained or read; the message names the file and the fix."""


class IntegrityError(DataError):
    """A file's bytes do not match the published or recorded checksum."""


class CorruptFileWarning(UserWarning):
    """A file in neurosim's cache failed verification and was deleted so it can be
    fetched again (only cache files neurosim wrote are ever deleted)."""


class RejectedFileWarning(UserWarning):
    """A file in a directory the user named failed verification: it was not used, and
    left unchanged."""


@dataclass
class Split:
    """One split of a data set.

    Attributes
    ----------
    X : np.ndarray
        Inputs, shape ``(N, d)``, float32.
    y : np.ndarray
        Labels ``(N,)`` int64 for classification, or targets ``(N, k)`` float32 for
        regression and sequence prediction.
    """

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2:
            raise ValueError(
                f"Split.X must have shape (N, d), got {self.X.shape}; flatten the inputs first."
            )
        if len(self.y) != len(self.X):
            raise ValueError(
                f"Split: X has {len(self.X)} rows but y has {len(self.y)}; "
                "inputs and labels must be paired row by row."
            )

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class Dataset:
    """A data set with train / validation / test splits.

    ``meta`` holds at least ``source`` (where the arrays came from), ``checksums``
    (file name -> SHA-256), ``split_seed``, ``class_names`` and ``n_classes``
    (``None`` for regression sets).
    """

    name: str
    train: Split
    val: Split | None
    test: Split
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int | None:
        """Number of classes, or ``None`` for regression / sequence data."""
        return self.meta.get("n_classes")

    @property
    def input_size(self) -> int:
        """Width ``d`` of one input row."""
        return int(self.train.X.shape[1])

    def __repr__(self) -> str:
        val = len(self.val) if self.val is not None else 0
        return (
            f"Dataset({self.name!r}, train={len(self.train)}, val={val}, "
            f"test={len(self.test)}, d={self.input_size}, n_classes={self.n_classes})"
        )
