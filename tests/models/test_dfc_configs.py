"""Every shipped DFC config loads and builds its model (DFC.md §2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neurosim.models import registry
from neurosim.models.base import Task
from neurosim.models.dfc.config import DFCConfig

ROOT = Path(__file__).resolve().parents[2] / "models" / "configs"
FILES = sorted(ROOT.glob("*/dfc*.yaml"))


def test_every_dfc_cell_has_a_config():
    datasets = ["mnist", "fashion-mnist", "mnist-autoencoder", "mnist-train", "student-teacher"]
    models = ["dfc", "dfc-ss", "dfc-ssa", "dfc-fixed", "dfc-ss-fixed", "dfc-ssa-fixed"]
    for d in datasets:
        for m in models:
            assert (ROOT / d / f"{m}.yaml").is_file(), f"missing {d}/{m}.yaml"


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_config_builds_model(path):
    training = pytest.importorskip("neurosim.training.config")
    cfg = training.load_config(path)
    params = cfg.model_params()
    DFCConfig.from_params(params)
    spec_kind = (
        "regression"
        if path.parent.name in ("mnist-autoencoder", "student-teacher")
        else "classification"
    )
    small = {**params, "size_hidden": [4] * len(params["size_hidden"])}
    model = registry.create(cfg.model, Task(spec_kind, 6, 3), small, dtype=torch.float64)
    assert model.name == cfg.model
    assert model.has_feedback_phase == (not cfg.model.endswith("-fixed"))


def test_mnist_values_verbatim():
    training = pytest.importorskip("neurosim.training.config")
    cfg = DFCConfig.from_params(training.load_config(ROOT / "mnist" / "dfc.yaml").model_params())
    assert cfg.lr_forward == pytest.approx(1.189e-3, rel=1e-3)
    assert (cfg.alpha_di, cfg.k_p, cfg.dt_di, cfg.tmax_di) == (1.389e-3, 2.0, 0.02, 1000)
    assert (cfg.alpha_fb, cfg.tmax_di_fb, cfg.tau_A_fb) == (0.6134, 48, 0.3247)
    assert cfg.fb_scale == pytest.approx(1e4)
