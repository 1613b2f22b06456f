"""End to end on a local Ray: a 2-trial sweep and a 2-seed comparison of tiny models on
the synthetic student-teacher set (seconds of training; Ray's start-up dominates)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from neurosim.cli.main import main
from neurosim.scale.compare import make_plan, run_compare
from neurosim.scale.sweep import run_sweep
from neurosim.scale.sweep_spec import spec_from_dict
from neurosim.training.config import load_config
from neurosim.training.metrics import read_jsonl

TINY = {"epochs": 2, "subset": 64, "batch_size": 32, "params.size_hidden": [4]}


def test_two_trial_sweep_end_to_end_and_resume(local_ray, tmp_path, capsys):
    spec = spec_from_dict(
        {
            "name": "tiny",
            "base": {"model": "bp", "dataset": "student-teacher", "set": TINY},
            "space": {"params.lr": {"type": "loguniform", "low": 0.005, "high": 0.2}},
            "trials": 2,
            "search": {"algorithm": "tpe", "seed": 1, "startup_trials": 1},
            "early_stopping": {"type": "asha", "grace_period": 1},
        }
    )
    out = tmp_path / "sweep"
    result = run_sweep(spec, out)
    statuses = [r["status"] for r in result.rows]  # ASHA may stop the worse one at epoch 1
    assert len(statuses) == 2 and set(statuses) <= {"finished", "stopped early"}
    assert statuses.count("finished") >= 1
    printed = capsys.readouterr().out
    assert "trial 1/2" in printed and "# Sweep tiny" in printed
    # every trial is an ordinary run directory with the trial's value in its config
    for row in result.rows:
        run = tmp_path / row["run_dir"]
        assert {"config.yaml", "metrics.jsonl", "checkpoint.pt", "summary.json"} <= {
            p.name for p in run.iterdir()
        }
        assert load_config(run / "config.yaml").params["lr"] == pytest.approx(row["params.lr"])
        losses = [r["test_loss"] for r in read_jsonl(run / "metrics.jsonl")]
        assert row["test_loss"] == pytest.approx(min(losses))
    best = min(result.rows, key=lambda r: r["test_loss"])
    assert result.best["trial_id"] == best["trial_id"]
    assert load_config(out / "best_config.yaml").params["lr"] == pytest.approx(best["params.lr"])
    with open(out / "trials.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 2
    assert "params.lr" in (out / "summary.md").read_text()
    assert (out / "objective_vs_trial.png").stat().st_size > 0
    assert (out / "params_vs_objective.png").stat().st_size > 0

    # a finished sweep resumes without redoing anything; without --resume it refuses
    before = {r["trial_id"]: (tmp_path / r["run_dir"] / "metrics.jsonl").read_text()
              for r in result.rows}  # fmt: skip
    again = run_sweep(spec, out, resume=True, verbose=False)
    assert {r["trial_id"]: (tmp_path / r["run_dir"] / "metrics.jsonl").read_text()
            for r in again.rows} == before  # fmt: skip
    with pytest.raises(FileExistsError, match="--resume"):
        run_sweep(spec, out, verbose=False)

    # a trial continues with neurosim train like any run
    run = result.rows[0]["run_dir"]
    assert main(["train", "--out", run, "--resume", "--epochs", "3", "--no-progress"]) == 0
    assert [r["epoch"] for r in read_jsonl(f"{run}/metrics.jsonl")] == [1, 2, 3]


def test_two_seed_compare_on_student_teacher(local_ray, tmp_path):
    plan = make_plan(["bp", "dfa"], "student-teacher", seeds=2, epochs=1,
                     overrides={"subset": 64, "batch_size": 32})  # fmt: skip
    out = tmp_path / "cmp"
    result = run_compare(plan, out, verbose=False)
    assert [(r["model"], r["seed"], r["status"]) for r in result.runs] == [
        ("bp", 42, "finished"), ("bp", 43, "finished"),
        ("dfa", 42, "finished"), ("dfa", 43, "finished"),
    ]  # fmt: skip
    for model in result.models:
        values = [
            json.loads((out / "runs" / model["model"] / f"seed{s}" / "summary.json").read_text())[
                "best"
            ]["test_loss"]
            for s in (42, 43)
        ]
        assert model["mean"] == pytest.approx(np.mean(values))
        assert model["std"] == pytest.approx(np.std(values, ddof=1))
        assert f"| {model['model']} | {model['mean']:.4g} ± " in result.table_text
    assert (out / "table.md").read_text() == result.table_text
    with open(out / "table.csv") as fh:
        assert [row["model"] for row in csv.DictReader(fh)] == ["bp", "dfa"]
    assert (out / "learning_curves.png").stat().st_size > 0
