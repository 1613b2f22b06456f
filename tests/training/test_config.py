"""Run configs: schema validation, safe YAML, shipped baseline cells, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neurosim.models import registry
from neurosim.models.base import Task
from neurosim.training.config import (
    CONFIG_ROOT,
    ConfigError,
    RunConfig,
    available_configs,
    config_from_dict,
    default_config,
    load_config,
    safe_load,
)
from neurosim.training.tasks import TASKS

BASELINE_FILES = sorted(
    p for m in ("bp", "fa", "dfa") for p in CONFIG_ROOT.glob(f"*/{m}.yaml")
)  # fmt: skip


def test_every_baseline_cell_exists():
    for dataset in (name for name, spec in TASKS.items() if not spec.sequence):
        for model in ("bp", "fa", "dfa"):  # (sequence tasks have the recurrent rules' cells)
            assert (CONFIG_ROOT / dataset / f"{model}.yaml").is_file(), (dataset, model)


@pytest.mark.parametrize("path", BASELINE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_baseline_config_builds_its_model(path: Path):
    cfg = default_config(path.stem, path.parent.name)
    params = cfg.model_params()
    small = {**params, "size_hidden": [3] * len(params["size_hidden"])}
    model = registry.create(cfg.model, Task(TASKS[cfg.dataset].kind, 5, 2), small)
    assert model.name == cfg.model
    assert model.cfg.lr_eff == pytest.approx(params["lr"] / params["target_stepsize"])


def test_published_values():
    """DFC.md §2: lr_eff and eps of the MNIST BP/DFA cells; BP never clips, DFA clips."""
    bp = registry.create("bp", Task("classification", 4, 2), default_config("bp", "mnist").params)
    dfa_cfg = default_config("dfa", "mnist")
    dfa = registry.create("dfa", Task("classification", 4, 2), dfa_cfg.params)
    assert bp.cfg.lr_eff == pytest.approx(2.978e-4)
    assert bp.cfg.adam_epsilon == 5.77e-08 and bp.cfg.clip_grad_norm is None
    assert dfa.cfg.lr_eff == pytest.approx(2.63e-4) and dfa.cfg.clip_grad_norm == 1.0
    assert (bp.cfg.adam_beta1, bp.cfg.adam_beta2) == (0.99, 0.99)
    ae = default_config("bp", "mnist-autoencoder")
    assert ae.epochs == 25 and ae.model_params()["size_hidden"] == [256, 32, 256]
    st = default_config("fa", "student-teacher")
    assert st.params["optimizer"] == "sgd" and st.epochs == 300


def test_unknown_keys_name_the_allowed_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epoch'\]; allowed keys are"):
        config_from_dict({"model": "bp", "dataset": "mnist", "epoch": 3})
    with pytest.raises(ConfigError, match=r"schedule: unknown key\(s\) \['fb_epochs'\]"):
        config_from_dict({"model": "bp", "dataset": "mnist", "schedule": {"fb_epochs": 1}})
    with pytest.raises(ConfigError, match=r"missing required key\(s\) \['dataset'\]"):
        config_from_dict({"model": "bp"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dataset", "cifar", "unknown dataset 'cifar'"),
        ("dtype", "float16", "dtype 'float16' is not one of"),
        ("epochs", 0, "epochs must be an integer >= 1"),
        ("batch_size", 2.5, "batch_size must be an integer >= 1"),
        ("device", "tpu", "device 'tpu'"),
        ("subset", 0, "subset must be an integer >= 1"),
    ],
)
def test_bad_values(key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"model": "bp", "dataset": "mnist", key: value})


def test_yaml_is_safe_and_reads_yaml12_floats(tmp_path):
    assert safe_load("a: 1e-3\nb: -2E+5\nc: 7\nd: 1.5e-08") == {
        "a": 1e-3, "b": -2e5, "c": 7, "d": 1.5e-08,
    }  # fmt: skip
    bad = tmp_path / "evil.yaml"
    bad.write_text("model: !!python/object/apply:os.system ['true']\ndataset: mnist\n")
    with pytest.raises(ConfigError, match="not valid \\(safe\\) YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_missing_cell_lists_available_configs():
    with pytest.raises(ConfigError, match=r"no config for model 'bogus'.*configs exist for \["):
        default_config("bogus", "mnist")


def test_available_configs_are_model_names():
    names = available_configs("mnist")
    assert set(names) <= set(registry.available()) and "dfc-ssa" in names
    assert "dfc-ssa-demo" not in names  # a --config variant, not a model


def test_round_trip_and_overrides(tmp_path):
    cfg = default_config("dfa", "mnist").with_overrides(epochs=3, seed=None, dtype="float32")
    assert cfg.epochs == 3 and cfg.seed == 42 and cfg.dtype == "float32"
    cfg.save(tmp_path / "c.yaml")
    again = load_config(tmp_path / "c.yaml")
    assert again == cfg
    assert isinstance(again, RunConfig) and again.schedule.epochs_fb == 0
    assert getattr(torch, again.dtype) is torch.float32
