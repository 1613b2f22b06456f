"""Two-layer feedback alignment (Song, Xu & Lafferty 2021): gradients, the kernel G,
exponential convergence (E1) and alignment only with regularisation (E2), small sizes."""

from __future__ import annotations

import math

import pytest
import torch

from neurosim.models import fa_two_layer as tl
from neurosim.testing import assert_allclose


def _problem(n=10, d=5, p=60, seed=0):
    X, y = tl.teacher_data(n, d, seed)
    return X, y, tl.init_params(p, d, seed)


@pytest.mark.parametrize("activation", tl.ACTIVATIONS)
def test_bp_gradients_equal_autograd_and_fa_swaps_beta_for_b(activation):
    X, y, prm = _problem()
    W = prm.W.clone().requires_grad_(True)
    beta = prm.beta.clone().requires_grad_(True)
    f = tl.output(tl.Params(W, beta, prm.b), X, activation)
    loss = 0.5 * ((f - y) ** 2).sum()
    aW, abeta = torch.autograd.grad(loss, [W, beta])
    gW, gbeta, e = tl.gradients(prm, X, y, activation, "bp")
    assert_allclose(gW, aW)
    assert_allclose(gbeta, abeta)
    assert_allclose(0.5 * e @ e, loss)
    fa_W, fa_beta, _ = tl.gradients(prm, X, y, activation, "fa")
    swapped = tl.gradients(tl.Params(prm.W, prm.beta, prm.beta), X, y, activation, "fa")[0]
    assert_allclose(swapped, gW)  # FA with b = beta is BP
    assert_allclose(fa_beta, gbeta)  # the output layer learns by its true gradient
    assert not torch.allclose(fa_W, gW)


@pytest.mark.parametrize("rule", tl.RULES)
def test_kernel_G_gives_the_first_order_change_of_the_outputs(rule):
    """f(t+1) - f(t) = -eta G e + O(eta^2) (derived, fact sheet §2.3)."""
    X, y, prm = _problem(seed=1)
    act = "tanh"
    gW, gbeta, e = tl.gradients(prm, X, y, act, rule)
    G = tl.gram(prm, X, act, rule)
    for eta in (1e-4, 1e-5):
        moved = tl.Params(prm.W - eta * gW, prm.beta - eta * gbeta, prm.b)
        df = tl.output(moved, X, act) - tl.output(prm, X, act)
        err = float((df / eta + G @ e).norm() / (G @ e).norm())
        assert err < 50 * eta  # O(eta): the first-order term is exact


def test_fa_log_loss_falls_linearly_at_the_predicted_rate():
    """E1 on a tiny over-parameterised problem (p = 300 >> n = 10): the log-loss slope
    is negative, the late phase is a straight line, and its slope matches the derived
    2 ln max_k |1 - eta lambda_k(G)| averaged over the same steps."""
    X, y = tl.teacher_data(10, 5, seed=0)
    cfg = tl.TwoLayerConfig(p=300, activation="relu", rule="fa", eta=0.3, steps=1500)
    tr = tl.train(cfg, X, y, seed=0, record_every=10)
    start, stop = tl.linear_phase(tr.loss)
    late = (start + stop) // 2
    slope, _, r2 = tl.fit_log_slope(tr.loss, late, stop)
    assert slope < -1e-3
    assert r2 > 0.999
    assert tr.loss[stop - 1] < 1e-9 * tr.loss[0]
    pred = tr.mean_predicted_slope(late, stop)
    assert abs(slope - pred) < 0.05 * abs(pred)


def test_alignment_grows_with_regularisation_and_not_without():
    """E2: 5 seeds at p = 400 (measured: lambda = 0.1 gives 0.61-0.66, lambda = 0 gives
    0.01-0.08). Under the null hypothesis (beta independent of b) the cosine is about
    N(0, 1/p), std 0.05: 0.5 is 10 standard deviations out, and every seed must pass."""
    X, y = tl.teacher_data(20, 10, seed=0)
    cos = {}
    for lam in (0.0, 0.1):
        cfg = tl.TwoLayerConfig(p=400, activation="relu", rule="fa", eta=0.1, lam=lam, steps=600)
        cos[lam] = [float(tl.train(cfg, X, y, seed=s, record_every=600).cos_beta_b[-1])
                    for s in range(5)]  # fmt: skip
    assert all(c > 0.5 for c in cos[0.1]), cos
    assert all(abs(c) < 0.2 for c in cos[0.0]), cos
    initial = [tl.cosine(tl.init_params(400, 10, s).beta, tl.init_params(400, 10, s).b)
               for s in range(5)]  # fmt: skip
    assert all(abs(c) < 0.2 for c in initial)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 0}, "p must be a positive integer"),
        ({"p": 5, "activation": "gelu"}, "activation 'gelu' is not one of"),
        ({"p": 5, "rule": "dfa"}, "rule 'dfa' is not one of"),
        ({"p": 5, "lam": -1.0}, "lam must be >= 0"),
        ({"p": 5, "eta": 0.0}, "eta must be > 0"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tl.TwoLayerConfig(**kwargs)


def test_predicted_slope_of_a_known_spectrum():
    G = torch.diag(torch.tensor([1.0, 4.0], dtype=tl.DT))
    assert tl.predicted_log_slope(G, 0.1) == pytest.approx(2 * math.log(0.9))
