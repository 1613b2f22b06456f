"""rf and rf-exact through the training loop and ``neurosim train``: schedule, metrics,
diagnostics, exact resume (the feedback pairs' noise is checkpointed), divergence.

(Diagnostics only in the CLI test: the diagnostics plot of a run is slow to draw.)"""

from __future__ import annotations

import re

import pytest
import torch
from training_helpers import base_config, toy_dataset

from neurosim.cli.main import main
from neurosim.training import TrainingDivergedError, default_config, load_checkpoint, train
from neurosim.training import loop as loop_module
from neurosim.training.metrics import read_jsonl

PARAMS = {"size_hidden": [8, 6, 4], "lr": 1e-5, "noise_batch": 16, "feedback_steps": 3,
          "track_steps": 1}  # fmt: skip
SCHED = {"epochs_fb": 1, "extra_fb_epochs": 0}


def _strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def _cfg(model: str, **over):
    params = PARAMS if model == "rf" else {"size_hidden": [8, 6, 4], "lr": 1e-5}
    return base_config(model, schedule=SCHED, params=params, **over)


@pytest.mark.parametrize("model", ["rf", "rf-exact"])
def test_resume_is_exact(tmp_path, toy, model):
    full, part = tmp_path / "full", tmp_path / "part"
    train(_cfg(model, epochs=2), full, dataset=toy, progress=False)
    train(_cfg(model, epochs=1), part, dataset=toy, progress=False)
    torch.manual_seed(999)
    train(_cfg(model, epochs=2), part, resume=True, dataset=toy, progress=False)
    a = load_checkpoint(full / "checkpoint.pt")["model"]
    b = load_checkpoint(part / "checkpoint.pt")["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ra, rb = read_jsonl(full / "metrics.jsonl"), read_jsonl(part / "metrics.jsonl")
    assert _strip(ra) == _strip(rb)
    if model == "rf":
        assert "_extra_state" in a and a["_extra_state"].shape[0] == 3  # one generator a pair
        assert [r["phase"] for r in ra] == ["pretrain", "train", "train"]
        assert torch.count_nonzero(a["B1"]) > 0  # learned from B_0 = 0
    assert (full / "learning_curves.png").is_file()


def test_unstable_feedback_learning_stops_with_a_hint(tmp_path, toy):
    params = {**PARAMS, "lr_feedback": 1e3, "noise_sigma": 10.0}
    cfg = base_config("rf", schedule=SCHED, params=params, epochs=1)
    with pytest.raises(TrainingDivergedError, match="lr_feedback"):
        train(cfg, tmp_path / "run", dataset=toy, progress=False)


def test_cli_trains_rf_from_its_shipped_config(tmp_path, capsys, monkeypatch):
    """The shipped mnist/rf.yaml with a smaller architecture (a copy: the CLI has no
    per-parameter override), on a synthetic data set."""
    monkeypatch.setattr(loop_module, "load_for_config",
                        lambda cfg: toy_dataset(n_train=64, n_in=784, n_classes=10))  # fmt: skip
    shipped = default_config("rf", "mnist")
    small = shipped.with_overrides(params={**shipped.params, "size_hidden": [16, 8, 6, 4]})
    small.save(tmp_path / "rf.yaml")
    out = tmp_path / "run"
    argv = ["train", "--config", str(tmp_path / "rf.yaml"), "--epochs", "1", "--out", str(out),
            "--threads", "1", "--diagnostics", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "rf on mnist: 1 epochs" in capsys.readouterr().out
    rec = read_jsonl(out / "metrics.jsonl")[-1]
    for key in ("angle_bp/layer1", "angle_pinv/layer4", "penrose_r1/layer2", "penrose_r2/layer5",
                "penrose_r3/layer3", "penrose_r4/layer4", "pinv_dist/layer2"):  # fmt: skip
        assert key in rec, key
    assert (out / "diagnostics.png").is_file()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert [r.get("epoch") for r in read_jsonl(out / "metrics.jsonl")] == [None, 1, 2]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    """Data-parallel rf: the forward updates are all-reduced, and every process learns the
    same ``B_l`` from the same noise (the pairs' noise is not per sample), so 2 processes
    give 1 process's metrics and weights within the float64 tolerance."""
    from neurosim.scale.launch import train_data_parallel
    from neurosim.testing import assert_allclose
    from neurosim.training.config import default_config

    cfg = default_config("bp", "student-teacher").with_overrides(
        model="rf", params=PARAMS, schedule=SCHED, epochs=2, subset=96, batch_size=32,
        threads=1, dtype="float64",
    )  # fmt: skip
    one, two = tmp_path / "one", tmp_path / "two"
    train(cfg, one, progress=False)
    train_data_parallel(cfg, two, nproc=2, progress=False)
    for a, b in zip(read_jsonl(one / "metrics.jsonl"), read_jsonl(two / "metrics.jsonl"),
                    strict=True):  # fmt: skip
        for key in ("train_loss", "test_loss"):
            if key in a:
                assert_allclose(b[key], a[key], msg=f"epoch {a.get('epoch')} {key}")
    ref = load_checkpoint(one / "checkpoint.pt")["model"]
    got = load_checkpoint(two / "checkpoint.pt")["model"]
    assert any(k.startswith("B") for k in ref)
    for name, tensor in ref.items():
        if tensor.is_floating_point():
            assert_allclose(got[name], tensor, msg=name)


def test_train_help_lists_rf_but_not_the_comparison_variants(capsys, monkeypatch):
    """``bp-contracting.yaml`` / ``fa-contracting.yaml`` are ``--config`` variants (their
    model is bp / fa), so ``--model`` help must not offer them as model names."""
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # rf and rf-exact are in the group of models shipped for exactly these data sets
    group = re.search(r"; ([a-z, -]+) \(fashion-mnist, mnist\);", text)
    assert group and {"rf", "rf-exact"} <= set(group.group(1).split(", "))
    assert "contracting" not in text
