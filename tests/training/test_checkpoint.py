"""Checkpoints: atomic writes, weights_only loading, clear errors on bad files."""

from __future__ import annotations

import datetime
import os

import pytest
import torch

from neurosim.training import checkpoint as ckpt
from neurosim.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"model": {"w": torch.arange(3.0)}, "epoch": 2, "m": [{"a": 1.5}]}, path)
    state = load_checkpoint(path)
    assert state["format"] == ckpt.FORMAT and state["epoch"] == 2
    assert torch.equal(state["model"]["w"], torch.arange(3.0))


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint({"epoch": 1}, path)

    def crashing_save(obj, fh):
        fh.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["c.pt"]  # no temporary file left behind


def test_truncated_file(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"model": {"w": torch.randn(100)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_foreign_files(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="not a neurosim training checkpoint"):
        load_checkpoint(other)
    evil = tmp_path / "evil.pt"
    # arbitrary objects are refused by weights_only loading
    torch.save(
        {"format": ckpt.FORMAT, "version": ckpt.VERSION, "x": datetime.date(2020, 1, 1)}, evil
    )
    with pytest.raises(CheckpointError, match="not a neurosim checkpoint.*datetime.date.*unsafe"):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_version_mismatch(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    monkeypatch.setattr(ckpt, "VERSION", 99)
    save_checkpoint({}, path)
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_rng_state_round_trip():
    import random

    import numpy as np

    model = torch.nn.Module()
    model.gen = torch.Generator().manual_seed(5)
    data = torch.Generator().manual_seed(6)
    state = ckpt.rng_state(data, model)
    first = (torch.rand(2), np.random.rand(), random.random(),
             torch.rand(2, generator=data), torch.rand(2, generator=model.gen))  # fmt: skip
    ckpt.set_rng_state(state, data, model)
    again = (torch.rand(2), np.random.rand(), random.random(),
             torch.rand(2, generator=data), torch.rand(2, generator=model.gen))  # fmt: skip
    for a, b in zip(first, again, strict=True):
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))
