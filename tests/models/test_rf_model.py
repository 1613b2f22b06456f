"""Deep pseudoinverse feedback (rf, rf-exact): the update against its closed form, the
noise-driven feedback learning, configs and diagnostics."""

from __future__ import annotations

import pytest
import torch

from neurosim.models import registry
from neurosim.models.base import Task
from neurosim.models.rf import RFConfig, RFExactConfig, chain_product, ridge_inverse

pytestmark = pytest.mark.usefixtures("one_thread")

LINEAR = {"size_hidden": [12, 8, 5], "hidden_activation": "linear", "optimizer": "sgd",
          "lr": 1e-2, "normalize_lr": False}  # fmt: skip


def _data(n_in: int, n_out: int, batch: int = 16, kind: str = "regression"):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(batch, n_in, generator=g, dtype=torch.float64)
    if kind == "regression":
        return x, torch.randn(batch, n_out, generator=g, dtype=torch.float64)
    return x, torch.randint(0, n_out, (batch,), generator=g)


def test_rf_exact_on_a_linear_net_is_the_pinv_chain_update():
    """δW_l = -(W_{l+1}⁺ ⋯ W_L⁺) e h_{l-1}ᵀ (recirculation_pinv.md §2.3, descent sign),
    computed directly, and its Gauss-Newton property: the layer-l change δ_l = P_l e moves
    the (linear) output by exactly e, J_l P_l = I (contracting, full row rank)."""
    task = Task("regression", 20, 3)
    model = registry.create("rf-exact", task, LINEAR, seed=1)
    x, y = _data(20, 3)
    grads, _ = model.gradients(x, y)
    Ws = [W.detach() for W in model.weights]
    hs = [x]
    for W, b in zip(Ws, model.biases, strict=True):
        hs.append(hs[-1] @ W.T + b.detach())
    e = 2.0 * (hs[-1] - y) / y.numel()  # dL/dh_L of the batch-mean MSE
    L = len(Ws)
    for l in range(1, L + 1):  # noqa: E741
        P = torch.eye(3, dtype=x.dtype)
        for W in reversed(Ws[l:]):  # B_{l+1} B_{l+2} ⋯ B_L, built from the right
            P = torch.linalg.pinv(W) @ P
        delta = e @ P.T  # (batch, n_l)
        gW, gb = grads[l - 1]
        torch.testing.assert_close(gW, delta.T @ hs[l - 1], rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(gb, delta.sum(0), rtol=1e-10, atol=1e-13)
        if l < L:  # Gauss-Newton-like: the change of h_l maps back onto the error exactly
            J = chain_product(Ws[l:])
            torch.testing.assert_close(delta @ J.T, e, rtol=1e-10, atol=1e-13)
    # and it is not BP: the angle to the gradient is large below the output layer
    angles = model.diagnostics(x, y)
    assert angles["angle_bp/layer4"] == pytest.approx(0.0, abs=1e-6)
    assert angles["angle_bp/layer1"] > 10


def test_rf_with_exact_feedback_equals_rf_exact_and_damping_is_ridge():
    task = Task("classification", 20, 3)
    params = {"size_hidden": [12, 8, 5]}
    rf = registry.create("rf", task, params, seed=2)
    exact = registry.create("rf-exact", task, params, seed=2)
    for W_rf, W_ex in zip(rf.weights, exact.weights, strict=True):
        assert torch.equal(W_rf, W_ex)  # same seed, same initial weights (and as FA's)
    for B, W in zip(rf.feedback, rf.weights[1:], strict=True):
        B.copy_(torch.linalg.pinv(W.detach()))
    x, y = _data(20, 3, kind="classification")
    for (a, b), (c, d) in zip(rf.gradients(x, y)[0], exact.gradients(x, y)[0], strict=True):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(b, d, rtol=1e-10, atol=1e-14)
    W = rf.weights[1].detach()
    ridge = torch.linalg.solve(W.T @ W + 0.3 * torch.eye(12, dtype=W.dtype), W.T)
    torch.testing.assert_close(ridge_inverse(W, 0.3), ridge, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(ridge_inverse(W.T), torch.linalg.pinv(W.T), rtol=1e-9, atol=1e-12)


def test_noise_driven_feedback_learns_the_pseudoinverses():
    """Feedback passes alone (white noise, C2) take B_l from 0 to pinv(W_l)."""
    task = Task("classification", 20, 3)
    params = {"size_hidden": [12, 8, 5], "lr_feedback": 0.1, "noise_batch": 64,
              "feedback_steps": 50}  # fmt: skip
    model = registry.create("rf", task, params, seed=3)
    assert all(torch.count_nonzero(B) == 0 for B in model.feedback)  # B_0 = 0
    x, y = _data(20, 3, kind="classification")
    W0 = [W.detach().clone() for W in model.weights]
    for _ in range(30):
        assert model.train_batch(x, y, "feedback") == {}
    assert all(torch.equal(a, b) for a, b in zip(W0, model.weights, strict=True))
    diag = model.penrose()
    assert sorted(diag) == sorted(
        f"{k}/layer{l}"
        for l in (2, 3, 4)  # noqa: E741
        for k in ("penrose_r1", "penrose_r2", "penrose_r3", "penrose_r4", "pinv_dist")
    )
    for l in (2, 3, 4):  # noqa: E741
        assert diag[f"penrose_r1/layer{l}"] < 1e-6
        assert diag[f"pinv_dist/layer{l}"] < 0.15
    metrics = model.train_batch(x, y, "forward")  # tracks, then updates W
    assert "loss" in metrics and not torch.equal(W0[0], model.weights[0])
    out = model.diagnostics(x, y)
    assert {"angle_bp/layer1", "angle_pinv/layer1", "pinv_dist/layer4"} <= set(out)
    assert out["angle_pinv/layer1"] < 30  # the learned feedback is close to the oracle's
    assert out["angle_pinv/layer4"] == pytest.approx(0.0, abs=1e-6)  # output layer: e itself
    with pytest.raises(ValueError, match="phase must be"):
        model.train_batch(x, y, "sleep")


@pytest.mark.parametrize(
    ("cls", "params", "words"),
    [
        (RFConfig, {"lr_feedback": 0.0}, ["RFConfig", "lr_feedback", "> 0", "0.0"]),
        (RFConfig, {"noise_sigma": -1}, ["noise_sigma", "-1"]),
        (RFConfig, {"noise_batch": 0}, ["noise_batch", ">= 1"]),
        (RFConfig, {"track_steps": 1.5}, ["track_steps", "1.5"]),
        (RFConfig, {"feedback_steps": 0, "track_steps": 0}, ["never be learned"]),
        (RFConfig, {"damping": 0.1}, ["unknown parameter", "damping"]),
        (RFExactConfig, {"damping": -0.1}, ["RFExactConfig", "damping", ">= 0"]),
        (RFExactConfig, {"lr_feedback": 0.1}, ["unknown parameter", "lr_feedback"]),
    ],
)
def test_config_errors_name_the_key(cls, params, words):
    with pytest.raises(ValueError) as info:
        cls.from_params(params)
    for word in words:
        assert word in str(info.value)


def test_registered_with_the_shipped_configs():
    from neurosim.training import default_config
    from neurosim.training.config import available_configs

    for dataset in ("mnist", "fashion-mnist"):
        assert {"rf", "rf-exact"} <= set(available_configs(dataset))
        for name in ("rf", "rf-exact"):
            cfg = default_config(name, dataset)
            small = {**cfg.model_params(), "size_hidden": [6, 5, 4, 3]}
            model = registry.create(name, Task("classification", 8, 2), small)
            assert model.name == name and model.depth == 5
        assert default_config("rf", dataset).schedule.epochs_fb == 1
