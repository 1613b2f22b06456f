"""Per-object random streams: ``default_rng([network seed, stable hash of the name])``.

Python's ``hash()`` of a string changes between interpreter runs (hash randomisation),
so names are hashed with SHA-256 instead: the same network seed and object name give
the same numbers in every process and on every machine.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_hash(name: str) -> int:
    """A 63-bit integer from the SHA-256 digest of ``name`` (process independent)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little") >> 1


def object_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of object ``name`` in a network seeded with ``seed``."""
    return np.random.default_rng([int(seed), stable_hash(name)])


def object_seed(seed: int, name: str) -> int:
    """An integer seed (< 2**31) for object ``name``, e.g. an op's noise stream."""
    return int(np.random.SeedSequence([int(seed), stable_hash(name)]).generate_state(1)[0] >> 1)
