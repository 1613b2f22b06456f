"""Training loop: schedule, outputs, exact resume, interrupts, divergence, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from training_helpers import base_config, toy_dataset, toy_regression

from neurosim.training import ConfigError, TrainingDivergedError, load_checkpoint, train
from neurosim.training.metrics import read_jsonl


def _strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def _final_state(out):
    return load_checkpoint(out / "checkpoint.pt")["model"]


def test_outputs_and_best_epoch(tmp_path, toy):
    out = tmp_path / "run"
    res = train(base_config("bp", epochs=3, diagnostics=True), out, dataset=toy, progress=False)
    for name in ("config.yaml", "metrics.jsonl", "checkpoint.pt", "summary.json"):
        assert (out / name).is_file(), name
    assert (out / "learning_curves.png").stat().st_size > 1000
    assert (out / "diagnostics.png").is_file()
    recs = read_jsonl(out / "metrics.jsonl")
    assert [r["epoch"] for r in recs] == [1, 2, 3]
    for r in recs:
        assert {"train_loss", "train_error", "val_error", "test_error", "seconds"} <= set(r)
        assert "angle_bp/layer1" in r
    best = min(recs, key=lambda r: r["val_error"])
    assert res["best_epoch"] == best["epoch"]
    assert res["best"]["test_error"] == best["test_error"]
    assert json.loads((out / "summary.json").read_text())["best_epoch"] == best["epoch"]
    assert recs[-1]["train_loss"] < recs[0]["train_loss"]


def test_schedule_counts_passes(tmp_path, toy):
    """epochs_fb pre-training passes, then per epoch 1 + extra_fb feedback passes and
    one forward pass (DFC App. F.2)."""
    cfg = base_config("test-noisy", epochs=2, schedule={"epochs_fb": 3, "extra_fb_epochs": 2})
    out = tmp_path / "run"
    train(cfg, out, dataset=toy, progress=False)
    n_batches = 96 // 16
    calls = _final_state(out)["calls"]
    assert calls[0] == 2 * n_batches
    assert calls[1] == (3 + 2 * 3) * n_batches
    recs = read_jsonl(out / "metrics.jsonl")
    assert [r["phase"] for r in recs] == ["pretrain"] * 3 + ["train"] * 2
    assert "fb_q_norm" in recs[-1]


@pytest.mark.parametrize("model", ["bp", "dfa", "test-noisy"])
def test_resume_equals_uninterrupted_run(tmp_path, toy, model):
    sched = {"epochs_fb": 1, "extra_fb_epochs": 1}
    full, part = tmp_path / "full", tmp_path / "part"
    train(base_config(model, epochs=2, schedule=sched), full, dataset=toy, progress=False)
    train(base_config(model, epochs=1, schedule=sched), part, dataset=toy, progress=False)
    torch.manual_seed(12345)  # resume must not depend on the caller's RNG state
    train(base_config(model, epochs=2, schedule=sched), part, resume=True, dataset=toy,
          progress=False)  # fmt: skip
    a, b = _final_state(full), _final_state(part)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ra, rb = read_jsonl(full / "metrics.jsonl"), read_jsonl(part / "metrics.jsonl")
    assert _strip(ra) == _strip(rb)


def test_keyboard_interrupt_leaves_resumable_checkpoint(tmp_path, toy, monkeypatch):
    sched = {"epochs_fb": 0, "extra_fb_epochs": 1}
    cfg = base_config("test-noisy", epochs=3, schedule=sched)
    full, cut = tmp_path / "full", tmp_path / "cut"
    train(cfg, full, dataset=toy, progress=False)

    from neurosim.models import registry

    make = registry.get("test-noisy")

    def interrupting(*args, **kwargs):
        model = make(*args, **kwargs)
        model.fail_after = 3 * 6 + 2  # mid-way through epoch 2 (3 passes of 6 batches)
        return model

    monkeypatch.setitem(registry._FACTORIES, "test-noisy", interrupting)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, cut, dataset=toy, progress=False)
    assert load_checkpoint(cut / "checkpoint.pt")["position"]["epochs_done"] == 1
    assert len(read_jsonl(cut / "metrics.jsonl")) == 1
    monkeypatch.setitem(registry._FACTORIES, "test-noisy", make)
    train(cfg, cut, resume=True, dataset=toy, progress=False)
    a, b = _final_state(full), _final_state(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _strip(read_jsonl(full / "metrics.jsonl")) == _strip(read_jsonl(cut / "metrics.jsonl"))


def test_resume_rejects_a_changed_config(tmp_path, toy):
    out = tmp_path / "run"
    train(base_config("bp", epochs=1), out, dataset=toy, progress=False)
    with pytest.raises(ConfigError, match=r"differs from the saved run in \['batch_size'\]"):
        train(base_config("bp", epochs=2, batch_size=8), out, resume=True, dataset=toy)


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path, toy):
    out = tmp_path / "run"
    train(base_config("bp", epochs=1), out, dataset=toy, progress=False)
    with pytest.raises(FileExistsError, match="resume=True"):
        train(base_config("bp", epochs=1), out, dataset=toy, progress=False)
    with pytest.raises(Exception, match="no checkpoint.pt"):
        train(base_config("bp", epochs=1), tmp_path / "empty", resume=True, dataset=toy)


def test_seed_determines_the_run(tmp_path, toy):
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        train(base_config("fa", epochs=1, seed=seed), tmp_path / name, dataset=toy, progress=False)
        runs[name] = _final_state(tmp_path / name)["weights.0"]
    assert torch.equal(runs["a"], runs["b"])
    assert not torch.equal(runs["a"], runs["c"])


def test_divergence_stops_with_a_hint(tmp_path, toy):
    with pytest.raises(TrainingDivergedError, match="lower params.lr"):
        train(base_config("test-nan", epochs=1), tmp_path / "run", dataset=toy, progress=False)


def test_divergence_of_weights_is_caught(tmp_path):
    params = {"size_hidden": [8], "hidden_activation": "linear", "lr": 1e200,
              "target_stepsize": 1.0, "optimizer": "sgd"}  # fmt: skip
    cfg = base_config("bp", dataset="student-teacher", val_size=0, epochs=2, params=params)
    with pytest.raises(TrainingDivergedError, match=r"bp: training diverged .* lower params.lr"):
        train(cfg, tmp_path / "run", dataset=toy_regression(), progress=False)


def test_regression_autoencoder_and_no_validation(tmp_path):
    ds = toy_dataset(n_train=64, n_in=16)
    cfg = base_config("bp", dataset="mnist-autoencoder", epochs=2,
                      params={"size_hidden": [8, 4, 8], "lr": 1e-6})  # fmt: skip
    res = train(cfg, tmp_path / "ae", dataset=ds, progress=False)
    assert (tmp_path / "ae" / "reconstructions.png").is_file()
    assert "test_loss" in res["best"] and "test_error" not in res["best"]
    res = train(base_config("dfa", dataset="student-teacher", epochs=2, val_size=0,
                            params={"size_hidden": [5, 5], "lr": 1e-5}),
                tmp_path / "st", dataset=toy_regression(), progress=False)  # fmt: skip
    assert res["selection"].startswith("last epoch") and res["best_epoch"] == 2


def test_subset_float32_and_bad_input(tmp_path, toy):
    res = train(base_config("bp", epochs=1, subset=32, dtype="float32"), tmp_path / "a",
                dataset=toy, progress=False)  # fmt: skip
    assert res["epochs_completed"] == 1
    assert _final_state(tmp_path / "a")["weights.0"].dtype == torch.float32
    with pytest.raises(ValueError, match="subset=500 exceeds the 96 training samples"):
        train(base_config("bp", subset=500), tmp_path / "b", dataset=toy)
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        train(base_config("nope"), tmp_path / "c", dataset=toy)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['typo'\]"):
        train(base_config("bp", params={"typo": 1}), tmp_path / "d", dataset=toy)
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
        train(base_config("bp", device="cuda"), tmp_path / "e", dataset=toy)


@pytest.mark.parametrize("model", ["dfc-ssa-fixed", "dfc-ssa", "dfc"])
def test_resume_is_exact_for_dfc_models(tmp_path, toy, model):
    """Also with trained feedback: the sleep phase's noise generators (inside the
    model's cached simulator) are checkpointed through the model's extra state."""
    from neurosim.models import registry

    if model not in registry.available():
        pytest.skip(f"{model} is not registered")
    params = {"size_hidden": [6, 5], "tmax_di": 20, "tmax_di_fb": 12, "sigma": 0.05}
    sched = {"epochs_fb": 1, "extra_fb_epochs": 1}
    full, part = tmp_path / "full", tmp_path / "part"
    for out, epochs, resume in ((full, 2, False), (part, 1, False), (part, 2, True)):
        cfg = base_config(model, epochs=epochs, batch_size=32, schedule=sched, params=params)
        train(cfg, out, resume=resume, dataset=toy, progress=False)
    a, b = _final_state(full), _final_state(part)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _strip(read_jsonl(full / "metrics.jsonl")) == _strip(read_jsonl(part / "metrics.jsonl"))
