"""Loading the image data sets (MNIST, Fashion-MNIST) into verified raw arrays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.data.fashion import (
    CONVERTED_SHA256,
    FASHION_NPM,
    FASHION_SPLIT_SEED,
    Packer,
    cached_conversion,
    convert_package,
    converted_dir,
)
from neurosim.data.fetcher import VerifiedFile
from neurosim.data.files import read_manifest, store_dir, user_data_dir
from neurosim.data.mnist import (
    FASHION_OFFICIAL,
    MNIST,
    IdxSet,
    default_sources,
    fetch_idx_set,
    files_meta,
    load_idx_arrays,
)
from neurosim.data.sources import Source
from neurosim.data.types import DataError

IMAGE_SETS: dict[str, IdxSet] = {"mnist": MNIST, "fashion-mnist": FASHION_OFFICIAL}


def fetch_images(
    name: str,
    data_dir: str | Path | None = None,
    download: bool = True,
    sources: Sequence[Source] | None = None,
    npm_package: Packer | None = FASHION_NPM,
    modify: bool = True,
) -> tuple[list[Path], dict[str, Any]]:
    """Find (and unless ``modify=False``, fetch into the cache) the four verified IDX
    files of ``name``.

    Returns the paths (train images, train labels, test images, test labels) and
    metadata (``source``, ``location``, ``checksums``, ``verified``, ``split``).
    For Fashion-MNIST, without injected ``sources``, the order is: official files in
    the user dir / cache, an earlier npm conversion (cache, or read in place in the
    user dir), official files from the mirrors, and last a fresh conversion of the npm
    package into the cache (see :mod:`neurosim.data.fashion`). ``modify=False``
    (queries such as ``neurosim data info``) deletes, writes and fetches nothing.
    """
    idx_set = IMAGE_SETS[name]
    if name == "mnist" or sources is not None or npm_package is None:
        return _official(idx_set, data_dir, download, sources, modify)
    # Local copies first (official, then an earlier npm conversion), network last.
    try:
        return _official(idx_set, data_dir, False, None, modify)
    except DataError as local_error:
        failures = [local_error]
    pinned = CONVERTED_SHA256 if npm_package is FASHION_NPM else None
    user = user_data_dir(data_dir)
    if user is not None:  # an earlier neurosim stored conversions there: read in place
        user_copy = converted_dir(user / name, npm_package, FASHION_SPLIT_SEED)
        paths = cached_conversion(user_copy, pinned, modify=False) if pinned else None
        if paths is not None:
            return paths, _conversion_meta(user_copy, paths, npm_package)
    out_dir = converted_dir(store_dir(name), npm_package, FASHION_SPLIT_SEED)
    paths = cached_conversion(out_dir, pinned, modify=modify)
    if paths is None and download and modify:
        try:
            return _official(idx_set, data_dir, True, None, modify)
        except DataError as mirror_error:
            failures.append(mirror_error)
        paths = convert_package(npm_package, out_dir, FASHION_SPLIT_SEED)
        if cached_conversion(out_dir, pinned) is None:
            raise DataError(
                f"{name}: converting {npm_package.spec} did not reproduce the pinned SHA-256s "
                f"(CONVERTED_SHA256 in neurosim/data/fashion.py); the files in {out_dir} were "
                "deleted. Report this: the converter or numpy's generator changed."
            )
    if paths is None:
        raise DataError(
            f"{name}: no verified official files and no converted npm copy in {out_dir}; "
            f"run `neurosim data fetch {name}`.\n{failures[0]}"
        )
    return paths, _conversion_meta(out_dir, paths, npm_package)


def _official(
    idx_set: IdxSet,
    data_dir: str | Path | None,
    download: bool,
    sources: Sequence[Source] | None,
    modify: bool = True,
) -> tuple[list[Path], dict[str, Any]]:
    if sources is None:
        sources = default_sources(idx_set, download)
    files: list[VerifiedFile] = fetch_idx_set(idx_set, data_dir, download, sources, modify)
    meta = files_meta(files, idx_set)
    meta["source"] = _origin_summary(meta)
    meta["split"] = "official 60000 / 10000"
    return [f.path for f in files], meta


def _conversion_meta(out_dir: Path, paths: list[Path], package: Packer) -> dict[str, Any]:
    manifest = read_manifest(out_dir)
    conversion = manifest["conversion"]
    return {
        "location": str(out_dir),
        "checksums": {p.name: manifest[p.name]["sha256"] for p in paths},
        "verified": {p.name: manifest[p.name]["verified"] for p in paths},
        "source": f"npm {conversion['package']} (JSON converted; tarball {package.integrity})",
        "split": (
            f"per class: default_rng({conversion['split_seed']}) permutation, first "
            f"{conversion['test_per_class']} -> test, rest -> train; then shuffled "
            "(not the official split)"
        ),
        "fashion_split_seed": conversion["split_seed"],
        "rejected_records": conversion["rejected_records"],
    }


def _origin_summary(meta: dict[str, Any]) -> str:
    origins = sorted({str(o) for o in meta["origin"].values()})
    return ", ".join(origins)


def load_images(
    name: str,
    data_dir: str | Path | None = None,
    download: bool = True,
    sources: Sequence[Source] | None = None,
    npm_package: Packer | None = FASHION_NPM,
    modify: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Raw uint8 images and int64 labels of ``name`` plus metadata; see :func:`fetch_images`."""
    paths, meta = fetch_images(name, data_dir, download, sources, npm_package, modify)
    arrays = load_idx_arrays(paths, IMAGE_SETS[name])
    meta["class_names"] = list(IMAGE_SETS[name].class_names)
    meta["n_classes"] = len(IMAGE_SETS[name].class_names)
    return arrays, meta
