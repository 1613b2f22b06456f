"""By-hand checks of issue 16 (``pytest -m slow tests/scale/test_scale_slow.py -s``);
the numbers go into the closing note.

* the 6-trial DFC-SSA sweep of ``examples/sweeps/dfc_ssa_small.yaml`` (MNIST subset);
* ``neurosim compare --models bp dfa dfc-ssa --seeds 3`` on MNIST, 2 epochs of the
  first 5000 training samples (about 10 min on the shared 2-core machine);
* an interrupted sweep (SIGINT after its first trial) resumes without redoing it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from neurosim.cli.main import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SMALL_SPEC = ROOT / "examples" / "sweeps" / "dfc_ssa_small.yaml"


def test_dfc_ssa_small_sweep_prints_the_best_configuration(tmp_path, capsys):
    pytest.importorskip("ray")
    out = tmp_path / "sweep"
    assert main(["sweep", str(SMALL_SPEC), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    print(text)
    assert "## Best configuration" in text and "params.lr" in text
    rows = (out / "trials.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 6


def test_compare_bp_dfa_dfc_ssa_three_seeds_on_mnist(tmp_path, capsys):
    pytest.importorskip("ray")
    out = tmp_path / "cmp"
    argv = ["compare", "--models", "bp", "dfa", "dfc-ssa", "--dataset", "mnist", "--seeds", "3",
            "--epochs", "2", "--set", "subset=5000", "--set", "schedule.epochs_fb=1",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = (out / "table.md").read_text()
    print(text)
    for model in ("bp", "dfa", "dfc-ssa"):
        assert f"| {model} | " in text and "| 3 | 0 |" in text


def test_interrupted_sweep_resumes_without_redoing_finished_trials(tmp_path):
    pytest.importorskip("ray")
    spec = {
        "name": "interrupt",
        "base": {"model": "bp", "dataset": "student-teacher",
                 "set": {"epochs": 30, "subset": 2048, "batch_size": 32}},
        "space": {"params.lr": {"type": "loguniform", "low": 0.005, "high": 0.2}},
        "trials": 4,
        "concurrency": 1,
        "search": {"algorithm": "random", "seed": 0},
    }  # fmt: skip
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "neurosim.cli.main", "sweep", str(path), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 600
    finished: list[Path] = []
    while time.time() < deadline and not finished:
        time.sleep(0.2)
        finished = [p.parent for p in out.glob("runs/*/trial.json")
                    if json.loads(p.read_text()).get("status") == "finished"]  # fmt: skip
    assert finished, "no trial finished in time"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=300)
    first = finished[0]
    before = (first / "metrics.jsonl").read_text()
    ended = [p for p in out.glob("runs/*/trial.json")
             if json.loads(p.read_text()).get("status") == "finished"]  # fmt: skip
    assert len(ended) < 4 and proc.returncode == 1  # interrupted, and it says so
    env = dict(os.environ)
    rerun = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert (first / "metrics.jsonl").read_text() == before  # not redone
    rows = (out / "trials.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 4
    print(rerun.stdout)
