"""The learned-backward-weight family: FA as its R = 0 member (bit for bit), the update
of B for each rule, Kolen–Pollack's equal decay, sign symmetry, configs and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neurosim.models import registry
from neurosim.models.activations import phi_prime
from neurosim.models.base import Task
from neurosim.models.baselines import FAModel
from neurosim.models.learned_feedback import (
    MODEL_NAMES,
    LearnedFeedbackConfig,
    LearnedFeedbackModel,
    SignSymmetryModel,
    build,
)
from neurosim.models.learned_feedback import primitives as prim
from neurosim.testing import assert_allclose

SMALL = {"size_hidden": [7, 5], "lr": 1e-5, "target_stepsize": 0.01}
TASK = Task("classification", 6, 4)
CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"


def _batches(n_batches=4, n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(n, TASK.n_in, generator=g, dtype=torch.float64),
            torch.randint(0, TASK.n_out, (n,), generator=g),
        )
        for _ in range(n_batches)
    ]


def _old_fa_gradients(model, x, y):
    """``FAModel.gradients`` as it was before the learned-feedback family (verbatim)."""
    vs, rs = model.trace(x)
    acts = model.cfg.activations
    delta = phi_prime(vs[-1], acts[-1]) * model.output_gradient(rs[-1], y)
    grads = []
    for i in reversed(range(model.depth)):
        grads.append((delta.T @ rs[i], delta.sum(0)))
        if i > 0:
            delta = phi_prime(vs[i - 1], acts[i - 1]) * (delta @ model.feedback[i - 1].T)
    return grads[::-1]


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_fa_is_the_r0_member_bit_for_bit():
    """Same seed: the old FA update rule, ``fa``, the family with rule ``fa`` and weight
    mirror with every coefficient 0 give identical weights after several Adam steps."""
    old = registry.create("fa", TASK, SMALL, seed=5)
    fa = registry.create("fa", TASK, SMALL, seed=5)
    member = build("fa", TASK, SMALL, seed=5)
    zero_wm = registry.create("wm", TASK, {**SMALL, "coefficients": {"decay": 0, "amp": 0}}, seed=5)
    assert type(fa) is FAModel and isinstance(member, LearnedFeedbackModel)
    models = (fa, member, zero_wm)
    for m in models:
        assert all(torch.equal(a, b) for a, b in zip(m.feedback, old.feedback, strict=True))
    with torch.no_grad():
        for x, y in _batches():
            old.apply_gradients(_old_fa_gradients(old, x, y))
            for m in models:
                m.train_batch(x, y, "forward")
    ref = _state(old)
    for m in models:
        got = _state(m)
        for k, v in ref.items():
            assert torch.equal(got[k], v), (m.name, k)
    assert not torch.equal(
        ref["weights.0"], _state(registry.create("fa", TASK, SMALL, seed=5))["weights.0"]
    )
    assert sorted(member.optimizers()) == ["forward"] == sorted(fa.optimizers())
    assert sorted(zero_wm.optimizers()) == ["feedback", "forward"]


@pytest.mark.parametrize("name", ["wm", "ia", "sa", "aa", "kp"])
def test_each_rule_steps_B_by_its_regulariser_gradient(name):
    """With SGD on B, one step is ``B - lr (sum_k c_k grad P_k + [KP] grad_W^T)`` at the
    pre-step W and B, on the layer's own input (x_l, y_l = x_l W_l^T)."""
    params = {**SMALL, "feedback_optimizer": "sgd", "feedback_lr": 0.3}
    model = registry.create(name, TASK, params, seed=1)
    x, y = _batches(1)[0]
    W = [w.detach().clone() for w in model.weights]
    B = [b.detach().clone() for b in model.feedback]
    vs, rs = model.trace(x)
    fwd = model.gradients_from_trace(vs, rs, y)
    model.train_batch(x, y, "forward")
    for j, (B0, B1) in enumerate(zip(B, model.feedback, strict=True)):
        xl = rs[j + 1]
        g = prim.regularizer_gradient(model.cfg.coefficients, xl, xl @ W[j + 1].T, W[j + 1], B0)
        if name == "kp":
            g = g + fwd[j + 1][0].T
        assert_allclose(B1, B0 - 0.3 * g, rtol_scale=10)
        assert not torch.equal(B0, B1)


