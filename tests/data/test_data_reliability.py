"""Issue 12 §3: a user-named data directory is read-only to neurosim; queries change
nothing; Fashion-MNIST is verified by published checksums; bad directories are errors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from data_helpers import FILENAMES, idx_set_for, small_arrays, write_set

from neurosim.data import DataError, RejectedFileWarning, info, load_dataset
from neurosim.data import images as images_module
from neurosim.data.fetcher import KNOWN_FILES, FileSpec, IntegrityError, verify_candidate
from neurosim.data.files import read_manifest
from neurosim.data.idx import encode_idx
from neurosim.data.mnist import FASHION_OFFICIAL, ROLES, fetch_idx_set
from neurosim.data.sources import LocalDir


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and modification time."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def fake_set(tmp_cache, monkeypatch):
    """Small MNIST-layout arrays registered as the 'mnist' set (published SHA-256s = theirs)."""
    arrays = small_arrays(n_train=40, n_test=10)
    monkeypatch.setitem(images_module.IMAGE_SETS, "mnist", idx_set_for(arrays))
    return arrays


def test_gzip_without_suffix_is_read_in_place_and_nothing_changes(tmp_path, fake_set):
    user = tmp_path / "user"
    (user / "mnist").mkdir(parents=True)
    for role, array in fake_set.items():  # gzip content, raw names
        (user / "mnist" / FILENAMES[role]).write_bytes(gzip.compress(encode_idx(array)))
    before = _snapshot(user)
    ds = load_dataset("mnist", data_dir=user, val_size=4)
    assert len(ds.train) == 36 and ds.meta["location"] == str(user / "mnist")
    info("mnist", data_dir=user)
    assert _snapshot(user) == before and not (user / "mnist" / "manifest.json").exists()


def test_a_bad_user_file_is_reported_left_alone_and_the_cache_used(tmp_path, fake_set):
    user, mirror = tmp_path / "user", tmp_path / "mirror"
    write_set(user, fake_set)
    write_set(mirror, fake_set, compress=True)
    bad = user / FILENAMES["train_labels"]
    bad.write_bytes(bad.read_bytes()[:-1] + b"\x07")
    before = _snapshot(user)
    idx_set = images_module.IMAGE_SETS["mnist"]
    with pytest.warns(RejectedFileWarning, match=f"{bad}: SHA-256 .* left as it is"):
        files = fetch_idx_set(idx_set, data_dir=user, sources=[LocalDir(mirror)])
    assert _snapshot(user) == before
    assert [f.path.parent for f in files] == [user, Path(os.environ["NEUROSIM_CACHE"]) / "mnist",
                                              user, user]  # fmt: skip


def test_info_is_a_query_it_deletes_and_writes_nothing(tmp_path, fake_set, tmp_cache):
    mirror = tmp_path / "mirror"
    write_set(mirror, fake_set, compress=True)
    idx_set = images_module.IMAGE_SETS["mnist"]
    files = fetch_idx_set(idx_set, sources=[LocalDir(mirror)])  # into the cache
    target = files[2].path
    target.write_bytes(target.read_bytes()[:-5])  # truncated cache copy
    before = _snapshot(tmp_cache)
    with pytest.raises(DataError, match=f"{target}.*run `neurosim data fetch mnist`"):
        info("mnist")
    assert _snapshot(tmp_cache) == before


def test_a_load_repairs_only_the_cache(tmp_path, fake_set, tmp_cache):
    mirror = tmp_path / "mirror"
    write_set(mirror, fake_set, compress=True)
    idx_set = images_module.IMAGE_SETS["mnist"]
    target = fetch_idx_set(idx_set, sources=[LocalDir(mirror)])[0].path
    target.write_bytes(b"\0" * 10)
    with pytest.warns(UserWarning, match="deleted this cache copy"):
        fetch_idx_set(idx_set, sources=[LocalDir(mirror)])
    assert target.read_bytes() == encode_idx(fake_set["train_images"])
    assert read_manifest(target.parent)[target.name]["source"] == str(LocalDir(mirror))


def _fashion_like(arrays):
    """A Fashion-MNIST-style set: published checksums only for the .gz files."""
    files, blobs = {}, {}
    for role in ROLES:
        blob = gzip.compress(encode_idx(arrays[role]), mtime=0)
        spec = idx_set_for(arrays).files[role]
        files[role] = FileSpec(spec.filename, spec.magic, size=spec.size,
                               gz_sha256=hashlib.sha256(blob).hexdigest(),
                               gz_md5=hashlib.md5(blob).hexdigest())  # fmt: skip
        blobs[role] = blob
    fake = dataclasses.replace(FASHION_OFFICIAL, files=files, sizes=(40, 10))
    return fake, blobs


def test_mnist_files_are_refused_as_fashion_mnist_and_named(tmp_path, tmp_cache, monkeypatch):
    fashion_arrays, mnist_arrays = small_arrays(40, 10, seed=1), small_arrays(40, 10, seed=2)
    for role in ("train_labels", "test_labels"):  # small_arrays' labels do not depend on seed
        fashion_arrays[role] = 9 - fashion_arrays[role]
    fashion, blobs = _fashion_like(fashion_arrays)
    digits = idx_set_for(mnist_arrays)
    for spec in digits.specs():
        monkeypatch.setitem(KNOWN_FILES, spec.sha256, f"MNIST's {spec.filename}")
    user = tmp_path / "user"
    write_set(user / "fashion-mnist", mnist_arrays)  # the wrong data set, raw
    with pytest.warns(RejectedFileWarning), pytest.raises(DataError) as err:
        fetch_idx_set(fashion, data_dir=user, sources=[])
    assert "this is MNIST's train-images-idx3-ubyte, not the" in str(err.value)
    write_set(user / "fashion-mnist", mnist_arrays, compress=True)  # gzip does not help
    with pytest.raises(IntegrityError, match="this is MNIST's train-images-idx3-ubyte"):
        verify_candidate(user / "fashion-mnist" / "train-images-idx3-ubyte.gz",
                         fashion.files["train_images"])  # fmt: skip
    original = tmp_path / "original"
    original.mkdir()
    for role, blob in blobs.items():  # the original .gz files verify
        (original / f"{FILENAMES[role]}.gz").write_bytes(blob)
    files = fetch_idx_set(fashion, data_dir=original, sources=[])
    assert {f.verified for f in files} == {"sha256 of the .gz (published)"}


def test_real_mnist_labels_are_named_when_offered_as_fashion_mnist(tmp_path):
    from platformdirs import user_cache_dir

    real = Path(user_cache_dir("neurosim")) / "data" / "mnist" / "t10k-labels-idx1-ubyte"
    if not real.is_file():
        pytest.skip(f"no MNIST in the default cache ({real}); run `neurosim data fetch mnist`")
    copy = tmp_path / "t10k-labels-idx1-ubyte.gz"
    copy.write_bytes(gzip.compress(real.read_bytes()))
    with pytest.raises(IntegrityError, match="this is MNIST's t10k-labels-idx1-ubyte"):
        verify_candidate(copy, FASHION_OFFICIAL.files["test_labels"])


def test_data_dir_that_is_a_file_or_missing(tmp_path, tmp_cache, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(DataError, match=f"{afile} is a file, not a directory"):
        load_dataset("mnist", data_dir=afile)
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"\$NEUROSIM_DATA / --data-dir .*nowhere does not exist"):
        info("mnist")


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_a_read_only_data_dir_and_cache_are_enough_to_read(tmp_path):
    """As an unprivileged user (root ignores permissions: then 'nobody' via setpriv),
    with the data directory and the cache both read-only, load and info work."""
    arrays = small_arrays(n_train=40, n_test=10)
    base = Path(tempfile.mkdtemp())
    try:
        user, cache = base / "data", base / "cache"
        write_set(user, arrays, compress=True)
        cache.mkdir()
        specs = {role: dataclasses.asdict(s) for role, s in idx_set_for(arrays).files.items()}
        (base / "specs.json").write_text(json.dumps(specs))
        for path in (base, user, cache):
            path.chmod(0o555)
        for f in user.iterdir():
            f.chmod(0o444)
        (base / "specs.json").chmod(0o444)
        code = (
            "import json, sys, dataclasses\n"
            "from neurosim.data import images, info, load_dataset\n"
            "from neurosim.data.fetcher import FileSpec\n"
            "files = {r: FileSpec(**s) for r, s in json.load(open(sys.argv[1])).items()}\n"
            "images.IMAGE_SETS['mnist'] = dataclasses.replace(images.IMAGE_SETS['mnist'], "
            "files=files, sizes=(40, 10))\n"
            "print(len(load_dataset('mnist', data_dir=sys.argv[2], val_size=4).train))\n"
            "print(info('mnist', data_dir=sys.argv[2])['n_test'])\n"
        )
        cmd = [sys.executable, "-c", code, str(base / "specs.json"), str(user)]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: cannot drop privileges")
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env = {**os.environ, "NEUROSIM_CACHE": str(cache)}
        env.pop("NEUROSIM_DATA", None)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    finally:
        for root, dirs, _ in os.walk(base):
            for d in dirs:
                (Path(root) / d).chmod(0o755)
        base.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["36", "10"]
