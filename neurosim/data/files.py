"""Where data lives, checksums, atomic writes and the per-directory manifest.

Locations
---------
- ``data_dir`` (argument, CLI ``--data-dir``, or environment ``NEUROSIM_DATA``): a
  directory the user names. It is **read-only to neurosim**: files are looked for in
  ``data_dir/`` and ``data_dir/<name>/`` and used in place; nothing there is ever
  written, rewritten or deleted, so it may be read-only. It must be an existing
  directory.
- The user cache, neurosim's own: ``platformdirs.user_cache_dir("neurosim")/data/<name>/``
  (on Linux ``~/.cache/neurosim/data/<name>``); ``NEUROSIM_CACHE`` overrides the
  ``.../data`` root. Fetched files are stored here, whether or not a ``data_dir`` is
  named.

The cache keeps a ``manifest.json`` per data set recording, per file, its SHA-256,
how it was verified and where it came from, so a later corruption is detected even
for files whose published checksum is that of the ``.gz``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from neurosim.data.types import DataError

DATA_ENV = "NEUROSIM_DATA"
CACHE_ENV = "NEUROSIM_CACHE"
MANIFEST = "manifest.json"


def cache_root() -> Path:
    """Root of the user cache for data sets (``NEUROSIM_CACHE`` or the platformdirs default)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(user_cache_dir("neurosim")) / "data"


def user_data_dir(data_dir: str | Path | None) -> Path | None:
    """The user-named directory: ``data_dir`` if given, else ``$NEUROSIM_DATA``, else None.

    Raises
    ------
    DataError
        If the directory does not exist or is not a directory.
    """
    origin = "data_dir"
    if data_dir is None:
        data_dir, origin = os.environ.get(DATA_ENV) or None, f"${DATA_ENV}"
    if data_dir is None:
        return None
    path = Path(data_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise DataError(
            f"{origin} / --data-dir {path} is a file, not a directory; name the directory "
            "that holds the IDX files (or leave it out to use neurosim's cache)"
        )
    if not path.exists():
        raise DataError(
            f"{origin} / --data-dir {path} does not exist; name an existing directory that "
            "holds the IDX files (neurosim only reads it), or leave it out to use neurosim's "
            f"cache {cache_root()}"
        )
    return path


def store_dir(name: str) -> Path:
    """neurosim's cache directory for data set ``name`` (the only place it writes data)."""
    return cache_root() / name


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of the file at ``path`` (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same directory and rename.

    A reader never sees a half-written file: either the old file or the complete new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of ``directory`` (empty if absent or unreadable)."""
    try:
        content = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def update_manifest(directory: Path, entries: dict[str, Any]) -> None:
    """Merge ``entries`` into the manifest of ``directory`` (atomic rewrite)."""
    manifest = read_manifest(directory)
    manifest.update(entries)
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
