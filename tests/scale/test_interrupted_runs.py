"""An interrupted sweep or comparison says so (exit 1, --resume) instead of passing for
complete: Tune returns normally after Ctrl-C and, inside a trial, its stop looks like a
scheduler's; only Tune's own trial statuses tell the two apart."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from neurosim.scale import sweep_report
from neurosim.scale.sweep_spec import spec_from_dict
from neurosim.scale.trials import TrialInfo
from neurosim.scale.tune_runs import cut_short, ended_all, saved_statuses
from neurosim.training.config import default_config_path


def test_ended_all_counts_only_what_tune_ended():
    done = {"t0": "TERMINATED", "t1": "TERMINATED", "t2": "ERROR"}
    assert ended_all(done, 3)
    # Ctrl-C: two trials cut short (RUNNING, PENDING in Tune's saved state)
    cut = {"t0": "TERMINATED", "t1": "RUNNING", "t2": "PENDING"}
    assert not ended_all(cut, 3) and cut_short(cut) == {"t1", "t2"}
    assert not ended_all({"t0": "TERMINATED"}, 2)  # a trial never made
    assert not ended_all({}, 1)


def test_saved_statuses_of_a_folder_without_tune_state_are_empty(tmp_path):
    pytest.importorskip("ray")
    assert saved_statuses(tmp_path) == {}


def test_a_trial_cut_short_is_interrupted_not_stopped_early(tmp_path):
    spec = spec_from_dict({
        "name": "s", "base": {"model": "bp", "dataset": "student-teacher"},
        "space": {"params.lr": {"type": "loguniform", "low": 1e-3, "high": 1e-1}},
        "trials": 2,
    })  # fmt: skip
    runs = tmp_path / "runs"
    config = default_config_path("bp", "student-teacher").read_text()
    for trial_id, started in (("t0", 1.0), ("t1", 2.0)):  # both ended after 1 of 300 epochs
        TrialInfo(runs / trial_id).update(trial_id=trial_id, started=started, status="stopped")
        (runs / trial_id / "config.yaml").write_text(config)
        (runs / trial_id / "metrics.jsonl").write_text(
            json.dumps({"phase": "train", "epoch": 1, "test_loss": 1.0}) + "\n"
        )
    job = SimpleNamespace(runs_dir=str(runs))
    rows = sweep_report.collect_rows(None, spec, job, interrupted={"t1"})
    assert [r["status"] for r in rows] == ["stopped early", "interrupted"]
    assert "interrupted" in sweep_report.NOT_ENDED
    assert "1 interrupted" in sweep_report.summary_text(rows, spec, None, 1.0)
