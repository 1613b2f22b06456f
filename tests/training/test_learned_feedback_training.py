"""The learned-feedback rules through ``neurosim train``: shipped configs, diagnostics and
plots, exact resume (B and its optimiser state, mirror-mode noise), divergence stop."""

from __future__ import annotations

import pytest
import torch
from training_helpers import base_config, toy_dataset

from neurosim.cli.main import main
from neurosim.training import TrainingDivergedError, load_checkpoint, loop, train
from neurosim.training.metrics import read_jsonl

SMALL = {"size_hidden": [8, 6], "lr": 1e-5, "target_stepsize": 0.01}


def _strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.mark.parametrize(
    ("model", "extra"),
    [("wm", {"regularizer_input": "normal"}), ("kp", {})],
)
def test_resume_equals_uninterrupted_run(tmp_path, toy, model, extra):
    params = {**SMALL, **extra}
    full, part = tmp_path / "full", tmp_path / "part"
    train(base_config(model, epochs=2, params=params), full, dataset=toy, progress=False)
    train(base_config(model, epochs=1, params=params), part, dataset=toy, progress=False)
    torch.manual_seed(999)  # resume must not depend on the caller's RNG state
    train(base_config(model, epochs=2, params=params), part, resume=True, dataset=toy,
          progress=False)  # fmt: skip
    a = load_checkpoint(full / "checkpoint.pt")
    b = load_checkpoint(part / "checkpoint.pt")
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    if model != "sign-sym":
        assert sorted(a["optimizers"]) == ["feedback", "forward"]
        state = b["optimizers"]["feedback"]["state"]
        assert state and all("exp_avg" in s for s in state.values())  # B's Adam moments
    assert _strip(read_jsonl(full / "metrics.jsonl")) == _strip(read_jsonl(part / "metrics.jsonl"))


def test_diagnostics_are_recorded_and_plotted(tmp_path, toy):
    out = tmp_path / "run"
    train(base_config("sa", epochs=2, diagnostics=True, params=SMALL), out, dataset=toy,
          progress=False)  # fmt: skip
    rec = read_jsonl(out / "metrics.jsonl")[-1]
    for key in ("angle_bp/layer1", "angle_B_WT/layer2", "norm_ratio_B_W/layer3",
                "angle_projection/layer2", "angle_local_grad/layer3"):  # fmt: skip
        assert isinstance(rec[key], float), key
    assert (out / "diagnostics.png").stat().st_size > 1000


def test_feedback_divergence_stops_with_the_rules_hint(tmp_path, toy):
    params = {**SMALL, "feedback_optimizer": "sgd", "feedback_lr": 1e300,
              "coefficients": {"decay": 1.0, "amp": 1.0}}  # fmt: skip
    with pytest.raises(TrainingDivergedError, match=r"wm: training diverged.*params\.feedback_lr"):
        train(base_config("wm", epochs=1, params=params), tmp_path / "run", dataset=toy,
              progress=False)  # fmt: skip


def test_cli_trains_a_learned_rule_with_its_shipped_config(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(loop, "load_for_config", lambda cfg: toy_dataset(n_in=784, n_classes=10))
    out = tmp_path / "run"
    argv = ["train", "--model", "ia", "--dataset", "mnist", "--epochs", "1", "--out", str(out),
            "--batch-size", "32", "--diagnostics", "--threads", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "ia on mnist: 1 epochs" in capsys.readouterr().out
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    recs = read_jsonl(out / "metrics.jsonl")
    assert [r["epoch"] for r in recs] == [1, 2] and "angle_B_WT/layer4" in recs[-1]
    assert (
        '"null": 0.001' in (out / "config.yaml").read_text()
        or "'null': 0.001" in (out / "config.yaml").read_text()
    )


@pytest.mark.parametrize("model", ["kp"])  # tie_grad, forward decay and B's optimiser
def test_two_processes_match_one(tmp_path, model, mnist_cached):
    """Data-parallel training (2 processes, then resumed on 1) gives the weights, B and
    metrics of one process: B's update is a batch mean, reduced by the optimiser hook."""
    from neurosim.scale.launch import train_data_parallel
    from neurosim.testing import assert_allclose
    from neurosim.training.config import default_config
    from neurosim.training.overrides import apply_overrides

    small = {"epochs": 2, "subset": 96, "batch_size": 32, "threads": 1, "dtype": "float64",
             "val_size": 64, "params.size_hidden": [12, 8]}  # fmt: skip
    cfg = apply_overrides(default_config(model, "mnist"), small)
    one, two = tmp_path / "one", tmp_path / "two"
    train(cfg, one, progress=False)
    train_data_parallel(cfg.with_overrides(epochs=1), two, nproc=2, progress=False)
    train(cfg, two, resume=True, progress=False)
    for a, b in zip(read_jsonl(one / "metrics.jsonl"), read_jsonl(two / "metrics.jsonl"),
                    strict=True):  # fmt: skip
        assert_allclose(b["train_loss"], a["train_loss"])
    ref = load_checkpoint(one / "checkpoint.pt")["model"]
    got = load_checkpoint(two / "checkpoint.pt")["model"]
    assert {"B1", "B2"} <= set(ref)
    for name, tensor in ref.items():
        if tensor.is_floating_point():
            assert_allclose(got[name], tensor, rtol_scale=10, msg=f"{model} {name}")
