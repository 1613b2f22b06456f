"""Diagnostics of DFC App. F.1 (neurosim.models.diagnostics) and Theorem 3 of the paper."""

from __future__ import annotations

import pytest
import torch

from neurosim.models import diagnostics as diag
from neurosim.models.activations import phi
from neurosim.models.dfc.network import feedforward, full_jacobian, weight_product_feedback
from neurosim.models.dfc.steady_state import output_target, ssa_steady_state, steady_state_gradients

DT = torch.float64


def _net(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = [
        torch.randn(sizes[i + 1], sizes[i], generator=g, dtype=DT) / sizes[i] ** 0.5
        for i in range(len(sizes) - 1)
    ]
    b = [0.1 * torch.randn(n, generator=g, dtype=DT) for n in sizes[1:]]
    return W, b, ["tanh"] * (len(sizes) - 2) + ["linear"]


def test_condition_one_zero_for_equal_norms_positive_otherwise():
    x = torch.tensor([[3.0, 4.0]], dtype=DT)  # norm 5
    rs = [torch.tensor([[0.0, 5.0, 0.0]], dtype=DT), torch.ones(1, 2, dtype=DT)]
    assert diag.condition_one(x, rs) == pytest.approx(0.0)
    rs[0] = torch.tensor([[0.0, 1.0, 0.0]], dtype=DT)
    # norms 5 and 1: mean 3, std 2
    assert diag.condition_one(x, rs) == pytest.approx(2.0 / 3.0)


def test_condition_two_is_one_iff_Q_in_column_space_of_J_transpose():
    W, b, acts = _net([6, 5, 4, 3])
    x = torch.randn(1, 6, dtype=DT)
    vs, _ = feedforward(x, W, b, acts)
    J = full_jacobian(vs, W, acts)
    M = torch.randn(3, 3, dtype=DT)
    assert diag.condition_two(J, J[0].t() @ M) == pytest.approx(1.0)
    Q_rand = torch.randn(12, 3, dtype=DT, generator=torch.Generator().manual_seed(1))
    assert diag.condition_two(J, Q_rand) < 0.9


def test_system_matrix_is_the_jacobian_of_the_closed_loop_vector_field():
    """A = d(dv/dt, du/dt)/d(v, u) of tau_v dv = -v + W phi(v_prev) + b + Q u,
    du = e - alpha u + k_p de with e = r* - phi(v_L) (instantaneous apical and
    transmission)."""
    W, b, acts = _net([5, 4, 3, 2])
    x = torch.randn(1, 5, dtype=DT)
    vs, _ = feedforward(x, W, b, acts)
    Q = torch.randn(9, 2, dtype=DT)
    alpha, k_p, tau = 0.1, 1.5, 0.2
    sizes = [4, 3, 2]

    def field(state):
        v = list(torch.split(state[:9], sizes))
        u = state[9:]
        q = list(torch.split(Q, sizes))
        r_prev, dv = x[0], []
        for i in range(3):
            dv.append((-v[i] + W[i] @ r_prev + b[i] + q[i] @ u) / tau)
            r_prev = phi(v[i], acts[i])
        e = -phi(v[2], acts[2])  # r* is a constant: it drops out of the Jacobian
        de = -dv[2]  # linear output: phi' = 1
        return torch.cat([*dv, e - alpha * u + k_p * de])

    state0 = torch.cat([vs[0][0], vs[1][0], vs[2][0], 0.3 * torch.ones(2, dtype=DT)])
    ref = torch.autograd.functional.jacobian(field, state0)
    A = diag.system_matrix(vs, W, Q, acts, alpha, k_p, tau)
    torch.testing.assert_close(A[0], ref)


def test_weight_product_feedback_is_stable_random_feedback_can_be_unstable():
    W, b, acts = _net([6, 5, 4, 3])
    x = torch.randn(4, 6, dtype=DT)
    vs, _ = feedforward(x, W, b, acts)
    Q = torch.cat(weight_product_feedback(W))
    A = diag.system_matrix(vs, W, Q, acts, alpha=1e-3, k_p=2.0, tau_v=0.2)
    assert float(diag.max_real_eigenvalue(A).max()) < 0
    A_bad = diag.system_matrix(vs, W, -Q, acts, alpha=1e-3, k_p=2.0, tau_v=0.2)
    assert float(diag.max_real_eigenvalue(A_bad).max()) > 0


def test_angle_helpers():
    a = torch.tensor([1.0, 0.0], dtype=DT)
    assert diag.angle(a, 3 * a) == pytest.approx(0.0)
    assert diag.angle(a, torch.tensor([0.0, 2.0], dtype=DT)) == pytest.approx(90.0)
    upd = [(torch.ones(2, 2, dtype=DT), torch.ones(2, dtype=DT))]
    assert diag.layer_angles(upd, [(-u, -v) for u, v in upd]) == [pytest.approx(180.0)]


def test_bp_update_is_negative_gradient():
    W, b, acts = _net([4, 3, 2])
    x, y = torch.randn(5, 4, dtype=DT), torch.randint(0, 2, (5,))
    upd = diag.bp_update(x, y, W, b, acts, torch.nn.functional.cross_entropy)
    eps = 1e-6
    Wp = [w.clone() for w in W]
    Wp[0][1, 2] += eps
    f = lambda ws: torch.nn.functional.cross_entropy(feedforward(x, ws, b, acts)[1][-1], y)  # noqa: E731
    fd = (f(Wp) - f(W)) / eps
    assert float(-upd[0][0][1, 2]) == pytest.approx(float(fd), rel=1e-4)


def _orthogonal(n, g):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=DT))
    return q


def _theorem3_worst_angle(alpha: float) -> float:
    """Linear network with norm-preserving (orthogonal) hidden weights and zero
    biases: Condition 1 holds for unit-norm inputs; Q = J^T satisfies Condition 2.
    Then the DFC-SSA update tends to the minimum-norm update as alpha -> 0."""
    g = torch.Generator().manual_seed(3)
    n, n_L = 8, 3
    W = [_orthogonal(n, g), _orthogonal(n, g), torch.randn(n_L, n, generator=g, dtype=DT)]
    b = [torch.zeros(n, dtype=DT), torch.zeros(n, dtype=DT), torch.zeros(n_L, dtype=DT)]
    acts = ["linear"] * 3
    x = torch.randn(4, n, generator=g, dtype=DT)
    x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True)
    y = torch.randint(0, n_L, (4,), generator=g)
    vs, rs = feedforward(x, W, b, acts)
    assert diag.condition_one(x, rs) < 1e-12
    J = full_jacobian(vs, W, acts)  # input-independent in a linear network
    Q = list(torch.split(J[0].t().contiguous(), [n, n, n_L]))
    assert diag.condition_two(J, torch.cat(Q)) == pytest.approx(1.0)
    r_star = output_target(rs[-1], y, "classification", lam=1e-4)
    dv, r_ss, _ = ssa_steady_state(x, vs, rs, r_star - rs[-1], W, b, Q, acts, alpha)
    ssa = [(-gw, -gb) for gw, gb in steady_state_gradients(x, dv, r_ss, W, b, acts)]
    mn = diag.min_norm_update(x, vs, rs, r_star - rs[-1], W, acts, damping=0.0)
    return max(diag.layer_angles(ssa, mn))


def test_theorem3_ssa_aligns_with_min_norm_in_linear_network():
    angles = [_theorem3_worst_angle(a) for a in (1e-1, 1e-3, 1e-5)]
    assert angles[2] < angles[1] < angles[0]
    assert angles[1] < 0.1 and angles[2] < 0.01
