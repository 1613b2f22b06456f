"""Make the files of a data set present and verified in its store directory.

For each file: a copy already in the store is checked against the published SHA-256
(or, without one, against the SHA-256 recorded in the store's manifest when it was
written). A copy that fails is reported with a :class:`CorruptFileWarning` naming
it, deleted, and fetched again — never used. Otherwise the sources are tried in
order; the first copy that verifies is written atomically into the store and
recorded in the manifest.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from neurosim.data.files import (
    atomic_write,
    read_manifest,
    sha256_bytes,
    sha256_file,
    update_manifest,
)
from neurosim.data.idx import _GZIP_MAGIC, parse_idx, read_bytes
from neurosim.data.sources import Source, SourceError
from neurosim.data.types import CorruptFileWarning, DataError, IntegrityError

VERIFIED_PUBLISHED = "sha256 (published)"
VERIFIED_GZ_MD5 = "md5 of the .gz (published)"
VERIFIED_STRUCTURE = "IDX structure only (no published checksum)"


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a data set and what it must match.

    Attributes
    ----------
    filename : str
        Uncompressed file name, e.g. ``"train-images-idx3-ubyte"``.
    magic : int
        IDX magic number (2051 images, 2049 labels).
    sha256 : str, optional
        Published SHA-256 of the uncompressed bytes.
    size : int, optional
        Uncompressed size in bytes.
    gz_md5 : str, optional
        Published MD5 of the gzip-compressed file (used when no SHA-256 is known).
    """

    filename: str
    magic: int
    sha256: str | None = None
    size: int | None = None
    gz_md5: str | None = None


def verify_candidate(path: Path, spec: FileSpec) -> tuple[bytes, str]:
    """Check a candidate copy of ``spec``; return its uncompressed bytes and how it was verified.

    Raises
    ------
    IntegrityError
        Wrong size, wrong checksum, or not a well-formed IDX file.
    """
    blob = path.read_bytes()
    raw = read_bytes(path)
    if spec.size is not None and len(raw) != spec.size:
        raise IntegrityError(
            f"{path}: {len(raw)} bytes uncompressed, expected {spec.size} "
            f"for {spec.filename}; the file is truncated or not the published one."
        )
    if spec.sha256 is not None:
        actual = sha256_bytes(raw)
        if actual != spec.sha256:
            raise IntegrityError(
                f"{path}: SHA-256 {actual} does not match the published {spec.sha256} "
                f"for {spec.filename}; the file is corrupt or a different version."
            )
        how = VERIFIED_PUBLISHED
    elif spec.gz_md5 is not None and blob[:2] == _GZIP_MAGIC:
        actual = hashlib.md5(blob, usedforsecurity=False).hexdigest()
        if actual != spec.gz_md5:
            raise IntegrityError(
                f"{path}: MD5 {actual} does not match the published {spec.gz_md5} "
                f"for {spec.filename}.gz; the file is corrupt or a different version."
            )
        how = VERIFIED_GZ_MD5
    else:
        how = VERIFIED_STRUCTURE
    try:
        parse_idx(raw, name=str(path), expect_magic=spec.magic)
    except DataError as err:
        raise IntegrityError(str(err)) from err
    return raw, how


def cached_problem(path: Path, spec: FileSpec, manifest: dict) -> str | None:
    """Why the stored copy ``path`` must not be used, or None if it verifies."""
    expected = spec.sha256 or (manifest.get(spec.filename) or {}).get("sha256")
    if expected is None:
        return "no published or recorded checksum"
    if spec.size is not None and path.stat().st_size != spec.size:
        return f"{path.stat().st_size} bytes, expected {spec.size} (truncated?)"
    actual = sha256_file(path)
    if actual != expected:
        return f"SHA-256 {actual} does not match the expected {expected}"
    return None


def ensure_files(
    dataset: str, specs: Sequence[FileSpec], store: Path, sources: Sequence[Source]
) -> list[Path]:
    """Return the paths of ``specs`` in ``store``, fetching and verifying missing ones.

    Raises
    ------
    DataError
        No source produced a verified copy; the message lists every attempt.
    """
    paths: list[Path] = []
    with tempfile.TemporaryDirectory(prefix=f"neurosim-{dataset}-") as tmp:
        for spec in specs:
            paths.append(_ensure_one(dataset, spec, store, sources, Path(tmp)))
    return paths


def _ensure_one(
    dataset: str, spec: FileSpec, store: Path, sources: Sequence[Source], workdir: Path
) -> Path:
    target = store / spec.filename
    if target.is_file():
        problem = cached_problem(target, spec, read_manifest(store))
        if problem is None:
            return target
        if spec.sha256 is None and problem.startswith("no published"):
            sources = [_InPlace(target), *sources]  # a user-placed file: verify it below
        else:
            warnings.warn(
                f"{target}: {problem}; deleted it and fetching {spec.filename} again.",
                CorruptFileWarning,
                stacklevel=3,
            )
            target.unlink()
    attempts: list[str] = []
    for source in sources:
        try:
            candidate = source.locate(dataset, spec.filename, workdir)
            raw, how = verify_candidate(candidate, spec)
        except (SourceError, IntegrityError) as err:
            attempts.append(f"  - {source}: {err}")
            if isinstance(source, _InPlace):
                warnings.warn(f"{err} Deleted it.", CorruptFileWarning, stacklevel=3)
                target.unlink()
            continue
        if candidate != target or target.stat().st_size != len(raw):
            atomic_write(target, raw)
        update_manifest(
            store,
            {spec.filename: {"sha256": sha256_bytes(raw), "verified": how, "source": str(source)}},
        )
        return target
    raise DataError(
        f"{dataset}: could not obtain a verified {spec.filename}. Tried:\n"
        + "\n".join(attempts or ["  (no sources)"])
        + f"\nFix: put {spec.filename} (or {spec.filename}.gz) into {store.parent} or "
        f"{store}, or pass data_dir= / --data-dir / NEUROSIM_DATA pointing to it."
    )


class _InPlace:
    """The store's own unrecorded copy, offered as the first candidate."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"InPlace({str(self.path)!r})"

    def __str__(self) -> str:
        return f"already present at {self.path}"

    def locate(self, dataset: str, filename: str, workdir: Path) -> Path:
        return self.path
