"""Where data lives, checksums, atomic writes and the per-directory manifest.

Locations
---------
- ``data_dir`` (argument, CLI ``--data-dir``, or environment ``NEUROSIM_DATA``): a
  directory the user names. Files are looked for in ``data_dir/`` and
  ``data_dir/<name>/``; fetched files are stored in ``data_dir/<name>/``.
- Otherwise the user cache: ``platformdirs.user_cache_dir("neurosim")/data/<name>/``
  (on Linux ``~/.cache/neurosim/data/<name>``); ``NEUROSIM_CACHE`` overrides the
  ``.../data`` root.

Every directory we write keeps a ``manifest.json`` recording, per file, its SHA-256,
how it was verified and where it came from, so a later corruption is detected even
for files that have no published checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

DATA_ENV = "NEUROSIM_DATA"
CACHE_ENV = "NEUROSIM_CACHE"
MANIFEST = "manifest.json"


def cache_root() -> Path:
    """Root of the user cache for data sets (``NEUROSIM_CACHE`` or the platformdirs default)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(user_cache_dir("neurosim")) / "data"


def user_data_dir(data_dir: str | Path | None) -> Path | None:
    """The user-named directory: ``data_dir`` if given, else ``$NEUROSIM_DATA``, else None."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_ENV) or None
    return Path(data_dir).expanduser() if data_dir is not None else None


def store_dir(name: str, data_dir: str | Path | None) -> Path:
    """Directory where verified files of data set ``name`` are kept."""
    root = user_data_dir(data_dir)
    return (root if root is not None else cache_root()) / name


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
