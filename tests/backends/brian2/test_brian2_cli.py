"""``neurosim simulate``: both backends write the same trace keys, within 1e-9 relative."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import neurosim
from neurosim.cli.simulate import default_inputs, run_backend

ROOT = Path(__file__).resolve().parents[3]
CIRCUIT = ROOT / "examples" / "circuits" / "dfc_15_10_10_5.yaml"
RTOL = 1e-9


def _assert_same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        assert a[k].shape == b[k].shape, k
        err = np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(b[k])), 1e-300)
        assert err <= RTOL, f"{k}: relative error {err:.3g}"


def test_run_backend_torch_and_brian2_agree() -> None:
    pytest.importorskip("neurosim.backends.torch", reason="torch backend not available")
    testing = pytest.importorskip("neurosim.testing")
    model = testing.dfc_model((15, 10, 10, 5))
    inputs = default_inputs(model, seed=1)
    record = ["h1.v", "h3.r", "ctrl.u"]
    b = run_backend(model, "brian2", inputs, 80, record=record)
    t = run_backend(model, "torch", inputs, 80, record=record)
    _assert_same(b, t)


@pytest.mark.skipif(
    not hasattr(neurosim, "load_circuit") or not CIRCUIT.is_file(),
    reason="needs the frontend (neurosim.load_circuit) and examples/circuits/dfc_15_10_10_5.yaml",
)
def test_cli_simulate_writes_equal_traces_for_both_backends(tmp_path: Path) -> None:
    from neurosim.cli.main import main

    for backend in ("torch", "brian2"):
        code = main(["simulate", str(CIRCUIT), "--backend", backend, "--steps", "60",
                     "--out", str(tmp_path / backend)])  # fmt: skip
        assert code == 0
        assert (tmp_path / backend / "traces.png").is_file()
    b = dict(np.load(tmp_path / "brian2" / "traces.npz"))
    t = dict(np.load(tmp_path / "torch" / "traces.npz"))
    assert b, "no probed variables written"
    _assert_same(b, t)


def test_cli_simulate_takes_options_from_the_file(tmp_path: Path, capsys) -> None:
    """``simulation:`` options (backend, steps, batch, seed) apply unless the command
    line overrides them; both backends still agree for a batch."""
    from neurosim.cli.main import main

    text = CIRCUIT.read_text().replace(
        "simulation: {dt: 0.005, steps: 1000, dtype: float64}",
        "simulation: {dt: 0.005, steps: 20, dtype: float64, backend: brian2, batch: 3, seed: 4}",
    )
    assert "backend: brian2" in text
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert main(["simulate", str(path), "--out", str(tmp_path / "b"), "--no-plot"]) == 0
    assert "batch 3 (brian2/numpy, float64)" in capsys.readouterr().out
    assert main(["simulate", str(path), "--backend", "torch", "--out", str(tmp_path / "t"),
                 "--no-plot"]) == 0  # fmt: skip
    b = dict(np.load(tmp_path / "b" / "traces.npz"))
    t = dict(np.load(tmp_path / "t" / "traces.npz"))
    assert b["l1.v"].shape == (21, 3, 10)
    _assert_same(b, t)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("tau_v: 0.2", "tau_v: fast", ["c.yaml:", "nodes[1].tau_v", "expected float", "'fast'"]),
        ("steps: 1000", "stepz: 1000", ["simulation.stepz", "unknown key", "'steps'"]),
        ("dtype: float64", "dtype: float32", ["brian2 backend computes in float64", "--backend"]),
        ("dtype: float64", "dtype: float64, target: gpu",
         ["simulation.target='gpu'", "'cpp_standalone'"]),
    ],
)  # fmt: skip
def test_cli_simulate_errors_are_messages_not_tracebacks(tmp_path, capsys, old, new, words):
    from neurosim.cli.main import main

    path = tmp_path / "c.yaml"
    text = CIRCUIT.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    code = main(["simulate", str(path), "--backend", "brian2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("neurosim simulate: error: ")
    assert "Traceback" not in err
    for word in words:
        assert word in err
