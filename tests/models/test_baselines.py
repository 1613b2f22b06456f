"""BP, FA and DFA baselines: update machinery, equivalences, hand-computed DFA rule."""

from __future__ import annotations

import pytest
import torch

from neurosim.models import registry
from neurosim.models.activations import phi_prime
from neurosim.models.base import Task
from neurosim.models.baselines import BaselineConfig, DFAModel, FAModel
from neurosim.testing import assert_allclose

SMALL = {"size_hidden": [7, 5], "lr": 1e-5, "target_stepsize": 0.01}


def _data(task: Task, n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, task.n_in, generator=g, dtype=torch.float64)
    if task.kind == "classification":
        return x, torch.randint(0, task.n_out, (n,), generator=g)
    return x, torch.randn(n, task.n_out, generator=g, dtype=torch.float64)


def _autograd_grads(model, x, y):
    model.zero_grad(set_to_none=True)
    loss = model.task.loss(model(x), y)
    loss.backward()
    grads = [
        (W.grad.clone(), b.grad.clone()) for W, b in zip(model.weights, model.biases, strict=True)
    ]
    model.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_bp_step_applies_exactly_the_autograd_gradient(kind):
    """One train_batch == one SGD step on loss.backward()'s gradient."""
    task = Task(kind, 6, 3)
    params = {**SMALL, "optimizer": "sgd", "lr": 0.1, "target_stepsize": 1.0}
    model = registry.create("bp", task, params, seed=3)
    x, y = _data(task)
    expected = [
        (W.detach() - 0.1 * gW, b.detach() - 0.1 * gb)
        for (gW, gb), W, b in zip(
            _autograd_grads(model, x, y), model.weights, model.biases, strict=True
        )
    ]
    model.train_batch(x, y, "forward")
    for (eW, eb), W, b in zip(expected, model.weights, model.biases, strict=True):
        assert_allclose(W, eW)
        assert_allclose(b, eb)


def test_bp_adam_step_matches_torch_adam_on_autograd():
    """The Adam path (lr_eff = lr/lambda, betas 0.99, eps) equals torch's Adam driven by
    loss.backward() on a copy of the network."""
    task = Task("classification", 6, 3)
    model = registry.create("bp", task, SMALL, seed=1)
    twin = registry.create("bp", task, SMALL, seed=1)
    opt = torch.optim.Adam(
        [*twin.weights, *twin.biases], lr=1e-3, betas=(0.99, 0.99), eps=model.cfg.adam_epsilon
    )
    for step in range(3):
        x, y = _data(task, seed=step)
        model.train_batch(x, y, "forward")
        opt.zero_grad()
        task.loss(twin(x), y).backward()
        opt.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert_allclose(a, b, rtol_scale=10)


def test_fa_with_transposed_weights_equals_bp():
    task = Task("classification", 6, 4)
    model = registry.create("fa", task, SMALL, seed=2)
    assert isinstance(model, FAModel)
    for i, B in enumerate(model.feedback, start=1):
        B.copy_(model.weights[i].detach().T)
    x, y = _data(task)
    grads, _ = model.gradients(x, y)
    for (gW, gb), (aW, ab) in zip(grads, _autograd_grads(model, x, y), strict=True):
        assert_allclose(gW, aW, rtol_scale=10)
        assert_allclose(gb, ab, rtol_scale=10)


def test_fa_random_feedback_differs_from_bp_and_is_frozen():
    task = Task("classification", 6, 4)
    model = registry.create("fa", task, SMALL, seed=2)
    x, y = _data(task)
    gW1 = model.gradients(x, y)[0][0][0]
    aW1 = _autograd_grads(model, x, y)[0][0]
    assert not torch.allclose(gW1, aW1)
    assert all(not p.requires_grad for p in model.feedback)
    assert set(model.state_dict()) >= {"B1", "B2"}


def test_dfa_update_matches_hand_computed_formula():
    """DFC.md §1.7 on a 3-2-2 net with MSE: targets r_i* = r_i - lambda B_i dL/dr_L,
    grad W_i = (2/B) (phi'(v_i) * (r_i - r_i*))^T r_{i-1}, grad b_i = 2 mean(...)."""
    task = Task("regression", 3, 2)
    lam = 0.3
    model = registry.create(
        "dfa", task, {"size_hidden": [2], "lr": 1e-3, "target_stepsize": lam}, seed=0
    )
    assert isinstance(model, DFAModel)
    with torch.no_grad():
        model.weights[0].copy_(torch.tensor([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]]))
        model.biases[0].copy_(torch.tensor([0.1, -0.1]))
        model.weights[1].copy_(torch.tensor([[1.0, -0.5], [0.2, 0.7]]))
        model.biases[1].copy_(torch.tensor([0.0, 0.05]))
        model.B1.copy_(torch.tensor([[0.9, -0.3], [0.4, 0.8]]))
    x = torch.tensor([[1.0, 0.5, -1.0], [-0.5, 2.0, 0.3]], dtype=torch.float64)
    y = torch.tensor([[0.2, -0.4], [1.0, 0.0]], dtype=torch.float64)
    n = 2
    # hand computation
    v1 = x @ model.weights[0].T.detach() + model.biases[0].detach()
    r1 = torch.tanh(v1)
    r2 = r1 @ model.weights[1].T.detach() + model.biases[1].detach()
    dL = 2 * (r2 - y) / y.numel()  # d mean((r2-y)^2) / d r2
    r2_star = r2 - lam * dL
    r1_star = r1 - lam * dL @ model.B1.T
    t1 = 2 * (1 - torch.tanh(v1) ** 2) * (r1 - r1_star)
    t2 = 2 * (r2 - r2_star)
    expected = [(t1.T @ x / n, t1.mean(0)), (t2.T @ r1 / n, t2.mean(0))]
    grads, _ = model.gradients(x, y)
    for (gW, gb), (eW, eb) in zip(grads, expected, strict=True):
        assert_allclose(gW, eW)
        assert_allclose(gb, eb)
    # the output layer's update is the true gradient up to the factor 2 lambda / B
    (_, _), (aW2, ab2) = _autograd_grads(model, x, y)
    assert_allclose(grads[1][0], 2 * lam / n * aW2)


