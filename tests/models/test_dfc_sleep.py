"""The feedback sleep phase (DFC eq. 12–13, App. E.2) and the simulated variants."""

from __future__ import annotations

import pytest
import torch

from neurosim.models import diagnostics as diag
from neurosim.models import registry
from neurosim.models.base import Task
from neurosim.models.dfc.network import feedforward, full_jacobian

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


SLEEP = {
    "size_hidden": [6, 5],
    "hidden_activation": "linear",
    "sigma": 0.1,
    "lr_fb_init": 2e-2,
    "alpha_fb": 0.5,
    "k_p_fb": 0.1,
    "dt_di_fb": 0.005,
    "tmax_di_fb": 40,
    "time_constant_ratio_fb": 0.01,
    "apical_time_constant_fb": 0.3,
    "feedback_wd": 0.0,
    "epsilon_fb": 1e-8,
}


def _condition_two(m, x):
    W, b, Q = m._tensors()
    vs, _ = feedforward(x, W, b, m.cfg.activations)
    return diag.condition_two(full_jacobian(vs, W, m.cfg.activations), torch.cat(Q))


def test_sleep_phase_moves_Q_toward_condition_two():
    """Theorem 6: in a linear network the sleep phase drives Q into the column space
    of J^T, so ||P_J Q||_F / ||Q||_F grows toward 1."""
    m = registry.create("dfc-ssa", Task("regression", 7, 3), SLEEP, seed=2)
    x = torch.randn(64, 7, generator=torch.Generator().manual_seed(0), dtype=DT)
    before = _condition_two(m, x)
    W0 = [w.data.clone() for w in m.weights]
    for _ in range(20):
        m.train_batch(x, None, "feedback")
    after = _condition_two(m, x)
    assert after > before + 0.15, (before, after)
    for w, w0 in zip(m.weights, W0, strict=True):  # the sleep phase leaves W alone
        assert torch.equal(w.data, w0)


def test_pretraining_uses_lr_fb_init_then_lr_fb():
    m = registry.create("dfc-ssa", Task("regression", 7, 3), {**SLEEP, "lr_fb": 1e-3}, seed=2)
    x = torch.randn(8, 7, dtype=DT)
    y = torch.randn(8, 3, dtype=DT)
    opt_init, opt = m.optimizers()["feedback_init"], m.optimizers()["feedback"]
    m.train_batch(x, None, "feedback")
    assert len(opt_init.state) > 0 and len(opt.state) == 0
    m.train_batch(x, y, "forward")
    m.train_batch(x, None, "feedback")
    assert len(opt.state) > 0


def test_freeze_output_feedback_keeps_Q_L():
    m = registry.create(
        "dfc-ssa", Task("regression", 7, 3), {**SLEEP, "freeze_fb_weights_output": True}
    )
    x = torch.randn(8, 7, dtype=DT)
    Q_L, Q_1 = m.feedback[-1].data.clone(), m.feedback[0].data.clone()
    m.train_batch(x, None, "feedback")
    assert torch.equal(m.feedback[-1].data, Q_L)
    assert not torch.equal(m.feedback[0].data, Q_1)


def test_sleep_every_skips_batches():
    m = registry.create("dfc-ssa", Task("regression", 7, 3), {**SLEEP, "sleep_every": 3})
    x = torch.randn(8, 7, dtype=DT)
    ran = [bool(m.train_batch(x, None, "feedback")) for _ in range(6)]
    assert ran == [True, False, False, True, False, False]


@pytest.mark.parametrize("name", ["dfc", "dfc-ss", "dfc-fixed", "dfc-ss-fixed"])
def test_simulated_models_lower_the_loss(name):
    params = {
        "size_hidden": [8, 8],
        "tmax_di": 150,
        "dt_di": 0.02,
        "alpha_di": 0.05,
        "lr": 0.02 * 0.5,
        "target_stepsize": 0.5,
        "include_non_converged_samples": True,
        **{k: v for k, v in SLEEP.items() if k not in ("size_hidden", "hidden_activation")},
    }
    m = registry.create(name, Task("classification", 7, 3), params, seed=1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 7, generator=g, dtype=DT)
    y = torch.randint(0, 3, (32,), generator=g)
    before = m.evaluate(x, y)["loss"]
    for _ in range(8):
        if m.has_feedback_phase:
            m.train_batch(x, None, "feedback")
        m.train_batch(x, y, "forward")
    assert m.evaluate(x, y)["loss"] < before - 0.02


def test_noise_free_sleep_phase_runs_with_a_zero_control():
    """Without noise the sleep phase sits at its operating point: the control's
    deviation is identically 0 (the deviation rewrite folds its ops away), yet ``ctrl.u``
    stays declared, so the phase reads it as zeros and the feedback update is 0."""
    quiet = {**SLEEP, "sigma": 0.0, "sigma_fb": 0.0, "sigma_output_fb": 0.0}
    m = registry.create("dfc-ssa", Task("regression", 7, 3), quiet, seed=2)
    x = torch.randn(8, 7, generator=torch.Generator().manual_seed(0), dtype=DT)
    Q0 = [q.data.clone() for q in m.feedback]
    stats = m.train_batch(x, None, "feedback")
    assert stats["fb_u_rms"] == 0.0
    for q, q0 in zip(m.feedback, Q0, strict=True):
        assert torch.allclose(q.data, q0, rtol=0, atol=1e-12)
