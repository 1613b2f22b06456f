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


def _official_fashion_dir(root):
    """Full-size official-layout Fashion-MNIST raw files (zeros, balanced labels)."""
    directory = root / "fashion-mnist"
    directory.mkdir(parents=True)
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        (directory / f"{prefix}-labels-idx1-ubyte").write_bytes(encode_idx(labels))
        (directory / f"{prefix}-images-idx3-ubyte").write_bytes(
            encode_idx(np.zeros((n, 28, 28), np.uint8))
        )
    return root


def test_data_info_on_fake_data_dir(tmp_path, tmp_cache, capsys):
    root = _official_fashion_dir(tmp_path / "d")
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "n_train              60000" in out and "n_test               10000" in out
    assert "0:6000 1:6000" in out and "IDX structure only" in out
    assert str(root / "fashion-mnist") in out
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(root), "--json"]) == 0
    details = json.loads(capsys.readouterr().out)
    assert details["test_class_counts"] == [1000] * 10


def test_data_info_missing_says_how_to_fetch(tmp_path, tmp_cache, capsys):
    assert main(["data", "info", "mnist", "--data-dir", str(tmp_path / "empty")]) == 1
    assert "could not obtain a verified" in capsys.readouterr().err


def test_data_fetch_synthetic(capsys):
    assert main(["data", "fetch", "student-teacher"]) == 0
    assert "nothing to fetch" in capsys.readouterr().out


def test_bench_runs_scripts(tmp_path, capsys):
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "simulate.py").write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "path = args[args.index('--json') + 1]\n"
        "json.dump({'quick': '--quick' in args}, open(path, 'w'))\n"
    )
    assert main(["bench", "--list", "--bench-dir", str(bench)]) == 0
    listing = capsys.readouterr().out
    assert "simulate     present" in listing and "backends     missing" in listing
    out = tmp_path / "res.json"
    assert (
        main(["bench", "simulate", "--quick", "--json", str(out), "--bench-dir", str(bench)]) == 0
    )
    assert json.loads(out.read_text()) == {"quick": True}
    assert main(["bench", "all", "--json", str(out), "--bench-dir", str(bench)]) == 0
    assert json.loads((tmp_path / "res_simulate.json").read_text()) == {"quick": False}
    assert main(["bench", "backends", "--bench-dir", str(bench)]) == 2
    (bench / "train_epoch.py").write_text("raise SystemExit(3)\n")
    assert main(["bench", "train_epoch", "--bench-dir", str(bench)]) == 3
