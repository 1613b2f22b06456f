"""``--set`` overrides: parsing, typing as YAML, errors naming the key and the fix."""

from __future__ import annotations

import pytest
from training_helpers import toy_dataset

from neurosim.cli.main import main
from neurosim.training import ConfigError, load_config, loop
from neurosim.training.config import default_config
from neurosim.training.overrides import (
    apply_overrides,
    parse_assignment,
    parse_assignments,
    settable_keys,
)


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("params.lr=1e-4", "params.lr", 1e-4),  # YAML 1.2 float, as in the config files
        ("schedule.epochs_fb=5", "schedule.epochs_fb", 5),
        ("params.size_hidden=[256, 128]", "params.size_hidden", [256, 128]),
        ("subset=null", "subset", None),
        ("params.hidden_activation=tanh", "params.hidden_activation", "tanh"),
        ("diagnostics=true", "diagnostics", True),
        (" epochs = 3 ", "epochs", 3),
    ],
)
def test_values_are_typed_like_the_yaml_files(text, key, value):
    assert parse_assignment(text) == (key, value)


def test_overrides_reach_every_level_and_later_ones_win():
    cfg = default_config("dfc-ssa", "mnist")
    got = apply_overrides(
        cfg,
        parse_assignments(["params.lr=1e-4", "schedule.epochs_fb=5", "epochs=3",
                           "params.size_hidden=[8, 8]", "epochs=4"]),
    )  # fmt: skip
    assert got.params["lr"] == 1e-4 and got.params["size_hidden"] == [8, 8]
    assert got.schedule.epochs_fb == 5 and got.schedule.extra_fb_epochs == 2
    assert got.epochs == 4
    assert cfg.params["lr"] == 9.266e-05  # the base is not changed
    keys = settable_keys(cfg)
    assert {"epochs", "schedule.epochs_fb", "params.lr", "params.tmax_di_fb"} <= set(keys)


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["params.lrr=1"], "--set params.lrr: model 'dfc-ssa' has no parameter 'lrr'; "
                           "did you mean params.lr? its parameters are params.adam_beta1"),
        (["params.lr=abc"], "expected float (dfc-ssa parameter lr), got str"),
        (["epoch=3"], "--set epoch: unknown key; did you mean epochs? settable keys are model, "
                      "dataset, epochs"),
        (["schedule.epochs_fbb=1"], "did you mean schedule.epochs_fb?"),
        (["schedule.epochs_fb=1.5"], "expected int (Schedule.epochs_fb), got float"),
        (["params.size_hidden=[a]"], "expected tuple[int, ...]"),
        (["params=3"], "'params' is a section; set its entries one by one, e.g. params.lr=1e-4"),
        (["foo.bar=1"], "--set foo.bar: unknown key"),
        (["params.tmax_di=0"], "DFCConfig: params.tmax_di=0; expected a number > 0"),
        (["epochs=0"], "epochs must be an integer >= 1, got 0"),
        (["noequals"], "expected KEY=VALUE"),
        (["params.lr=[1"], "is not valid YAML"),
    ],
)  # fmt: skip
def test_bad_overrides_name_the_key_and_what_exists(assignments, message):
    cfg = default_config("dfc-ssa", "mnist")
    with pytest.raises(ConfigError) as info:
        apply_overrides(cfg, parse_assignments(assignments))
    assert message in str(info.value)


def test_train_cli_applies_set_and_saves_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(loop, "load_for_config", lambda cfg: toy_dataset(n_in=784, n_classes=10))
    out = tmp_path / "run"
    argv = ["train", "--model", "bp", "--dataset", "mnist", "--out", str(out), "--no-progress",
            "--set", "epochs=1", "--set", "params.size_hidden=[8]", "--set", "params.lr=2e-6",
            "--set", "batch_size=32"]  # fmt: skip
    assert main(argv) == 0
    saved = load_config(out / "config.yaml")
    assert saved.epochs == 1 and saved.batch_size == 32
    assert saved.params["size_hidden"] == [8] and saved.params["lr"] == 2e-6


def test_train_cli_bad_set_is_exit_2_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--model", "bp", "--dataset", "mnist", "--out", str(out), "--no-progress",
            "--set", "params.learning_rate=1e-3"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "model 'bp' has no parameter 'learning_rate'" in err and "params.lr" in err
    assert not out.exists()
