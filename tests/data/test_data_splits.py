"""Validation split determinism, normalisation, and load_dataset on a fake MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import idx_set_for, small_arrays, write_set

from neurosim.data import DataError, load_dataset
from neurosim.data.files import read_manifest
from neurosim.data.splits import MNIST_MEAN, MNIST_STD, normalize_images, validation_split


def test_validation_split_is_seeded_and_partitions():
    tr, va = validation_split(100, 20, seed=42)
    tr2, va2 = validation_split(100, 20, seed=42)
    np.testing.assert_array_equal(va, va2)
    np.testing.assert_array_equal(tr, tr2)
    assert len(va) == 20 and len(tr) == 80
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    assert not np.array_equal(va, validation_split(100, 20, seed=43)[1])
    assert len(validation_split(10, 0)[1]) == 0
    with pytest.raises(ValueError, match="val_size=10 must be in"):
        validation_split(10, 10)


def test_normalisation():
    x = np.array([[[0, 255]]], dtype=np.uint8)
    out = normalize_images(x, MNIST_MEAN, MNIST_STD)
    assert out.dtype == np.float32 and out.shape == (1, 2)
    np.testing.assert_allclose(out[0], [-MNIST_MEAN / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(normalize_images(x)[0], [0.0, 1.0])


@pytest.fixture
def fake_mnist(tmp_path, tmp_cache, monkeypatch):
    arrays = small_arrays(n_train=40, n_test=10)
    monkeypatch.setitem(
        __import__("neurosim.data.images", fromlist=["IMAGE_SETS"]).IMAGE_SETS,
        "mnist",
        idx_set_for(arrays),
    )
    user = tmp_path / "user"
    write_set(user, arrays, compress=True)
    return arrays, user


def test_load_dataset_from_user_dir(fake_mnist):
    arrays, user = fake_mnist
    ds = load_dataset("mnist", data_dir=user, val_size=8, split_seed=3)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (32, 8, 10)
    assert ds.train.X.shape == (32, 784) and ds.train.X.dtype == np.float32
    assert ds.train.y.dtype == np.int64 and ds.n_classes == 10
    assert ds.meta["location"] == str(user)  # read in place
    assert "local directory" in ds.meta["source"]
    _, val_idx = validation_split(40, 8, seed=3)
    expected = normalize_images(arrays["train_images"][val_idx], MNIST_MEAN, MNIST_STD)
    np.testing.assert_array_equal(ds.val.X, expected)
    again = load_dataset("mnist", data_dir=user, val_size=8, split_seed=3)
    np.testing.assert_array_equal(again.train.y, ds.train.y)
    assert load_dataset("mnist", data_dir=user, val_size=0).val is None
    assert not (user / "mnist").exists() and not read_manifest(user)  # nothing written there


def test_env_data_dir_and_no_download(fake_mnist, monkeypatch, tmp_cache):
    _, user = fake_mnist
    with pytest.raises(DataError, match="could not obtain"):
        load_dataset("mnist", download=False)
    monkeypatch.setenv("NEUROSIM_DATA", str(user))
    assert len(load_dataset("mnist", download=False, val_size=0).test) == 10


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown data set 'cifar'.*mnist"):
        load_dataset("cifar")
