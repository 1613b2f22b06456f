"""BP with the paper's MNIST config reaches ~97 % test accuracy in a few epochs (real data)."""

from __future__ import annotations

import pytest

from neurosim.training import default_config, train


@pytest.mark.slow
@pytest.mark.network
def test_bp_mnist_three_epochs(tmp_path):
    from neurosim.data import DataError

    cfg = default_config("bp", "mnist").with_overrides(epochs=3)
    try:
        res = train(cfg, tmp_path / "bp", progress=False)
    except DataError as err:
        pytest.skip(f"MNIST unavailable: {err}")
    assert res["test_accuracy_at_best"] >= 0.965, res
