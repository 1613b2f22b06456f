"""examples/train_mnist.py runs end to end on a small subset of cached MNIST."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.example
def test_train_mnist_example(tmp_path, mnist_cached):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_mnist.py"), "--subset", "1024",
         "--epochs", "1", "--dtype", "float32", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test accuracy" in done.stdout
    assert "epoch 1/1 (train): train loss" in done.stdout  # progress, stdout not a terminal
    assert (tmp_path / "run" / "learning_curves.png").is_file()


@pytest.mark.example
def test_train_mnist_example_refuses_an_existing_run(tmp_path):
    """The example used to delete its --out directory; it must refuse as neurosim train."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"a run of mine")
    (out / "notes.txt").write_text("keep me")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_mnist.py"), "--subset", "256",
         "--epochs", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "already holds a training run" in done.stderr
    assert (out / "checkpoint.pt").read_bytes() == b"a run of mine"
    assert (out / "notes.txt").read_text() == "keep me"
