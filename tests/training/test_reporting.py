"""Long training is never silent: the plan, the time estimate and one line per
(pre-training) epoch on stdout, terminal or not; tqdm bars on request."""

from __future__ import annotations

import io

import pytest
from training_helpers import base_config, toy_dataset

from neurosim.cli.main import main
from neurosim.training import loop, train
from neurosim.training.reporting import ConsoleReporter

SCHEDULE = {"epochs_fb": 2, "extra_fb_epochs": 1}


def test_train_prints_plan_estimate_and_one_line_per_epoch(tmp_path, toy, capsys):
    train(base_config("test-noisy", epochs=2, schedule=SCHEDULE), tmp_path / "run", dataset=toy)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("test-noisy on mnist: 2 feedback pre-training epochs, then 2 epochs")
    assert "2 feedback passes and 1 forward pass" in out[0] and "6 batches of 16" in out[0]
    assert sum("per feedback pre-training epoch on this machine" in line for line in out) == 1
    assert sum("per epoch on this machine" in line for line in out) == 1
    pre = [line for line in out if line.startswith("pre-training ")]
    epochs = [line for line in out if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in pre] == [
        "pre-training 1/2 (feedback)", "pre-training 2/2 (feedback)",
    ]  # fmt: skip
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2 (train)", "epoch 2/2 (train)"]
    for line in epochs:
        for part in ("train loss", "train error", "val error", "test error", " s; elapsed"):
            assert part in line, (part, line)
    assert "fb_q_norm" in pre[0] and " s; elapsed" in pre[0]
    assert out[-1].startswith("finished in ")


def test_quiet_prints_nothing(tmp_path, toy, capsys):
    train(base_config("bp", epochs=1), tmp_path / "run", dataset=toy, quiet=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_estimate_is_the_measured_time_per_batch_times_the_epoch():
    """4 batches per pass; feedback 1.0 s/batch, forward 0.5 s/batch, 2 feedback passes
    per epoch: 4 s per pre-training epoch, 4 * (0.5 + 2 * 1.0) = 10 s per epoch."""
    stream = io.StringIO()
    rep = ConsoleReporter(stream=stream)
    rep.plan("m on d", n_pretrain=3, pretrain_done=0, epochs=5, epochs_done=0, feedback_passes=2,
             n_batches=4, n_samples=64, batch_size=16, setting="cpu")  # fmt: skip
    for _ in range(4):
        rep.batch("feedback", 1.0)
    assert "about 4 s per feedback pre-training epoch" in stream.getvalue()
    assert "3 pre-training epochs about 12 s" in stream.getvalue()
    assert "per epoch on this machine" not in stream.getvalue()  # forward not yet measured
    for _ in range(4):
        rep.batch("forward", 0.5)
    assert "about 10 s per epoch on this machine" in stream.getvalue()
    rep.batch("forward", 100.0)  # later batches do not re-announce
    assert stream.getvalue().count("per epoch on this machine") == 1


def test_resumed_run_says_where_it_resumes(tmp_path, toy, capsys):
    out = tmp_path / "run"
    train(base_config("bp", epochs=1), out, dataset=toy, quiet=True)
    train(base_config("bp", epochs=2), out, dataset=toy, resume=True)
    text = capsys.readouterr().out
    assert "resuming after epoch 1/2" in text
    assert "epoch 1/2 (train)" not in text and "epoch 2/2 (train)" in text


@pytest.fixture
def cli_toy(monkeypatch):
    monkeypatch.setattr(loop, "load_for_config", lambda cfg: toy_dataset(n_in=784, n_classes=10))


def _cli(tmp_path, *flags: str) -> list[str]:
    return ["train", "--model", "bp", "--dataset", "mnist", "--epochs", "1", "--subset", "64",
            "--batch-size", "16", "--out", str(tmp_path / "run"), *flags]  # fmt: skip


def test_cli_lines_without_a_terminal_and_forced_bars(tmp_path, cli_toy, capsys):
    """stderr is not a terminal under pytest: by default no bars, but the epoch lines;
    --progress forces the bars (--no-progress: tests/training/test_cli_train.py)."""
    assert main(_cli(tmp_path)) == 0
    captured = capsys.readouterr()
    assert "epoch 1/1 (train): train loss" in captured.out
    assert "epoch 1/1 forward" not in captured.err  # no bar
    assert main(_cli(tmp_path / "b", "--progress")) == 0
    captured = capsys.readouterr()
    assert "epoch 1/1 forward" in captured.err  # tqdm's description
    assert "epoch 1/1 (train)" in captured.out
