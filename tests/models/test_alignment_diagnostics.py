"""The shared alignment diagnostics: key names, Kunin et al.'s metrics as their code
defines them (kernels in the code's [n_in, n_out] convention), and every baseline."""

from __future__ import annotations

import math

import pytest
import torch

from neurosim.models import alignment_diagnostics as ad
from neurosim.models import registry
from neurosim.models.base import Task

DT = torch.float64
TASK = Task("classification", 6, 4)
SMALL = {"size_hidden": [7, 5], "lr": 1e-5, "target_stepsize": 0.01}


def _deg(a, b):
    a, b = a.flatten(), b.flatten()
    return math.degrees(math.acos(float(a @ b / (a.norm() * b.norm()))))


def _data(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, TASK.n_in, generator=g, dtype=DT), torch.randint(0, 4, (n,), generator=g)


def test_kunin_metrics_as_their_code_defines_them():
    """Their dense layer computes y = x W_c (W_c [n_in, n_out]) and sends dx = dy B_c back
    (B_c [n_out, n_in]); weight_angle = angle(W_c, B_c^T), projection_angle =
    angle(x W_c, x B_c^T), gradient_angle = angle(dx, dy W_c^T)."""
    g = torch.Generator().manual_seed(1)
    W = torch.randn(5, 8, generator=g, dtype=DT)  # ours: (n_out, n_in)
    B = torch.randn(8, 5, generator=g, dtype=DT)  # ours: (n_in, n_out)
    x = torch.randn(16, 8, generator=g, dtype=DT)
    dy = torch.randn(16, 5, generator=g, dtype=DT)
    W_c, B_c = W.T, B.T
    out = ad.backward_weight_metrics([W], [B], [x], [dy])
    assert out["angle_B_WT/layer2"] == pytest.approx(_deg(W_c, B_c.T))
    assert out["angle_projection/layer2"] == pytest.approx(_deg(x @ W_c, x @ B_c.T))
    assert out["angle_local_grad/layer2"] == pytest.approx(_deg(dy @ B_c, dy @ W_c.T))
    assert out["norm_ratio_B_W/layer2"] == pytest.approx(float(B.norm() / W.norm()))
    assert 30 < out["angle_B_WT/layer2"] < 150  # random matrices: not a degenerate case
    with pytest.raises(ValueError, match=r"layer 2 has shape \(5, 8\), expected W\^T's \(8, 5\)"):
        ad.backward_weight_metrics([W], [W], [x], [dy])


def test_angle_bp_keys_and_degenerate_angle():
    upd = [(torch.ones(2, 2, dtype=DT), torch.ones(2, dtype=DT))]
    assert ad.update_angles(upd, [(-u, -v) for u, v in upd]) == {
        "angle_bp/layer1": pytest.approx(180.0)
    }
    assert math.isnan(ad.angle(torch.zeros(3), torch.ones(3)))


@pytest.mark.parametrize("name", ["bp", "fa", "wm", "ia", "sa", "aa", "kp", "sign-sym", "dfa"])
def test_every_baseline_reports_the_shared_keys(name):
    model = registry.create(name, TASK, SMALL, seed=0)
    x, y = _data()
    out = model.diagnostics(x, y)
    L = model.depth
    assert {f"angle_bp/layer{i}" for i in range(1, L + 1)} <= set(out)
    backward_keys = {f"{k}/layer{i}" for k in ad.KEYS[1:] for i in range(2, L + 1)}
    if name == "dfa":  # direct feedback: no layer-wise backward matrix
        assert not backward_keys & set(out)
        return
    assert backward_keys <= set(out)
    for i, (W, B) in enumerate(zip(model.weights[1:], model.backward_matrices(), strict=True), 2):
        assert out[f"angle_B_WT/layer{i}"] == pytest.approx(_deg(B, W.detach().T), abs=1e-6)
    if name == "bp":
        assert all(out[k] == pytest.approx(0.0, abs=1e-5) for k in out if k.startswith("angle"))
        assert all(out[k] == pytest.approx(1.0) for k in out if k.startswith("norm_ratio"))
    else:  # random or sign feedback at initialisation: clearly not BP
        assert out["angle_B_WT/layer2"] > 20.0
        assert out["angle_bp/layer1"] > 10.0


def test_diagnostics_do_not_change_the_model():
    model = registry.create("wm", TASK, SMALL, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.diagnostics(*_data())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pseudoinverse_feedback_reports_the_shared_keys():
    """Deep RF's oracle (issue 13) has layer-wise backward matrices B_l = W_l^+: it
    reports the same keys as every other rule, next to its Penrose residuals."""
    model = registry.create("rf-exact", TASK, SMALL, seed=0)
    out = model.diagnostics(*_data())
    keys = {f"{k}/layer{i}" for k in ad.KEYS[1:] for i in range(2, model.depth + 1)}
    assert keys <= set(out) and "pinv_dist/layer2" in out
    for i, W in enumerate(model.weights[1:], 2):
        W = W.detach()
        pinv = torch.linalg.pinv(W)
        assert out[f"angle_B_WT/layer{i}"] == pytest.approx(_deg(pinv, W.T), abs=1e-4)
        ratio = float(pinv.norm() / W.norm())
        assert out[f"norm_ratio_B_W/layer{i}"] == pytest.approx(ratio, rel=1e-4)
