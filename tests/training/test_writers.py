"""Metrics beside metrics.jsonl: metrics.csv always, TensorBoard event files on request."""

from __future__ import annotations

import csv
import math
import sys

import pytest
from training_helpers import base_config

from neurosim.training import loop, train
from neurosim.training.metrics import read_jsonl
from neurosim.training.writers import (
    TensorBoardUnavailableError,
    tensorboard_available,
    tensorboard_tag,
    write_csv,
)

SCHEDULE = {"epochs_fb": 2, "extra_fb_epochs": 0}
needs_tensorboard = pytest.mark.skipif(
    not tensorboard_available(),
    reason='tensorboard is not installed (pip install "neurosim[tensorboard]")',
)


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _same(row: dict[str, str], rec: dict) -> bool:
    for key, value in rec.items():
        if isinstance(value, float):
            if not math.isclose(float(row[key]), value, rel_tol=1e-12):
                return False
        elif row[key] != str(value):
            return False
    return all(row[k] == "" for k in row if k not in rec)


def test_csv_holds_the_jsonl_records(tmp_path, toy):
    out = tmp_path / "run"
    res = train(base_config("test-noisy", epochs=2, schedule=SCHEDULE), out, dataset=toy,
                quiet=True)  # fmt: skip
    recs, rows = read_jsonl(out / "metrics.jsonl"), _csv(out / "metrics.csv")
    assert res["metrics_csv"] == str(out / "metrics.csv")
    assert len(rows) == len(recs) == 4
    assert list(rows[0])[:3] == ["phase", "epoch", "pretrain_epoch"]
    assert all(_same(row, rec) for row, rec in zip(rows, recs, strict=True))


def _interrupt_after_writing_epoch_two(out, toy, monkeypatch, **kw) -> None:
    """Run 3 epochs, dying while epoch 2's checkpoint is written (the metric files come
    after it, so they never hold an epoch the checkpoint lacks: issue 12); then resume
    the run to its end."""
    calls = {"n": 0}
    real = loop._Run.checkpoint

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(loop._Run, "checkpoint", flaky)
    with pytest.raises(KeyboardInterrupt):
        train(base_config("bp", epochs=3), out, dataset=toy, quiet=True, **kw)
    assert [r["epoch"] for r in _csv(out / "metrics.csv")] == ["1"]
    monkeypatch.setattr(loop._Run, "checkpoint", real)
    train(base_config("bp", epochs=3), out, dataset=toy, resume=True, quiet=True, **kw)


def test_csv_after_an_interrupted_and_resumed_run_has_each_epoch_once(tmp_path, toy, monkeypatch):
    _interrupt_after_writing_epoch_two(tmp_path / "run", toy, monkeypatch)
    assert [r["epoch"] for r in _csv(tmp_path / "run" / "metrics.csv")] == ["1", "2", "3"]


def test_write_csv_columns_are_the_union_in_order(tmp_path):
    path = tmp_path / "m.csv"
    write_csv([{"phase": "pretrain", "pretrain_epoch": 1, "fb": 0.5},
               {"phase": "train", "epoch": 1, "train_loss": 0.25}], path)  # fmt: skip
    assert path.read_text().splitlines() == [
        "phase,epoch,pretrain_epoch,fb,train_loss",
        "pretrain,,1,0.5,",
        "train,1,,,0.25",
    ]


def test_tensorboard_tags_group_losses_and_errors():
    assert tensorboard_tag("train_loss") == "loss/train"
    assert tensorboard_tag("val_error") == "error/val"
    assert tensorboard_tag("seconds") == "time/seconds_per_epoch"
    assert tensorboard_tag("angle_bp/layer1") == "angle_bp/layer1"
    assert tensorboard_tag("train_converged") == "train_converged"


def _scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@needs_tensorboard
def test_tensorboard_event_files_hold_every_metric(tmp_path, toy):
    out = tmp_path / "run"
    train(base_config("test-noisy", epochs=2, schedule=SCHEDULE), out, dataset=toy, quiet=True,
          tensorboard=True)  # fmt: skip
    scalars = _scalars(out / "tensorboard")
    recs = read_jsonl(out / "metrics.jsonl")
    assert [s for s, _ in scalars["loss/train"]] == [1, 2]
    assert [v for _, v in scalars["error/test"]] == pytest.approx(
        [r["test_error"] for r in recs if r["phase"] == "train"]
    )
    # pre-training epochs 1, 2 of 2 at steps -1, 0; the epochs after them
    assert [s for s, _ in scalars["fb_q_norm"]] == [-1, 0, 1, 2]


@needs_tensorboard
def test_tensorboard_after_resume_shows_each_step_once(tmp_path, toy, monkeypatch):
    _interrupt_after_writing_epoch_two(tmp_path / "run", toy, monkeypatch, tensorboard=True)
    assert [s for s, _ in _scalars(tmp_path / "run" / "tensorboard")["loss/train"]] == [1, 2, 3]


def test_tensorboard_requested_but_missing_is_a_clear_error(tmp_path, toy, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(TensorBoardUnavailableError, match=r"pip install \"neurosim\[tensorboard\]"):
        train(base_config("bp", epochs=1), tmp_path / "run", dataset=toy, tensorboard=True)
    assert not (tmp_path / "run").exists()  # refused before any work

    from neurosim.cli.main import main

    monkeypatch.setattr(loop, "load_for_config", lambda cfg: toy)
    argv = ["train", "--model", "bp", "--dataset", "mnist", "--epochs", "1",
            "--out", str(tmp_path / "cli"), "--tensorboard"]  # fmt: skip
    assert main(argv) == 2
    assert "'tensorboard' package is not installed" in capsys.readouterr().err
