"""Sweep specs: validation before any trial (no Ray needed) and the CLI's errors."""

from __future__ import annotations

import sys

import pytest
import yaml

from neurosim.cli.main import main
from neurosim.scale.sweep_spec import load_spec, reported_metrics, resolve_objective, spec_from_dict
from neurosim.training import ConfigError
from neurosim.training.config import default_config


def spec(**over):
    data = {
        "name": "t",
        "base": {"model": "bp", "dataset": "student-teacher", "set": {"epochs": 2}},
        "space": {"params.lr": {"type": "loguniform", "low": 0.01, "high": 0.1}},
        "trials": 2,
    }
    data.update(over)
    return data


def test_a_valid_spec_resolves_objective_and_dimensions():
    s = spec_from_dict(
        spec(
            space={
                "params.lr": {"type": "loguniform", "low": 1e-3, "high": 1e-1},
                "params.adam_epsilon": {"type": "uniform", "low": 1e-8, "high": 1e-6},
                "params.size_hidden": {"type": "choice", "values": [[4], [8, 8]]},
                "schedule.extra_fb_epochs": {"type": "int", "low": 0, "high": 2},
                "batch_size": {"type": "int", "low": 8, "high": 64, "log": True},
            },
            search={"algorithm": "random", "seed": 3},
            early_stopping={"type": "median", "grace_period": 1},
        )
    )
    assert s.objective == "test_loss"  # student-teacher reports test loss (no validation)
    assert s.algorithm == "random" and s.seed == 3 and s.early_stopping.kind == "median"
    dims = {d.key: d for d in s.space}
    assert dims["params.size_hidden"].encoded  # lists travel as YAML text through Optuna
    assert dims["params.size_hidden"].decode("[8, 8]") == [8, 8]
    assert dims["batch_size"].is_log and not dims["params.adam_epsilon"].is_log
    assert s.base_config().epochs == 2


@pytest.mark.parametrize(
    ("dataset", "val_size", "objective"),
    [("mnist", 5000, "val_error"), ("mnist", 0, "test_error"), ("mnist-train", 5000, "train_loss"),
     ("mnist-autoencoder", 5000, "test_loss"), ("student-teacher", 0, "test_loss")],
)  # fmt: skip
def test_auto_objective_follows_the_task_metric(dataset, val_size, objective):
    cfg = default_config("bp", dataset).with_overrides(val_size=val_size)
    assert resolve_objective("auto", cfg) == objective
    assert objective in reported_metrics(cfg)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"space": {"params.lrr": {"type": "uniform", "low": 0, "high": 1}}},
         "space.params.lrr params.lrr: model 'bp' has no parameter 'lrr'; did you mean params.lr?"),
        ({"space": {"params.lr": {"type": "uniform", "low": 0.2, "high": 0.1}}},
         "low (0.2) is greater than high (0.1)"),
        ({"space": {"params.lr": {"type": "loguniform", "low": 0.0, "high": 0.1}}},
         "a log-scaled range needs low > 0"),
        ({"space": {"schedule.epochs_fb": {"type": "uniform", "low": 0, "high": 3}}},
         "expected int (Schedule.epochs_fb), got float"),
        ({"space": {"params.lr": {"type": "normal", "low": 0, "high": 1}}},
         "'normal' is not one of ['uniform', 'loguniform', 'int', 'choice']"),
        ({"objective": "val_error"},
         "objective 'val_error' is not reported by bp on student-teacher (val_size=0); "
         "it reports ['train_loss', 'test_loss']"),
        ({"trails": 3}, "unknown key(s) ['trails']"),
        ({"search": {"algorithm": "grid"}}, "'grid' is not one of ['tpe', 'random']"),
        ({"space": {}}, "space is empty"),
        ({"base": {"model": "bp", "dataset": "student-teacher", "set": {"threads": 2}}},
         "trials are pinned to resources.cpus_per_trial threads"),
    ],
)  # fmt: skip
def test_bad_specs_are_clear_errors(over, message):
    with pytest.raises(ConfigError) as info:
        spec_from_dict(spec(**over))
    assert message in str(info.value)


def test_cli_rejects_a_bad_spec_before_any_trial(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(spec(space={"params.lr": {"type": "uniform", "low": 1, "high": 0}}))
    )
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert "low (1.0) is greater than high (0.0)" in capsys.readouterr().err
    assert not out.exists()


def test_without_ray_the_commands_say_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec()))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "pip install 'neurosim[sweep]'" in capsys.readouterr().err
    argv = ["compare", "--models", "bp", "--dataset", "student-teacher", "--seeds", "2"]
    assert main([*argv, "--out", str(tmp_path / "c")]) == 2
    assert "neurosim compare needs Ray Tune" in capsys.readouterr().err


def test_shipped_specs_are_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples" / "sweeps"
    files = sorted(root.glob("*.yaml"))
    assert {f.stem for f in files} >= {"dfc_ssa_small", "mnist_dfc-ssa", "mnist_bp", "mnist_dfa"}
    for f in files:
        s = load_spec(f)
        assert s.trials >= 1 and s.space
