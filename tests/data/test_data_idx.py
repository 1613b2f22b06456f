"""IDX parsing: raw and gzip round trips, clear errors for bad magic and truncation."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from neurosim.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    IdxFormatError,
    encode_idx,
    read_idx,
    write_idx,
)


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path, compress):
    images = np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    path = write_idx(tmp_path / "imgs", images, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path, expect_magic=IMAGES_MAGIC)
    assert back.dtype == np.uint8 and back.shape == (7, 28, 28)
    np.testing.assert_array_equal(back, images)


def test_header_layout_matches_mnist():
    data = encode_idx(np.zeros(5, dtype=np.uint8))
    assert int.from_bytes(data[:4], "big") == LABELS_MAGIC
    assert int.from_bytes(data[4:8], "big") == 5 and len(data) == 8 + 5
    assert int.from_bytes(encode_idx(np.zeros((2, 28, 28), np.uint8))[:4], "big") == IMAGES_MAGIC


def test_bad_magic_names_file(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(20))
    with pytest.raises(IdxFormatError, match="not-idx.*magic number"):
        read_idx(path)


def test_swapped_files_are_reported(tmp_path):
    path = write_idx(tmp_path / "labels", np.arange(10, dtype=np.uint8))
    with pytest.raises(IdxFormatError, match="magic number 2049, expected 2051"):
        read_idx(path, expect_magic=IMAGES_MAGIC)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_file(tmp_path, compress):
    data = encode_idx(np.ones((4, 28, 28), dtype=np.uint8))[:-100]
    path = tmp_path / "trunc"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IdxFormatError, match=r"trunc: .*truncated"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(encode_idx(np.ones(50, np.uint8)))[:-12])
    with pytest.raises(IdxFormatError, match="broken.gz: gzip stream"):
        read_idx(path)


def test_encode_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        encode_idx(np.zeros(3, dtype=np.float32))