def test_kolen_pollack_shrinks_W_minus_B_transpose_geometrically():
    """SGD on both with equal decay c: W - B^T -> (1 - 2 lr c) (W - B^T) every step,
    whatever the task gradient (Kolen & Pollack 1994; fact sheet 'checked')."""
    c, lr = 0.05, 0.5
    params = {**SMALL, "optimizer": "sgd", "lr": lr, "target_stepsize": 1.0,
              "coefficients": {"decay": c}}  # fmt: skip
    model = registry.create("kp", TASK, params, seed=2)

    def gaps():
        return [
            (W.detach() - B.detach().T).clone()
            for W, B in zip(model.weights[1:], model.feedback, strict=True)
        ]

    before = gaps()
    for x, y in _batches(3):
        model.train_batch(x, y, "forward")
    for g0, g1 in zip(before, gaps(), strict=True):
        assert_allclose(g1, (1 - 2 * lr * c) ** 3 * g0, rtol_scale=100)
    no_decay = registry.create("kp", TASK, {**params, "coefficients": {"decay": 0}}, seed=2)
    gap0 = no_decay.weights[1].detach() - no_decay.feedback[0].detach().T
    for x, y in _batches(3):
        no_decay.train_batch(x, y, "forward")
    assert_allclose(no_decay.weights[1].detach() - no_decay.feedback[0].detach().T, gap0,
                    rtol_scale=100)  # fmt: skip


def test_sign_symmetry_uses_the_signs_of_the_current_weights():
    model = registry.create("sign-sym", TASK, SMALL, seed=0)
    assert isinstance(model, SignSymmetryModel)
    assert not [k for k in model.state_dict() if k.startswith("B")]
    for W, B in zip(model.weights[1:], model.feedback, strict=True):
        assert torch.equal(B, W.detach().T.sign() * W.detach().abs().mean())
    for x, y in _batches(2):
        model.train_batch(x, y, "forward")
    W2 = model.weights[1].detach()
    assert torch.equal(model.feedback[0], W2.T.sign() * W2.abs().mean())
    fixed = registry.create("sign-sym", TASK, {**SMALL, "sign_scale": 0.5}, seed=0)
    assert set(fixed.feedback[0].abs().flatten().tolist()) == {0.5}


def test_mirror_noise_inputs_are_seeded_and_white():
    params = {**SMALL, "regularizer_input": "uniform", "regularizer_input_std": 2.0}
    a = registry.create("wm", TASK, params, seed=4)
    b = registry.create("wm", TASK, params, seed=4)
    r = torch.zeros(20000, 7, dtype=torch.float64)
    na, nb = a.regularizer_input(r), b.regularizer_input(r)
    assert torch.equal(na, nb)
    assert float(na.abs().max()) <= 2.0 * 3**0.5
    moment = na.T @ na / len(na)  # 4 I up to sampling error (std error about 0.03)
    assert float((moment - 4.0 * torch.eye(7, dtype=torch.float64)).abs().max()) < 0.2
    data = registry.create("wm", TASK, SMALL, seed=4)
    assert data.regularizer_input(r) is r


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"coefficients": {"decay": -1e-3}}, r"coefficients\.decay must be >= 0, got -0\.001"),
        ({"coefficients": {"mirror": 1.0}}, r"unknown primitive\(s\) \['mirror'\].*'sparse'"),
        ({"coefficients": {"amp": "big"}}, r"coefficients\.amp must be a finite number"),
        ({"coefficients": {"amp": float("nan")}}, r"coefficients\.amp must be a finite number"),
        ({"coefficients": [1, 2]}, r"params\.coefficients=\[1, 2\] \(list\) is not dict"),
        ({"feedback_optimizer": "rmsprop"}, r"feedback_optimizer 'rmsprop' is not one of"),
        ({"feedback_lr": 0}, r"feedback_lr must be a number > 0"),
        ({"regularizer_input": "pink"}, r"regularizer_input 'pink' is not one of"),
        ({"oja": True, "coefficients": {"decay": 1e-3}}, r"coefficients\.decay must be 0 with oja"),
        ({"sign_scale": 1.0}, r"sign_scale only applies to rule 'sign-sym'"),
        ({"alpha": 1e-3}, r"unknown parameter\(s\) \['alpha'\]"),
        ({"rule": "sa"}, r"params\.rule is 'sa' but the model is 'wm'"),
    ],
)
def test_bad_configuration_names_the_key(params, match):
    with pytest.raises(ValueError, match=match):
        registry.create("wm", TASK, {**SMALL, **params})


