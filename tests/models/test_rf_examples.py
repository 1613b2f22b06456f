"""The recirculation examples run end to end at small sizes (E1-E1c, E2; E3 on cached MNIST)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.example
def test_pair_example_writes_figure_and_numbers(tmp_path):
    done = _run("recirculation_pair.py", "--steps", "600", "--encoder-inits", "2",
                "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "recirculation_pair.png").stat().st_size > 10_000
    rows = json.loads((tmp_path / "recirculation_pair.json").read_text())
    assert rows["E1 annealed"]["r1"] < 1e-6  # conditions 1-3 hold well before 600 steps
    assert rows["E1c B0 = 0"]["pinv_dist"] < 1e-8
    assert rows["E1c random B0"]["frozen"] < 1e-10  # B P_perp never moves
    rates = rows["E1d rate ratio"]
    assert rates["eta_A/eta_B = 0"]["diverged_at"] is None
    assert rates["eta_A/eta_B = 0"]["r1"] < 1e-4  # 1 at the start (B_0 = 0)
    assert rates["eta_A/eta_B = 10"]["diverged_at"] is not None  # A outgrows the B-LMS
    assert "E1b data" in done.stdout
    assert rows["original Recirculation, 4-2-4 encoder"]["learned"] == 2


@pytest.mark.example
def test_pinv_chain_example(tmp_path):
    done = _run("pinv_chain.py", "--steps", "200", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    table = json.loads((tmp_path / "pinv_chain.json").read_text())
    exact = table["contracting, exact pinv"]["0"]
    assert max(exact["r1"], exact["r2"], exact["r3"]) < 1e-12 and exact["r4"] > 0.1
    assert table["expanding, exact pinv"]["0"]["r1"] > 1e-2
    assert (tmp_path / "pinv_chain.png").is_file()


@pytest.mark.slow
@pytest.mark.example
def test_deep_example_smoke(tmp_path):
    from neurosim.data import load_dataset

    try:
        load_dataset("mnist", download=False)
    except Exception:  # noqa: BLE001
        pytest.skip("MNIST is not cached locally (run `neurosim data fetch mnist`)")
    done = _run("recirculation_deep.py", "--epochs", "1", "--seeds", "0", "--subset", "256",
                "--rules", "bp", "rf", "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "neurosim train --config models/configs/mnist/rf.yaml" in done.stdout.replace(
        str(ROOT) + "/", "")  # fmt: skip
    meta = json.loads((tmp_path / "e3_mnist.json").read_text())
    assert set(meta["rules"]) == {"bp", "rf"} and (tmp_path / "e3_mnist.png").is_file()
