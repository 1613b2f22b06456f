"""Normalisation and the deterministic validation split (DFC protocol).

DFC (Meulemans et al. 2021, App. F; reference ``datasets.md``/``DFC.md``) trains on
55 000 MNIST images and keeps 5 000 of the training set for validation. The
reference uses ``torch.utils.data.random_split``; here the split is a numpy
permutation from ``numpy.random.default_rng(seed)`` (default seed 42, the seed of
the DFC configs), so it is reproducible without torch (it is not index-identical to
the torch split).
"""

from __future__ import annotations

import numpy as np

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DEFAULT_SPLIT_SEED = 42


def normalize_images(images: np.ndarray, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """Flatten uint8 images to float32 rows ``(x / 255 - mean) / std``.

    MNIST uses ``mean=0.1307, std=0.3081``; Fashion-MNIST only ``x / 255``
    (``mean=0, std=1``), as in the DFC reference.
    """
    flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    if mean != 0.0 or std != 1.0:
        flat = (flat - np.float32(mean)) / np.float32(std)
    return flat


def validation_split(
    n: int, val_size: int, seed: int = DEFAULT_SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train_idx, val_idx)`` of a seeded split of ``range(n)``.

    ``val_idx`` is the first ``val_size`` entries of ``default_rng(seed).permutation(n)``,
    ``train_idx`` the rest, each sorted so the training order of the file is kept.
    """
    if not 0 <= val_size < n:
        raise ValueError(
            f"validation_split: val_size={val_size} must be in [0, {n}) for {n} samples; "
            "use val_size=0 to disable the validation split."
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[val_size:]), np.sort(order[:val_size])
