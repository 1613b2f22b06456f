"""Shared pytest fixtures. Markers (slow, network, brian2_compile, example) live in pyproject."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty neurosim data cache for this test (``NEUROSIM_CACHE``); ``NEUROSIM_DATA`` unset."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NEUROSIM_CACHE", str(cache))
    monkeypatch.delenv("NEUROSIM_DATA", raising=False)
    return cache


@pytest.fixture
def one_thread():
    """Tiny matrices: one intra-op thread avoids oversubscribing a shared 2-core machine
    (torch's setting is restored afterwards)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def mnist_cached() -> None:
    """Skip the test unless MNIST is in the local data cache (no download in tests)."""
    from neurosim.data import load_dataset

    try:
        load_dataset("mnist", download=False)
    except Exception:  # noqa: BLE001
        pytest.skip("MNIST is not cached locally (run `neurosim data fetch mnist`)")
