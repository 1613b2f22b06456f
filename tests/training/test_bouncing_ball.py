"""``neurosim train --dataset bouncing-ball`` with the five recurrent rules: configs,
trajectories as samples, metrics, checkpoints, exact resume, plots, bad data options."""

from __future__ import annotations

import pytest
import torch

from neurosim.cli.main import main
from neurosim.training import ConfigError, load_checkpoint, train
from neurosim.training.config import default_config
from neurosim.training.metrics import read_jsonl

RULES = ("autapse-rnn", "bptt", "fa-rnn", "dfa-rnn", "rflo")
#: 4 training, 2 validation, 2 test trajectories of 20 steps
SMALL = {"n_train": 4, "n_test": 2, "n_steps": 21}


def small_config(model: str, **changes) -> dict:
    cfg = default_config(model, "bouncing-ball").to_dict()
    cfg.update({"epochs": 2, "val_size": 2, "data_options": dict(SMALL), **changes})
    return cfg


def strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.mark.parametrize("model", RULES)
def test_every_rule_trains_with_its_config(tmp_path, model, one_thread):
    cfg = default_config(model, "bouncing-ball")
    assert cfg.params["hidden_size"] == 2 and cfg.batch_size == 1
    result = train(small_config(model, diagnostics=True), tmp_path, progress=False)
    recs = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in recs] == [1, 2]
    for r in recs:
        assert r["val_loss"] > 0 and r["test_loss"] > 0 and "angle_bptt/layer1" in r
    assert {p.rsplit("/", 1)[-1] for p in result["plots"]} >= {
        "learning_curves.png",
        "diagnostics.png",
        "trajectories.png",
    }
    state = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    assert state["W"].shape == (2, 2) and not torch.equal(state["W"], torch.zeros(2, 2))


def test_trajectories_are_the_samples(one_thread):
    from neurosim.models.rnn.experiment import load_data

    data = load_data({**SMALL, "horizon": 3}, val_size=2)
    assert data.train.X.shape == (4, 18, 2) and data.val.X.shape == (2, 18, 2)
    # target = input three steps later, inside the unit box, speed 0.03 per step
    assert torch.equal(data.train.Y[:, :-3], data.train.X[:, 3:])
    step = (data.train.X[:, 1:] - data.train.X[:, :-1]).norm(dim=-1)
    assert float(step.max()) <= 0.03 + 1e-6 and float(data.train.X.min()) >= 0.05 - 1e-6


def test_resume_is_exact_for_the_online_circuit(tmp_path, one_thread):
    full, part = tmp_path / "full", tmp_path / "part"
    train(small_config("autapse-rnn", epochs=3), full, progress=False)
    train(small_config("autapse-rnn", epochs=1), part, progress=False)
    torch.manual_seed(999)  # resume must not depend on the caller's RNG state
    train(small_config("autapse-rnn", epochs=3), part, resume=True, progress=False)
    assert strip(read_jsonl(full / "metrics.jsonl")) == strip(read_jsonl(part / "metrics.jsonl"))
    a, b = (load_checkpoint(p / "checkpoint.pt")["model"] for p in (full, part))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_horizon_longer_than_the_trajectory_is_refused(tmp_path, capsys):
    cfg = small_config("bptt", data_options={**SMALL, "horizon": 21})
    with pytest.raises(ConfigError, match=r"'bouncing-ball'.*horizon=21.*n_steps=21"):
        train(cfg, tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match=r"unknown data_options \['gravity'\]"):
        train(small_config("bptt", data_options={"gravity": 9.8}), tmp_path / "b")
    yaml = tmp_path / "c.yaml"
    yaml.write_text("model: autapse-rnn\ndataset: bouncing-ball\ndata_options: {horizon: 500}\n")
    assert main(["train", "--config", str(yaml), "--out", str(tmp_path / "c")]) == 2
    assert "horizon=500 is not shorter than the trajectory" in capsys.readouterr().err


def test_set_overrides_a_data_option(tmp_path, capsys):
    from neurosim.training.overrides import apply_overrides, settable_keys

    cfg = default_config("bptt", "bouncing-ball")
    assert "data_options.horizon" in settable_keys(cfg)
    assert apply_overrides(cfg, {"data_options.horizon": 5}).data_options == {"horizon": 5}
    with pytest.raises(ConfigError, match=r"data_options.gravity: unknown key"):
        apply_overrides(cfg, {"data_options.gravity": 1.0})
    out = tmp_path / "run"
    argv = ["train", "--model", "bptt", "--dataset", "bouncing-ball", "--out", str(out),
            "--set", "data_options.horizon=30", "--set", "data_options.n_steps=30"]  # fmt: skip
    assert main(argv) == 2
    assert "horizon=30 is not shorter than the trajectory" in capsys.readouterr().err
