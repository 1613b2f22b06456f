"""The issue-14 example scripts run end to end at small sizes and write their outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.example
def test_fixed_points_example(tmp_path):
    _run("alignment_fixed_points.py", "--out", str(tmp_path), "--steps", "300")
    results = json.loads((tmp_path / "results.json").read_text())
    for rule in ("SA", "AA", "WM", "IA", "WM-Oja"):
        assert results["white (exact)"][rule]["final_distance_to_B_star"] < 1e-10, rule
    assert results["white (exact)"]["IA"]["final_angle_to_W_T"] > 5.0  # a ridge pinv
    assert (tmp_path / "fixed_points.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.example
def test_alignment_table_example(tmp_path, mnist_cached):
    args = ["--out", str(tmp_path), "--epochs", "1", "--seeds", "0", "1", "--subset", "256",
            "--methods", "bp", "sa", "wm", "--datasets", "mnist"]  # fmt: skip
    _run("alignment_table.py", *args)
    stem = "table_1ep_bp-sa-wm_mnist_seeds0-1"  # the selection is in the name
    table = json.loads((tmp_path / f"{stem}.json").read_text())["table"]["mnist"]
    assert table["bp"]["final"]["angle_B_WT/layer2"]["mean"] == pytest.approx(0.0, abs=1e-3)
    assert table["sa"]["test_error_best_val"]["n"] == 2
    assert "| sa | 2 |" in (tmp_path / f"{stem}.md").read_text()
    assert (tmp_path / "curves_mnist_1ep_bp-sa-wm_mnist_seeds0-1.png").is_file()
    # a second call finds the finished runs and only writes the report
    again = _run("alignment_table.py", *args)
    assert "done (1 epochs)" in again.stdout
    # --set reaches every run (here: one hidden layer) and is recorded in the table
    variant = tmp_path / "depth1"
    args = ["--out", str(variant), "--epochs", "1", "--seeds", "0", "--subset", "256",
            "--methods", "sa", "--datasets", "mnist",
            "--set", "params.size_hidden=[16]"]  # fmt: skip
    _run("alignment_table.py", *args)
    report = json.loads((variant / "table_1ep_sa_mnist_seeds0.json").read_text())
    assert report["overrides"] == ["params.size_hidden=[16]"]
    assert set(report["table"]["mnist"]["sa"]["final"]) >= {
        "angle_B_WT/layer2",
        "norm_ratio_B_W/layer2",
    }
    assert "angle_B_WT/layer3" not in report["table"]["mnist"]["sa"]["final"]
    text = (variant / "table_1ep_sa_mnist_seeds0.md").read_text()
    assert "`params.size_hidden=[16]`" in text and "‖B2‖/‖W2‖" in text
    # the data fixed points of the trained runs: SA's is W^T; WM's is 1/2 Sigma W^T, and
    # B's angle to W^T agrees with the run's own last diagnostics record
    runs = [tmp_path / "mnist" / m / "seed0" for m in ("sa", "wm")]
    out = tmp_path / "fixed_points.json"
    _run("alignment_data_fixed_point.py", *map(str, runs), "--samples", "500", "--out", str(out))
    reports = json.loads(out.read_text())["runs"]
    sa, wm = (reports[str(r)] for r in runs)
    for l in (2, 3, 4):
        assert sa[f"layer{l}"]["angle_Bstar_WT"] == pytest.approx(0.0, abs=1e-4)
        assert sa[f"layer{l}"]["norm_ratio_Bstar_W"] == pytest.approx(1.0)
        assert wm[f"layer{l}"]["angle_Bstar_WT"] > 5.0  # Sigma W^T is not W^T on data
        last = json.loads((runs[1] / "metrics.jsonl").read_text().splitlines()[-1])
        assert wm[f"layer{l}"]["angle_B_WT"] == pytest.approx(
            last[f"angle_B_WT/layer{l}"], abs=1e-3
        )


@pytest.mark.slow
@pytest.mark.example
def test_fa_two_layer_example_quick(tmp_path):
    _run("fa_two_layer.py", "--out", str(tmp_path), "--quick")
    results = json.loads((tmp_path / "results.json").read_text())
    assert all(v["fitted_slope"] < 0 for v in results["e1"].values())
    for name in ("e1_convergence.png", "e2_alignment.png", "e3_tradeoff.png"):
        assert (tmp_path / name).is_file(), name
