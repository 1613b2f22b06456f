"""DFCModel behaviour that needs no simulator (DFC-SSA path, optimisers, state)."""

from __future__ import annotations

import pytest
import torch

from neurosim.models import registry
from neurosim.models.base import Task

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = {"size_hidden": [12, 12], "lr": 0.01 * 0.1, "target_stepsize": 0.1}


def _data(n=48, n_in=10, n_out=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=g, dtype=DT)
    y = torch.randint(0, n_out, (n,), generator=g)
    return x, y


@pytest.mark.parametrize("name", ["dfc-ssa", "dfc-ssa-fixed"])
def test_ssa_models_lower_the_loss(name):
    x, y = _data()
    m = registry.create(name, Task("classification", 10, 4), SMALL, seed=1)
    before = m.evaluate(x, y)["loss"]
    for _ in range(30):
        m.train_batch(x, y, "forward")
    assert m.evaluate(x, y)["loss"] < before - 0.05


def test_fixed_model_uses_weight_product_and_has_no_feedback_phase():
    m = registry.create("dfc-ssa-fixed", Task("classification", 10, 4), SMALL)
    W = [w.data for w in m.weights]
    torch.testing.assert_close(m.feedback[0].data, W[1].t() @ W[2].t())
    torch.testing.assert_close(m.feedback[-1].data, torch.eye(4, dtype=DT))
    assert not m.has_feedback_phase and set(m.optimizers()) == {"forward"}
    x, y = _data()
    assert m.train_batch(x, y, "feedback") == {}


def test_forward_optimizer_is_adam_with_published_settings():
    m = registry.create("dfc-ssa", Task("classification", 10, 4), SMALL)
    opt = m.optimizers()["forward"]
    assert isinstance(opt, torch.optim.Adam)
    group = opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.01) and group["betas"] == (0.99, 0.99)
    assert set(m.optimizers()) == {"forward", "feedback_init", "feedback"}


def test_freeze_output_feedback_excludes_Q_L_from_training():
    m = registry.create(
        "dfc-ssa", Task("classification", 10, 4), {**SMALL, "freeze_fb_weights_output": True}
    )
    trained = m.optimizers()["feedback"].param_groups[0]["params"]
    assert len(trained) == 2 and all(p is not m.feedback[-1] for p in trained)


def test_state_dict_roundtrip_restores_weights_and_counter():
    x, y = _data()
    m = registry.create("dfc-ssa", Task("classification", 10, 4), SMALL, seed=3)
    m.train_batch(x, y, "forward")
    m2 = registry.create("dfc-ssa", Task("classification", 10, 4), SMALL, seed=4)
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m2(x), m(x))
    assert int(m2.forward_batches) == 1


def test_seed_determines_initialisation():
    a = registry.create("dfc-ssa", Task("classification", 10, 4), SMALL, seed=5)
    b = registry.create("dfc-ssa", Task("classification", 10, 4), SMALL, seed=5)
    c = registry.create("dfc-ssa", Task("classification", 10, 4), SMALL, seed=6)
    torch.testing.assert_close(a.weights[0].data, b.weights[0].data)
    assert not torch.equal(a.weights[0].data, c.weights[0].data)


def test_regression_task_and_diagnostics_keys():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 10, generator=g, dtype=DT)
    y = torch.randn(16, 4, generator=g, dtype=DT)
    m = registry.create("dfc-ssa-fixed", Task("regression", 10, 4), SMALL)
    before = m.evaluate(x, y)["loss"]
    for _ in range(30):
        m.train_batch(x, y, "forward")
    assert m.evaluate(x, y)["loss"] < before
    d = m.diagnostics(x, y)
    for key in (
        "condition_1",
        "condition_2",
        "max_eig_real",
        "angle_bp/layer1",
        "angle_gn/layer3",
        "angle_min_norm/layer2",
        "angle_ssa/layer1",
    ):
        assert key in d
    assert d["angle_ssa/layer1"] == pytest.approx(0.0, abs=1e-5)
    assert d["condition_2"] > 0.5  # weight product is close to J^T


def test_bad_phase_names_the_choices():
    m = registry.create("dfc-ssa", Task("classification", 10, 4), SMALL)
    x, y = _data()
    with pytest.raises(ValueError, match="'forward' or 'feedback'"):
        m.train_batch(x, y, "sleep")
