"""The neurosim command line: help, version, tolerant subcommands, data and bench."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from neurosim.cli import main as cli_main
from neurosim.cli.main import SUBCOMMANDS, main
from neurosim.data.idx import encode_idx


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "data" in out and "bench" in out
    assert SUBCOMMANDS == ("data", "train", "simulate", "bench", "sweep", "compare")


def test_entry_point_runs_as_module():
    done = subprocess.run([sys.executable, "-m", "neurosim.cli.main", "--version"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("neurosim ")


def test_broken_subcommand_is_listed_not_fatal(monkeypatch, capsys):
    real_import = cli_main.importlib.import_module

    def fake_import(name):
        if name == "neurosim.cli.train":
            raise RuntimeError("boom")
        return real_import(name)

    monkeypatch.setattr(cli_main.importlib, "import_module", fake_import)
    monkeypatch.setattr(cli_main, "SUBCOMMANDS", ("data", "train", "nonexistent"))
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "unavailable: import failed: RuntimeError: boom" in out and "nonexistent" not in out
    assert main(["train", "--anything"]) == 2
    assert "boom" in capsys.readouterr().err
    assert main(["data", "list"]) == 0


def test_data_list(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "student-teacher", "bouncing-ball"):
        assert name in out


def _official_fashion_dir(root, monkeypatch):
    """Full-size official-layout Fashion-MNIST .gz files (zeros, balanced labels), with
    the published checksums replaced by theirs."""
    import dataclasses
    import gzip
    import hashlib

    from neurosim.data import images

    directory = root / "fashion-mnist"
    directory.mkdir(parents=True)
    specs = dict(images.IMAGE_SETS["fashion-mnist"].files)
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        arrays = {
            "labels": (np.arange(n) % 10).astype(np.uint8),
            "images": np.zeros((n, 28, 28), np.uint8),
        }
        for kind, array in arrays.items():
            blob = gzip.compress(encode_idx(array), mtime=0)
            (directory / f"{prefix}-{kind}-idx{1 if kind == 'labels' else 3}-ubyte.gz").write_bytes(
                blob
            )
            role = f"{'train' if prefix == 'train' else 'test'}_{kind}"
            specs[role] = dataclasses.replace(
                specs[role], gz_sha256=hashlib.sha256(blob).hexdigest(),
                gz_md5=hashlib.md5(blob).hexdigest(),
            )  # fmt: skip
    fake = dataclasses.replace(images.IMAGE_SETS["fashion-mnist"], files=specs)
    monkeypatch.setitem(images.IMAGE_SETS, "fashion-mnist", fake)
    return root


def test_data_info_on_fake_data_dir(tmp_path, tmp_cache, capsys, monkeypatch):
    root = _official_fashion_dir(tmp_path / "d", monkeypatch)
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "n_train              60000" in out and "n_test               10000" in out
    assert "0:6000 1:6000" in out and "sha256 of the .gz (published)" in out
    assert str(root / "fashion-mnist") in out
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(root), "--json"]) == 0
    details = json.loads(capsys.readouterr().out)
    assert details["test_class_counts"] == [1000] * 10


def test_data_info_missing_says_how_to_fetch(tmp_path, tmp_cache, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "info", "mnist", "--data-dir", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert "could not obtain a verified" in err and "neurosim data fetch mnist" in err
    assert main(["data", "info", "mnist", "--data-dir", str(tmp_path / "nowhere")]) == 1
    assert "nowhere does not exist" in capsys.readouterr().err


def test_data_fetch_synthetic(capsys):
    assert main(["data", "fetch", "student-teacher"]) == 0
    assert "nothing to fetch" in capsys.readouterr().out


FAKE_BENCH = '''"""Fake benchmark: records how it was called.

Run time: about 2 s; --quick about 1 s (measured).
"""
import json, sys, time
if __name__ == "__main__":
    args = sys.argv[1:]
    open(__file__ + ".ran", "a").write("x")
    time.sleep(float(__import__("os").environ.get("FAKE_SLEEP", "0")))
    if "--json" in args:
        json.dump({"argv": args}, open(args[args.index("--json") + 1], "w"))
    print("fake table row")
'''


@pytest.fixture
def bench_dir(tmp_path):
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "simulate.py").write_text(FAKE_BENCH)
    (bench / "common.py").write_text("def helper():\n    pass\n")  # a helper, not listed
    return bench


def test_bench_without_a_name_lists_and_runs_nothing(bench_dir, capsys):
    assert main(["bench", "--bench-dir", str(bench_dir)]) == 0
    text = capsys.readouterr().out
    assert "simulate" in text and "Fake benchmark: records how it was called." in text
    assert "run time: about 2 s; --quick about 1 s (measured)." in text
    assert "common" not in text.replace(str(bench_dir), "")
    assert not (bench_dir / "simulate.py.ran").exists()
    assert main(["bench", "--list", "--bench-dir", str(bench_dir)]) == 0
    assert capsys.readouterr().out == text


def test_bench_passes_script_options_through(bench_dir, tmp_path, capsys):
    out = tmp_path / "res.json"
    argv = ["bench", "simulate", "--threads", "3", "--quick", "--json", str(out),
            "--bench-dir", str(bench_dir), "--models", "bp", "dfa"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(out.read_text())["argv"] == [
        "--quick", "--json", str(out), "--threads", "3", "--models", "bp", "dfa",
    ]  # fmt: skip
    text = capsys.readouterr().out
    assert "fake table row" in text and "== simulate: done after" in text


def test_bench_all_and_errors(bench_dir, tmp_path, capsys):
    out = tmp_path / "res.json"
    assert main(["bench", "all", "--json", str(out), "--bench-dir", str(bench_dir)]) == 0
    assert json.loads((tmp_path / "res_simulate.json").read_text())["argv"][0] == "--json"
    assert main(["bench", "all", "--threads", "1", "--bench-dir", str(bench_dir)]) == 2
    assert "options for a script go after its name" in capsys.readouterr().err
    assert main(["bench", "backends", "--bench-dir", str(bench_dir)]) == 2
    assert "there are: simulate" in capsys.readouterr().err
    failing = 'if __name__ == "__main__":\n    raise SystemExit(3)\n'
    (bench_dir / "train_epoch.py").write_text(failing)
    assert main(["bench", "train_epoch", "--bench-dir", str(bench_dir)]) == 3


def test_bench_reports_elapsed_time_of_a_silent_script(bench_dir, monkeypatch, capsys):
    from neurosim.cli import bench

    monkeypatch.setattr(bench, "HEARTBEAT_SECONDS", 0.3)
    monkeypatch.setenv("FAKE_SLEEP", "1.5")
    assert main(["bench", "simulate", "--bench-dir", str(bench_dir)]) == 0
    text = capsys.readouterr().out
    assert "== simulate: still running, " in text and " elapsed" in text
    assert "== run time: about 2 s" in text


def test_every_shipped_benchmark_states_its_run_time():
    from neurosim.cli.bench import available, default_bench_dir

    shipped = available(default_bench_dir())
    assert {"simulate", "train_epoch", "backends", "precision", "step_profile"} <= set(shipped)
    for b in shipped.values():
        assert "--quick" in b.run_time, (b.name, b.run_time)  # full and quick run times
