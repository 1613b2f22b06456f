"""``neurosim train`` on a synthetic data set (the loader is replaced)."""

from __future__ import annotations

import pytest
from training_helpers import toy_dataset

from neurosim.cli.main import main
from neurosim.training import loop
from neurosim.training.metrics import read_jsonl


@pytest.fixture(autouse=True)
def synthetic_data(monkeypatch):
    monkeypatch.setattr(loop, "load_for_config", lambda cfg: toy_dataset(n_in=784, n_classes=10))


def test_train_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--model", "bp", "--dataset", "mnist", "--epochs", "1", "--out", str(out),
            "--batch-size", "32", "--seed", "5", "--dtype", "float32", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "bp on mnist: 1 epochs" in text and "test accuracy" in text
    assert "epoch 1/1 (train): train loss" in text  # the epoch line, bars off
    assert "epoch 1/1 forward" not in captured.err
    assert str(out / "metrics.jsonl") in text and str(out / "learning_curves.png") in text
    # resume from the run directory alone, with more epochs
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    recs = read_jsonl(out / "metrics.jsonl")
    assert [r["epoch"] for r in recs] == [1, 2]
    saved = (out / "config.yaml").read_text()
    assert "threads: null" in saved  # default: torch's own setting
    assert "epochs: 2" in saved and "dtype: float32" in saved and "batch_size: 32" in saved


def test_config_file_and_flag_override(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: dfa\ndataset: mnist\nepochs: 5\nbatch_size: 64\n"
                   "params: {size_hidden: [16], lr: 1e-6}\n")  # fmt: skip
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--epochs", "1", "--out", str(out),
                 "--diagnostics", "--no-progress"]) == 0  # fmt: skip
    rec = read_jsonl(out / "metrics.jsonl")[0]
    assert rec["epoch"] == 1 and "angle_bp/layer1" in rec
    assert (out / "diagnostics.png").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "nope", "--dataset", "mnist"], "no config for model 'nope'"),
        (["--model", "bp"], "give --model and --dataset"),
        (["--model", "bp", "--dataset", "mnist", "--resume"], "no checkpoint.pt"),
        (["--model", "bp", "--dataset", "mnist", "--subset", "100000"], "exceeds"),
        (["--model", "bp", "--dataset", "mnist", "--threads", "0"], "threads must be"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, capsys, argv, message):
    code = main(["train", *argv, "--out", str(tmp_path / "r"), "--epochs", "1", "--no-progress"])
    assert code == 2
    assert message in capsys.readouterr().err


def test_threads_flag_sets_torch_threads_during_training(tmp_path, monkeypatch):
    import torch

    from neurosim.backends.torch import default_threads
    from neurosim.models.baselines.mlp import FeedforwardModel

    seen: list[int] = []
    cores: list[int] = []
    original = FeedforwardModel.train_batch

    def spy(self, x, y, phase):
        seen.append(torch.get_num_threads())
        cores.append(default_threads())  # what the simulations shard over
        return original(self, x, y, phase)

    monkeypatch.setattr(FeedforwardModel, "train_batch", spy)
    before = torch.get_num_threads()
    want = 2 if before == 1 else 1
    argv = ["train", "--model", "bp", "--dataset", "mnist", "--epochs", "1", "--subset", "64",
            "--out", str(tmp_path / "run"), "--threads", str(want), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert seen and set(seen) == {want} and set(cores) == {want}
    assert torch.get_num_threads() == before
    assert f"threads: {want}" in (tmp_path / "run" / "config.yaml").read_text()


def _train_parser():
    from neurosim.cli.main import build_parser

    sub = build_parser()._subparsers._group_actions[0]
    return sub.choices["train"]


def test_help_shows_the_effective_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    assert "None" not in text
    assert "the paper's config models/configs/DATASET/MODEL.yaml" in text
    assert "the config's seed: 42 in every paper config" in text
    assert (
        "the config's epochs: 100 in the paper configs; 25 for mnist-autoencoder; "
        "300 for student-teacher" in text
    )
    assert (  # float32 where benchmarks/precision.py measured it (models/configs/README.md)
        "the config's dtype: float64 in the paper configs; float32 for mnist; "
        "float32 for mnist-train" in text
    )
    assert "the config's batch_size: 128 in every paper config" in text
    assert "bars only when stderr is a terminal" in text
    parser = _train_parser()
    formatter = parser._get_formatter()
    for action in parser._actions:
        if action.dest != "help":
            assert "(default: " in formatter._get_help_string(action), action.dest