def test_dfa_clips_each_tensor_to_norm_one():
    task = Task("classification", 6, 3)
    model = registry.create(
        "dfa", task, {**SMALL, "optimizer": "sgd", "lr": 1.0, "target_stepsize": 1.0}, seed=0
    )
    assert model.cfg.clip_grad_norm == 1.0
    big = [
        (torch.full_like(W, 10.0), torch.full_like(b, 10.0))
        for W, b in zip(model.weights, model.biases, strict=True)
    ]
    before = [p.detach().clone() for p in model.parameters()]
    model.apply_gradients(big)
    for p0, p in zip(before, model.parameters(), strict=True):
        assert float(torch.linalg.vector_norm(p0 - p.detach())) == pytest.approx(
            1.0, rel=1e-6
        )  # torch adds 1e-6 to the norm


def test_phi_prime_matches_autograd():
    v = torch.linspace(-2, 2, 9, dtype=torch.float64, requires_grad=True)
    for fn, f in (
        ("tanh", torch.tanh),
        ("logistic", torch.sigmoid),
        ("softplus", torch.nn.functional.softplus),
        ("linear", lambda t: t),
    ):
        (g,) = torch.autograd.grad(f(v).sum(), v)
        assert_allclose(phi_prime(v.detach(), fn), g)


@pytest.mark.parametrize("name", ["bp", "fa", "dfa"])
@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_baseline_lowers_the_loss(name, kind):
    task = Task(kind, 8, 3)
    x, y = _data(task, n=32, seed=5)
    lr_eff = 3e-2
    model = registry.create(name, task, {**SMALL, "lr": lr_eff * 0.01, "target_stepsize": 0.01})
    before = model.evaluate(x, y)["loss"]
    for _ in range(25):
        model.train_batch(x, y, "forward")
    after = model.evaluate(x, y)["loss"]
    assert after < 0.8 * before, (name, before, after)


def test_seed_and_dtype():
    task = Task("classification", 5, 2)
    a = registry.create("dfa", task, SMALL, seed=4)
    b = registry.create("dfa", task, SMALL, seed=4, dtype=torch.float32)
    c = registry.create("dfa", task, SMALL, seed=5)
    assert b.weights[0].dtype == torch.float32 and b.B1.dtype == torch.float32
    assert torch.equal(a.weights[0].float(), b.weights[0])
    assert not torch.equal(a.weights[0], c.weights[0])


def test_unknown_param_names_the_allowed_keys():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['lr_typo'\].*allowed keys"):
        registry.create("bp", Task("classification", 4, 2), {"lr_typo": 1.0})


def test_bad_config_values():
    with pytest.raises(ValueError, match="hidden_activation has 1 entries"):
        BaselineConfig.from_params({"size_hidden": [3, 3], "hidden_activation": ["tanh"]})
    with pytest.raises(ValueError, match="activation 'sine'"):
        BaselineConfig.from_params({"hidden_activation": "sine"})


def test_feedback_phase_is_rejected():
    model = registry.create("bp", Task("classification", 4, 2), SMALL)
    assert not model.has_feedback_phase
    with pytest.raises(ValueError, match="has no feedback phase"):
        model.train_batch(torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2).long(), "feedback")


def test_diagnostics_angles():
    task = Task("classification", 6, 3)
    x, y = _data(task)
    bp = registry.create("bp", task, SMALL).diagnostics(x, y)
    dfa = registry.create("dfa", task, SMALL).diagnostics(x, y)
    assert {"angle_bp/layer1", "angle_bp/layer2", "angle_bp/layer3"} <= set(bp)
    # BP's backward matrices are W^T: every angle of the shared diagnostics is 0
    assert all(v == pytest.approx(0.0, abs=1e-5) for k, v in bp.items() if k.startswith("angle"))
    assert dfa["angle_bp/layer3"] == pytest.approx(0.0, abs=1e-5)  # output: true gradient
    assert dfa["angle_bp/layer1"] > 1.0


def test_registry_lists_models_on_unknown_name():
    assert {"bp", "fa", "dfa"} <= set(registry.available())
    with pytest.raises(KeyError, match=r"unknown model 'nope'; available models are \[.*'bp'"):
        registry.create("nope", Task("classification", 4, 2))


def test_register_rejects_a_taken_name():
    with pytest.raises(ValueError, match="already registered"):

        @registry.register("bp")
        def other(task, params, *, device, dtype, seed):  # pragma: no cover
            raise AssertionError
