"""Regulariser primitives (Kunin et al.): gradients against autograd, the derived fixed
points on one linear layer, Oja's normalisation and the cross-link to Recirculation."""

from __future__ import annotations

import pytest
import torch

from neurosim.models.alignment_diagnostics import angle
from neurosim.models.learned_feedback import primitives as prim
from neurosim.models.learned_feedback.config import LearnedFeedbackConfig
from neurosim.models.learned_feedback.fixed_points import (
    curvature,
    derived_fixed_point,
    descend,
    relative_distance,
    whitened_inputs,
)
from neurosim.models.learned_feedback.model import backward_weight_gradient
from neurosim.testing import assert_allclose

DT = torch.float64


def _layer(n_in=8, n_out=5, batch=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_in, generator=g, dtype=DT)
    W = torch.randn(n_out, n_in, generator=g, dtype=DT) / n_in**0.5
    B = torch.randn(n_in, n_out, generator=g, dtype=DT) / n_out**0.5
    return x, x @ W.T, W, B


def _cfg(rule, **params):
    return LearnedFeedbackConfig.from_params({"size_hidden": [4], "rule": rule, **params})


@pytest.mark.parametrize("name", prim.PRIMITIVES)
def test_primitive_gradient_equals_autograd_of_its_definition(name):
    x, y, W, B = _layer()
    Bv = B.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(prim.value(name, x, y, W, Bv), Bv)
    assert_allclose(prim.gradient(name, x, y, W, B), auto)
    assert float(auto.norm()) > 0.1  # not a vacuous comparison


def test_decay_gradient_on_W_equals_autograd():
    x, y, W, B = _layer()
    Wv = W.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(prim.decay(x, y, Wv, B), Wv)
    assert_allclose(prim.decay_weight_gradient(W), auto)


@pytest.mark.parametrize("name", prim.PRIMITIVES)
def test_code_gradient_is_slide_factor_times_slide_gradient(name):
    """The slides' definitions carry 1/2 on decay (B part), null and sparse."""
    x, y, W, B = _layer()
    slides = {
        "decay": lambda B: 0.5 * (B * B).sum(),
        "amp": lambda B: -((x @ B) * y).sum(1).mean(),
        "null": lambda B: 0.5 * ((y @ B.T) ** 2).sum(1).mean(),
        "sparse": lambda B: 0.5 * ((x @ B) ** 2).sum(1).mean(),
        "self": lambda B: -torch.trace(B @ W),
    }
    Bv = B.clone().requires_grad_(True)
    (slide_grad,) = torch.autograd.grad(slides[name](Bv), Bv)
    assert_allclose(prim.gradient(name, x, y, W, B), prim.SLIDE_FACTOR[name] * slide_grad)


def test_regularizer_gradient_is_the_weighted_sum():
    x, y, W, B = _layer()
    coeffs = {"amp": 2e-3, "null": 1e-3, "decay": 5e-4}
    Bv = B.clone().requires_grad_(True)
    total = sum(c * prim.value(k, x, y, W, Bv) for k, c in coeffs.items())
    (auto,) = torch.autograd.grad(total, Bv)
    assert_allclose(prim.regularizer_gradient(coeffs, x, y, W, B), auto)


def test_bad_shapes_and_names_raise_naming_the_argument():
    x, y, W, B = _layer()
    with pytest.raises(ValueError, match=r"B has shape \(5, 8\).*W\^T's shape \(8, 5\)"):
        prim.gradient("amp", x, y, W, B.T)
    with pytest.raises(ValueError, match=r"x must be \(batch, 8\)"):
        prim.gradient("amp", x[:, :3], y, W, B)
    with pytest.raises(ValueError, match="unknown primitive 'mirror'.*'decay'"):
        prim.gradient("mirror", x, y, W, B)


# -- fixed points on one linear layer (fact sheet §2.3) ----------------------------------
def _white_layer(sigma=1.0, seed=3):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(5, 8, generator=g, dtype=DT) / 8**0.5
    x = whitened_inputs(64, 8, sigma, g)
    B0 = 0.3 * torch.randn(8, 5, generator=g, dtype=DT)
    return W, x, B0


def _converge(cfg, W, x, B0, steps=400):
    lr = 0.5 / curvature(cfg, W, x)
    return descend(cfg, W, x, B0, steps, lr)[-1]


