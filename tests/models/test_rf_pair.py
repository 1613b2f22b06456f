"""The Recirculation pair learns the pseudoinverse (recirculation_pinv.md §2.1, E1-E1c).

Small pairs, a few thousand online steps on the torch backend (float64, batch 32).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim import Normal
from neurosim.circuits import ReciprocalPair
from neurosim.models.rf.pair import Anneal, PairTrainer, encoder_sweeps, record_points

pytestmark = pytest.mark.usefixtures("one_thread")


def test_noise_driven_pair_satisfies_all_four_penrose_conditions():
    """White noise + annealed eta_B: r1-r3 to rounding, r4 and d below 5e-2 in 3000 steps."""
    trainer = PairTrainer(ReciprocalPair("p", 8, hidden=4, eta_A=0.02, eta_B=0.1), seed=0)
    start = trainer.residuals()
    hist = trainer.train(3000, every=1000, anneal=Anneal(20))
    end = hist.final()
    assert start["pinv_dist"] == pytest.approx(1.0)  # B_0 = 0
    for key in ("r1", "r2", "r3"):
        assert end[key] < 1e-10, key
    assert end["r4"] < 5e-2 and end["pinv_dist"] < 3e-2
    assert hist.steps[-1] == 3000 and end["eta_B"] == pytest.approx(0.1 * 20 / 2500.5, rel=0.2)


def _correlated(m: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    L = np.diag(np.geomspace(3.0, 0.1, m)) @ np.linalg.qr(rng.normal(size=(m, m)))[0]
    return L, L @ L.T


def test_data_driven_pair_learns_the_sigma_weighted_inverse_not_the_pseudoinverse():
    """Correlated data: r1-r3 still vanish, r4 and d plateau well above 0, and B is
    Sigma A^T (A Sigma A^T)^-1 of the current A (§2.1, derived)."""
    L, S = _correlated(8)

    def data(start: int, count: int, batch: int) -> np.ndarray:
        return np.random.default_rng(start).normal(size=(count, batch, 8)) @ L.T

    pair = ReciprocalPair("p", 8, hidden=4, eta_A=0.02, eta_B=0.1 / 9, drive="data", sigma=0.0)
    trainer = PairTrainer(pair, seed=0, data=data)
    hist = trainer.train(3000, every=500, anneal=Anneal(200))
    end = hist.final()
    for key in ("r1", "r2", "r3"):
        assert end[key] < 1e-8, key
    half = hist.as_arrays()
    mid = int(np.searchsorted(half["steps"], 1500))
    for key in ("r4", "pinv_dist"):
        assert end[key] > 0.2, key  # condition 4 is not reached ...
        assert abs(half[key][mid] / end[key] - 1) < 0.1, key  # ... and it has plateaued
    A, B = trainer.A.numpy(), trainer.B.numpy()
    B_sigma = S @ A.T @ np.linalg.inv(A @ S @ A.T)
    assert np.linalg.norm(B - B_sigma) / np.linalg.norm(B_sigma) < 2e-2


@pytest.mark.parametrize("random_B0", [True, False])
def test_expanding_pair_keeps_the_initial_complement_frozen(random_B0: bool):
    """n > m: B P_perp never changes (§2.1); with B_0 = 0 every residual vanishes."""
    init_B = Normal(0.3) if random_B0 else ReciprocalPair("q", 1).init_B
    pair = ReciprocalPair("p", 4, hidden=8, eta_A=0.02, eta_B=0.1, init_B=init_B)
    trainer = PairTrainer(pair, seed=2)
    A0, B0 = trainer.A.clone(), trainer.B.clone()
    end = trainer.train(2000, every=1000).final()
    A = trainer.A
    P_perp = torch.eye(8, dtype=A.dtype) - A @ torch.linalg.pinv(A)
    P0_perp = torch.eye(8, dtype=A.dtype) - A0 @ torch.linalg.pinv(A0)
    assert torch.allclose(P_perp, P0_perp, atol=1e-10)  # range(A) itself does not move
    assert torch.allclose(trainer.B @ P_perp, B0 @ P_perp, atol=1e-10)
    assert end["r1"] < 1e-10 and end["r2"] < 1e-10 and end["r4"] < 1e-10
    if random_B0:
        frozen = float(torch.linalg.matrix_norm(B0 @ P_perp) / torch.linalg.matrix_norm(
            torch.linalg.pinv(A)))  # fmt: skip
        assert end["pinv_dist"] == pytest.approx(frozen, rel=1e-6) and frozen > 0.1
        assert end["r3"] > 0.05
    else:
        assert end["pinv_dist"] < 1e-10 and end["r3"] < 1e-10


def test_frozen_A_tracks_the_pseudoinverse_of_a_given_matrix():
    """The deep network's use (§2.4): A frozen, B learned from noise alone. Without the
    A-rule, ``AB = I`` is reached only at B's own (annealed) rate, so r1 is small but not
    at rounding level."""
    pair = ReciprocalPair("p", 6, hidden=3, eta_A=0.0, eta_B=0.2)
    trainer = PairTrainer(pair, seed=4)
    A0 = trainer.A.clone()
    end = trainer.train(3000, every=1000, anneal=Anneal(30)).final()
    assert torch.equal(trainer.A, A0)
    assert end["pinv_dist"] < 3e-2 and end["r1"] < 1e-2


def test_record_points_and_bad_arguments():
    pts = record_points(1000, 250)
    assert pts[0] == 1 and pts[-1] == 1000 and {250, 500, 750} <= set(pts)
    assert pts == sorted(set(pts))
    with pytest.raises(ValueError, match="drive='data'"):
        PairTrainer(ReciprocalPair("p", 3, hidden=2, drive="data", sigma=0.0))
    with pytest.raises(ValueError, match="batch=0"):
        PairTrainer(ReciprocalPair("p", 3, hidden=2), batch=0)
    with pytest.raises(ValueError, match="t0=0"):
        Anneal(0)


def test_original_recirculation_learns_the_4_2_4_encoder():
    """Hinton & McClelland's procedure with the replication's settings (recirculation_pinv.md
    §2.2: logistic units, lambda = 0.75, rate 20, biases, one pattern per step in a random
    order): every one-hot pattern is reconstructed within 0.1 in under 400 sweeps."""
    for seed in range(3):
        sweeps = encoder_sweeps(seed)
        assert sweeps is not None, f"seed {seed}: the 4-2-4 encoder was not learned"
        assert sweeps > 1  # it has to learn: the random initial weights do not reconstruct
