"""Helpers for the data tests: small IDX sets with matching specs, tarballs."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np

from neurosim.data.fetcher import FileSpec
from neurosim.data.files import sha256_bytes
from neurosim.data.idx import IMAGES_MAGIC, LABELS_MAGIC, encode_idx
from neurosim.data.mnist import ROLES, IdxSet

FILENAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def small_arrays(n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_set(directory: Path, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for role, array in arrays.items():
        data = encode_idx(array)
        name = FILENAMES[role] + (".gz" if compress else "")
        (directory / name).write_bytes(gzip.compress(data) if compress else data)


def idx_set_for(arrays: dict[str, np.ndarray], name: str = "mnist") -> IdxSet:
    """An IdxSet whose published SHA-256s are those of ``arrays``."""
    files = {}
    for role in ROLES:
        data = encode_idx(arrays[role])
        magic = IMAGES_MAGIC if "images" in role else LABELS_MAGIC
        files[role] = FileSpec(FILENAMES[role], magic, sha256=sha256_bytes(data), size=len(data))
    sizes = (len(arrays["train_labels"]), len(arrays["test_labels"]))
    return IdxSet(name=name, files=files, class_names=tuple("0123456789"), sizes=sizes)


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
