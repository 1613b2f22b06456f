"""Penrose residuals of a matrix pair and the product of pseudoinverses of a chain (E2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.models.rf.penrose import (
    RESIDUALS,
    chain_product,
    feedback_product,
    penrose_residuals,
)

EPS = 1e-12


def _chain(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(n_out, n_in, generator=g, dtype=torch.float64) / n_in**0.5
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def test_exact_pseudoinverse_has_zero_residuals_and_others_do_not():
    (A,) = _chain([7, 4])
    res = penrose_residuals(A, torch.linalg.pinv(A))
    assert list(res) == list(RESIDUALS)
    assert max(res.values()) < EPS
    # a right inverse that is not the pseudoinverse: conditions 1-3 hold, 4 fails
    N = torch.linalg.svd(A).Vh[4:].T  # null space of A (7 x 3)
    B = torch.linalg.pinv(A) + N @ torch.ones(3, 4, dtype=A.dtype)
    res = penrose_residuals(A, B)
    assert res["r1"] < EPS and res["r2"] < EPS and res["r3"] < EPS
    assert res["r4"] > 0.1 and res["pinv_dist"] > 0.1
    # numpy arrays and mixed precision are accepted; zero B gives nan where 0/0
    res = penrose_residuals(A.numpy(), np.zeros((7, 4), dtype=np.float32))
    assert np.isnan(res["r2"]) and res["pinv_dist"] == pytest.approx(1.0)


def test_pairs_that_do_not_chain_are_refused():
    with pytest.raises(ValueError, match=r"\(3, 5\).*\(3, 5\).*do not chain.*\(5, 3\)"):
        penrose_residuals(torch.ones(3, 5), torch.ones(3, 5))
    with pytest.raises(ValueError, match="2-d float"):
        penrose_residuals(torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match=r"chain_product.*\(2, 4\).*\(3, 4\).*n_i x n_\(i-1\)"):
        chain_product([torch.ones(3, 4), torch.ones(2, 4)])
    with pytest.raises(ValueError, match=r"feedback_product.*\(4, 3\).*\(2, 4\)"):
        feedback_product([torch.ones(4, 3), torch.ones(2, 4)])


def test_product_of_pinvs_of_a_contracting_chain_is_a_123_inverse():
    """E2 / C4 (recirculation_pinv.md §2.3): J P = I by telescoping, so conditions 1-3
    hold to rounding; P J is not symmetric, and P is not pinv(J) (reverse-order law)."""
    Ws = _chain([30, 20, 12, 6, 3])
    J = chain_product(Ws)
    P = feedback_product([torch.linalg.pinv(W) for W in Ws])
    torch.testing.assert_close(J @ P, torch.eye(3, dtype=J.dtype), rtol=0, atol=1e-12)
    res = penrose_residuals(J, P)
    assert res["r1"] < EPS and res["r2"] < EPS and res["r3"] < EPS
    assert res["r4"] > 0.1 and res["pinv_dist"] > 0.01


def test_an_expanding_layer_breaks_the_telescoping():
    Ws = _chain([30, 12, 20, 6, 3])  # 12 -> 20 expands
    J = chain_product(Ws)
    P = feedback_product([torch.linalg.pinv(W) for W in Ws])
    res = penrose_residuals(J, P)
    assert res["r1"] > 1e-2 and res["r3"] > 1e-2
