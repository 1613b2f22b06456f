"""The experiment driver and the timing benchmark of issue 15 run end to end (tiny sizes)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(relative: str):
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.example
def test_e1_quick_writes_figures_and_numbers(tmp_path, one_thread):
    driver = _load("examples/autapse_rnn_experiments.py")
    assert driver.main(["e1", "--quick", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "e1"
    for name in ("e1_mse.png", "e1_trajectories.png", "summary.md", "results.json"):
        assert (folder / name).stat().st_size > 100, name
    results = json.loads((folder / "results.json").read_text())
    assert set(results["runs"]) == {"autapse-rnn", "bptt", "fa-rnn", "dfa-rnn", "bptt (summed)"}
    assert "val_affine_mse" in (folder / "summary.md").read_text()


@pytest.mark.slow
@pytest.mark.example
def test_every_experiment_quick(tmp_path, one_thread):
    driver = _load("examples/autapse_rnn_experiments.py")
    assert driver.main(["all", "--quick", "--out", str(tmp_path)]) == 0
    for sub in ("e1", "e2", "e3", "angles", "readout", "bias", "rflo"):
        assert (tmp_path / sub / "summary.md").is_file(), sub


@pytest.mark.example
def test_timing_benchmark_writes_ratios(tmp_path, one_thread):
    bench = _load("benchmarks/autapse_rnn_timing.py")
    out = tmp_path / "t.json"
    argv = ["--sizes", "2", "--lengths", "10", "--base-length", "10", "--sequences", "2",
            "--repeats", "2", "--json", str(out)]  # fmt: skip
    assert bench.main(argv) == 0
    data = json.loads(out.read_text())
    row = data["results"][0]
    assert row["N"] == 2 and row["T"] == 10 and row["ratio_bptt_over_autapse_median"] > 0
    assert len(row["seconds"]["autapse-rnn"]["all"]) == 2
