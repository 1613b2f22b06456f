"""Fixtures for the data tests: a fake ``npm`` on PATH."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from data_helpers import make_tarball


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a fake ``npm`` on PATH that 'packs' a prepared tarball; returns a setter."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    store = tmp_path / "fake-registry"
    store.mkdir()
    script = bindir / "npm"
    script.write_text(
        "#!/bin/sh\n"
        f'cp "{store}/pkg.tgz" ./pkg-1.0.0.tgz || exit 1\n'
        f'echo "{store}" >> "{store}/calls"\n'
        "echo '" + json.dumps([{"filename": "pkg-1.0.0.tgz"}]) + "'\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    def publish(members: dict[str, bytes]) -> Path:
        return make_tarball(store / "pkg.tgz", members)

    publish.calls = lambda: (
        len((store / "calls").read_text().splitlines()) if (store / "calls").exists() else 0
    )
    return publish
