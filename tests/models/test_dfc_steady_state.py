"""Pure-torch kernels of the DFC family: Jacobian, output target, DFC-SSA, rules."""

from __future__ import annotations

import pytest
import torch

from neurosim.models.dfc.config import DFCConfig
from neurosim.models.dfc.network import (
    feedforward,
    full_jacobian,
    layer_jacobians,
    phi,
    phi_prime,
    propagate_from,
    weight_product_feedback,
)
from neurosim.models.dfc.steady_state import (
    clip_jointly,
    clip_per_tensor,
    output_target,
    ssa_control,
    ssa_gradients,
    ssa_steady_state,
    steady_state_gradients,
)
from neurosim.testing import assert_allclose

DT = torch.float64


def _net(sizes, seed=0, acts=None):
    g = torch.Generator().manual_seed(seed)
    W = [
        torch.randn(sizes[i + 1], sizes[i], generator=g, dtype=DT) / sizes[i] ** 0.5
        for i in range(len(sizes) - 1)
    ]
    b = [0.1 * torch.randn(n, generator=g, dtype=DT) for n in sizes[1:]]
    acts = acts or ["tanh"] * (len(sizes) - 2) + ["linear"]
    return W, b, acts


@pytest.mark.parametrize("fn", ["linear", "tanh", "relu", "logistic", "softplus"])
def test_phi_prime_matches_autograd(fn):
    v = torch.linspace(-2, 2, 41, dtype=DT).requires_grad_(True)
    (g,) = torch.autograd.grad(phi(v, fn).sum(), v)
    torch.testing.assert_close(phi_prime(v.detach(), fn), g)


def test_jacobian_matches_autograd_of_voltage_pushes():
    """J_i = d r_L / d v_i: perturb each layer's voltage by an additive push."""
    W, b, acts = _net([6, 5, 4, 3])
    x = torch.randn(2, 6, dtype=DT)
    vs, _ = feedforward(x, W, b, acts)
    J = full_jacobian(vs, W, acts)
    sizes = [5, 4, 3]
    for s in range(2):

        def out(dv_all, s=s):
            dv = list(torch.split(dv_all.unsqueeze(0), sizes, dim=1))
            return propagate_from(x[s : s + 1], dv, W, b, acts)[1][-1][0]

        ref = torch.autograd.functional.jacobian(out, torch.zeros(sum(sizes), dtype=DT))
        torch.testing.assert_close(J[s], ref)
    assert [blk.shape for blk in layer_jacobians(vs, W, acts)] == [(2, 3, n) for n in sizes]


def test_weight_product_feedback():
    W, _, _ = _net([6, 5, 4, 3])
    Q = weight_product_feedback(W)
    torch.testing.assert_close(Q[2], torch.eye(3, dtype=DT))
    torch.testing.assert_close(Q[1], W[2].t())
    torch.testing.assert_close(Q[0], W[1].t() @ W[2].t())


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_output_target_is_lambda_times_batch_mean_loss_gradient(kind):
    r = torch.randn(8, 4, dtype=DT, requires_grad=True)
    if kind == "classification":
        y = torch.randint(0, 4, (8,))
        loss = torch.nn.functional.cross_entropy(r, y)
    else:
        y = torch.randn(8, 4, dtype=DT)
        loss = torch.nn.functional.mse_loss(r, y)
    (g,) = torch.autograd.grad(loss, r)
    lam = 0.3
    torch.testing.assert_close(output_target(r.detach(), y, kind, lam), r.detach() - lam * g)


def test_ssa_control_solves_linear_system():
    W, b, acts = _net([6, 5, 4, 3])
    x = torch.randn(4, 6, dtype=DT)
    vs, _ = feedforward(x, W, b, acts)
    J = full_jacobian(vs, W, acts)
    Q = torch.randn(12, 3, dtype=DT)
    d = torch.randn(4, 3, dtype=DT)
    u = ssa_control(J, Q, d, alpha=0.1)
    torch.testing.assert_close((J @ Q) @ u.unsqueeze(2) + 0.1 * u.unsqueeze(2), d.unsqueeze(2))


def test_ssa_linear_network_reaches_target_for_small_alpha():
    """In a linear network the linearisation is exact: r_L^ss = r_L* - alpha u_ss."""
    W, b, _ = _net([6, 5, 4, 3])
    acts = ["linear"] * 3
    x = torch.randn(4, 6, dtype=DT)
    vs, rs = feedforward(x, W, b, acts)
    Q = weight_product_feedback(W)
    r_star = rs[-1] + 0.01 * torch.randn(4, 3, dtype=DT)
    alpha = 1e-3
    dv, r_ss, u = ssa_steady_state(x, vs, rs, r_star - rs[-1], W, b, Q, acts, alpha)
    torch.testing.assert_close(r_ss[-1], r_star - alpha * u)