def test_whitened_inputs_have_exact_second_moment():
    g = torch.Generator().manual_seed(0)
    x = whitened_inputs(40, 6, 2.0, g)
    assert_allclose(x.T @ x / 40, 4.0 * torch.eye(6, dtype=DT))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("sa", lambda W: W.T),
        ("aa", lambda W: W.T),
        ("wm", lambda W: 0.5 * W.T),
        ("ia", lambda W: W.T @ torch.linalg.inv(W @ W.T + torch.eye(5, dtype=DT))),
    ],
)
def test_default_coefficients_reach_the_derived_fixed_point(rule, expected):
    """Code defaults, white noise sigma = 1: SA, AA -> W^T; WM -> W^T / 2;
    IA -> W^T (W W^T + I)^-1 (a ridge pseudoinverse)."""
    W, x, B0 = _white_layer()
    cfg = _cfg(rule)
    B_star = expected(W)
    assert_allclose(derived_fixed_point(cfg, W, torch.eye(8, dtype=DT)), B_star, rtol_scale=10)
    assert relative_distance(B0, B_star) > 0.5  # starts far away
    B = _converge(cfg, W, x, B0)
    assert relative_distance(B, B_star) < 1e-10


def test_ia_fixed_point_is_a_ridge_pseudoinverse_not_W_transpose():
    W, x, B0 = _white_layer()
    B = _converge(_cfg("ia"), W, x, B0)
    assert angle(B, W.T) > 5.0  # it is not proportional to W^T ...
    # ... and tends to pinv(W) as the ridge (decay / null) goes to 0
    small = _cfg("ia", coefficients={"decay": 1e-9})  # ridge decay / null = 1e-6
    B_small_ridge = _converge(small, W, x, B0, steps=4000)
    eye = torch.eye(8, dtype=DT)
    assert relative_distance(B_small_ridge, derived_fixed_point(small, W, eye)) < 1e-9
    assert relative_distance(B_small_ridge, torch.linalg.pinv(W)) < 1e-4


def test_wm_scales_with_the_input_variance_and_misaligns_on_correlated_input():
    W, x, B0 = _white_layer(sigma=2.0)
    B = _converge(_cfg("wm"), W, x, B0)
    assert relative_distance(B, 0.5 * 4.0 * W.T) < 1e-10  # (sigma^2 / 2) W^T
    g = torch.Generator().manual_seed(5)
    L = torch.eye(8, dtype=DT) + 0.6 * torch.randn(8, 8, generator=g, dtype=DT) / 8**0.5
    xc = whitened_inputs(64, 8, 1.0, g) @ L.T  # second moment L L^T
    Sigma = xc.T @ xc / 64
    B = _converge(_cfg("wm"), W, xc, B0, steps=1000)
    assert relative_distance(B, 0.5 * Sigma @ W.T) < 1e-8
    assert angle(B, W.T) > 30.0  # Sigma W^T, far from W^T
    B_aa = _converge(_cfg("aa"), W, xc, B0, steps=1000)
    assert relative_distance(B_aa, W.T) < 1e-6  # AA does not care about correlations


def test_oja_weight_mirror_reaches_unit_norm_W_transpose():
    W, x, B0 = _white_layer()
    cfg = _cfg("wm", oja=True)
    assert "decay" not in cfg.coefficients
    B = _converge(cfg, W, x, B0, steps=2000)
    assert relative_distance(B, W.T / torch.linalg.matrix_norm(W)) < 1e-10
    assert float(torch.linalg.matrix_norm(B)) == pytest.approx(1.0, abs=1e-10)


def test_information_alignment_equals_the_recirculation_B_rule_at_ratio_two_to_one():
    """With c_amp = 2 c_null, IA's step without decay is the linearised-Recirculation
    B-rule Delta B = eta_B (x - B h) h^T, h = W x (recirculation_pinv.md §2.1), batch-mean,
    with eta_B = 2 c_null lr; the decay only adds -2 c_decay lr B."""
    x, h, W, B = _layer(batch=32)
    lr, c = 0.7, 1.5e-3

    def recirculation_step(B):  # the rule as printed, written out here on purpose
        return (x - h @ B.T).T @ h / x.shape[0]

    ia = _cfg("ia", coefficients={"amp": 2 * c, "null": c, "decay": 0.0})
    step_ia = -lr * backward_weight_gradient(ia, x, W, B)
    assert_allclose(step_ia, 2 * c * lr * recirculation_step(B))
    with_decay = _cfg("ia", coefficients={"amp": 2 * c, "null": c, "decay": 4e-4})
    step = -lr * backward_weight_gradient(with_decay, x, W, B)
    assert_allclose(step, 2 * c * lr * recirculation_step(B) - 2 * 4e-4 * lr * B)
    # another ratio is not the recirculation rule
    off = _cfg("ia", coefficients={"amp": 3 * c, "null": c, "decay": 0.0})
    step_off = -lr * backward_weight_gradient(off, x, W, B)
    assert angle(step_off, recirculation_step(B)) > 1.0