def test_rules_without_a_regulariser_refuse_coefficients_and_oja():
    with pytest.raises(ValueError, match=r"rule 'sign-sym' .* coefficients must be empty"):
        registry.create("sign-sym", TASK, {**SMALL, "coefficients": {"amp": 1e-3}})
    with pytest.raises(ValueError, match=r"oja: true .* needs rule 'wm', not 'ia'"):
        registry.create("ia", TASK, {**SMALL, "oja": True})
    with pytest.raises(ValueError, match="unknown rule 'mirror'"):
        LearnedFeedbackConfig(size_hidden=(4,), rule="mirror")


def test_set_feedback_checks_the_shape():
    model = registry.create("sa", TASK, SMALL, seed=0)
    with pytest.raises(ValueError, match=r"B for layer 2 must have W_2\^T's shape \(7, 5\)"):
        model.set_feedback(2, torch.zeros(5, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"layer must be in 2\.\.3"):
        model.set_feedback(1, torch.zeros(6, 7, dtype=torch.float64))
    model.set_feedback(3, torch.ones(5, 4, dtype=torch.float64))
    assert torch.equal(model.feedback[1], torch.ones(5, 4, dtype=torch.float64))


def test_coefficients_merge_with_the_rule_defaults():
    cfg = LearnedFeedbackConfig.from_params({"rule": "ia", "coefficients": {"decay": 0.0}})
    assert cfg.coefficients == {"decay": 0.0, "amp": 2e-3, "null": 1e-3}
    assert LearnedFeedbackConfig.from_params({"rule": "sa"}).coefficients == {
        "decay": 1e-3,
        "self": 2e-3,
    }


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shipped_configs_build_with_the_reference_defaults(name, dataset):
    training = pytest.importorskip("neurosim.training.config")
    cfg = training.default_config(name, dataset)
    params = cfg.model_params()
    assert params["size_hidden"] == [256, 256, 256]
    fa = training.default_config("fa", dataset).model_params()
    for key in ("lr", "target_stepsize", "optimizer", "adam_epsilon", "adam_beta1"):
        assert params[key] == fa[key], key  # one results table: FA's forward settings
    small = {**params, "size_hidden": [4, 4, 4]}
    model = registry.create(name, Task("classification", 6, 3), small)
    assert model.name == name
    defaults = {"wm": {"decay": 1e-3, "amp": 1e-3},
                "ia": {"amp": 2e-3, "null": 1e-3, "decay": 1e-3},
                "sa": {"decay": 1e-3, "self": 2e-3}, "aa": {"sparse": 1e-3, "amp": 2e-3},
                "kp": {"decay": 1e-3}, "sign-sym": {}}  # fmt: skip
    assert model.cfg.coefficients == defaults[name]


def test_oja_variant_config_builds():
    training = pytest.importorskip("neurosim.training.config")
    cfg = training.load_config(CONFIGS / "mnist" / "wm-oja.yaml")
    small = {**cfg.model_params(), "size_hidden": [4, 4, 4]}
    model = registry.create(cfg.model, Task("classification", 6, 3), small)
    assert model.cfg.oja and model.cfg.coefficients == {"amp": 1e-3}