def test_steady_state_rule_formula_and_sample_weights():
    W, b, acts = _net([6, 5, 3])
    x = torch.randn(4, 6, dtype=DT)
    dv = [0.1 * torch.randn(4, 5, dtype=DT), 0.1 * torch.randn(4, 3, dtype=DT)]
    _, r_ss = propagate_from(x, dv, W, b, acts)
    grads = steady_state_gradients(x, dv, r_ss, W, b, acts)
    v1 = x @ W[0].t() + b[0]
    d1 = torch.tanh(v1 + dv[0]) - torch.tanh(v1)
    torch.testing.assert_close(grads[0][0], -(2 / 4) * d1.t() @ x)
    torch.testing.assert_close(grads[0][1], -2 * d1.mean(0))
    torch.testing.assert_close(grads[1][0], -(2 / 4) * dv[1].t() @ r_ss[0])
    # a zero weight removes a sample but keeps the 1/B normalisation
    w = torch.tensor([1.0, 1.0, 0.0, 1.0], dtype=DT)
    gw = steady_state_gradients(x, dv, r_ss, W, b, acts, weight=w)
    keep = [0, 1, 3]
    ref = -(2 / 4) * d1[keep].t() @ x[keep]
    torch.testing.assert_close(gw[0][0], ref)


def test_clipping_per_tensor_and_joint():
    a, b = torch.full((4,), 1.0, dtype=DT), torch.full((9,), 0.1, dtype=DT)
    clip_per_tensor([a, b], 1.0)
    assert torch.linalg.vector_norm(a) == pytest.approx(1.0, rel=1e-5)
    assert torch.linalg.vector_norm(b) == pytest.approx(0.3)  # untouched
    c, d = torch.full((4,), 1.0, dtype=DT), torch.full((4,), 1.0, dtype=DT)
    clip_jointly([c, d], 1.0)
    total = torch.sqrt(torch.linalg.vector_norm(c) ** 2 + torch.linalg.vector_norm(d) ** 2)
    assert total == pytest.approx(1.0, rel=1e-5)
    torch.testing.assert_close(c, d)


def test_config_validation_and_derived_values():
    cfg = DFCConfig.from_params({"lr": 9.266e-05, "target_stepsize": 0.07794})
    assert cfg.lr_forward == pytest.approx(1.189e-3, rel=1e-3)
    assert cfg.fb_scale == pytest.approx(1e4)  # sigma < 0.01
    assert cfg.tau_A == cfg.dt_di  # apical_time_constant = -1
    assert DFCConfig(sigma=0.05).fb_scale == pytest.approx(400.0)
    with pytest.raises(ValueError, match="allowed keys"):
        DFCConfig.from_params({"learning_rate": 1.0})
    with pytest.raises(ValueError, match="hidden_activation"):
        DFCConfig.from_params({"size_hidden": [4, 4], "hidden_activation": ["tanh"]})
    assert DFCConfig(time_constant_ratio=0.001, dt_di=0.02).tau_v == 0.02


@pytest.mark.parametrize("acts", [None, ["logistic", "tanh", "linear"]])
def test_ssa_gradients_equal_the_two_step_computation(acts):
    """The training path (deviation form: target shift, rate deviations, phi
    differences; Jacobian written in place) computes what ssa_steady_state +
    steady_state_gradients compute in absolute values, to float64 rounding."""
    W, b, acts = _net([7, 6, 5, 3], seed=3, acts=acts)
    x = torch.randn(5, 7, dtype=DT, generator=torch.Generator().manual_seed(4))
    vs, rs = feedforward(x, W, b, acts)
    Q = [0.3 * torch.randn(n, 3, dtype=DT) for n in (6, 5, 3)]
    r_star = rs[-1] + 0.05 * torch.randn(5, 3, dtype=DT)
    dv, r_ss, _ = ssa_steady_state(x, vs, rs, r_star - rs[-1], W, b, Q, acts, 0.01)
    two_step = steady_state_gradients(x, dv, r_ss, W, b, acts)
    fused = ssa_gradients(x, vs, rs, r_star - rs[-1], W, b, Q, acts, 0.01)
    for (gw, gb), (fw, fb) in zip(two_step, fused, strict=True):
        assert_allclose(fw, gw)
        assert_allclose(fb, gb)
    blocks = torch.cat([blk for blk in _blocks_from_voltages(vs, W, acts)], dim=2)
    assert torch.equal(full_jacobian(vs, W, acts, rs), blocks)


def _blocks_from_voltages(vs, W, acts):
    """J blocks as in DFC.md §1.4 with phi' evaluated from the voltages."""
    out = [torch.diag_embed(phi_prime(vs[-1], acts[-1]))]
    for i in range(len(vs) - 2, -1, -1):
        out.insert(0, torch.matmul(out[0], W[i + 1]) * phi_prime(vs[i], acts[i]).unsqueeze(1))
    return out
