"""``neurosim simulate`` (torch backend; brian2 agreement is in tests/backends/brian2):
defaults in --help, --record, refusing an empty recording, time in traces.npz, the
trace figure, progress and elapsed time, divergence as an error (issues 11 and 12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurosim.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
CIRCUIT = ROOT / "examples" / "circuits" / "dfc_15_10_10_5.yaml"


def _edit(tmp_path: Path, old: str, new: str) -> Path:
    text = CIRCUIT.read_text()
    assert old in text
    path = tmp_path / "c.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _without_probes(tmp_path: Path) -> Path:
    lines, out, skip = CIRCUIT.read_text().splitlines(), [], False
    for line in lines:
        if line.startswith("probes:"):
            out.append("probes: []")
            skip = True
        elif not (skip and line.startswith("- ")):
            skip = False
            out.append(line)
    path = tmp_path / "noprobes.yaml"
    path.write_text("\n".join(out) + "\n")
    return path


def test_help_shows_every_default(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "None" not in out
    for text in ("else torch)", "else numpy)", "else 1000)", "else float64)", "else 0)",
                 "(default: auto)", "(default: the file's probes only)"):  # fmt: skip
        assert text in out, text


def test_empty_recording_is_refused_before_simulating(tmp_path, capsys) -> None:
    path = _without_probes(tmp_path)
    assert main(["simulate", str(path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "nothing would be recorded" in err and "--record VAR" in err
    assert not (tmp_path / "o").exists()


def test_record_adds_variables_and_traces_carry_time(tmp_path, capsys) -> None:
    path = _without_probes(tmp_path)
    out = tmp_path / "o"
    code = main(["simulate", str(path), "--steps", "40", "--record", "l1.v", "ctrl.e",
                 "--out", str(out), "--progress", "text"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "40 steps of dt=0.005" in captured.out and " s -> " in captured.out
    assert "simulating: 40/40 steps (100%)" in captured.err
    d = np.load(out / "traces.npz")
    assert set(d.files) == {"l1.v", "ctrl.e", "t", "dt"}
    assert float(d["dt"]) == 0.005 and d["t"].shape == (41,)
    assert d["t"][-1] == pytest.approx(40 * 0.005)


def test_record_unknown_variable_suggests(tmp_path, capsys) -> None:
    code = main(["simulate", str(CIRCUIT), "--record", "l1.vv", "--out", str(tmp_path / "o")])
    assert code == 1
    assert "did you mean 'l1.v'" in capsys.readouterr().err


def test_trace_figure_has_units_legend_and_title(tmp_path) -> None:
    from neurosim.traces import TIME_LABEL, trace_figure

    traces = {
        "l1.v": np.zeros((11, 1, 10)),
        "l1.r": np.ones((11, 1, 10)),
        "ctrl.e": np.ones((11, 1, 5)),
    }
    fig = trace_figure(traces, 0.01, "dfc: torch, float64")
    axes = fig.axes
    assert fig._suptitle.get_text() == "dfc: torch, float64"
    assert axes[-1].get_xlabel() == TIME_LABEL and "model time units" in TIME_LABEL
    labels = {ax.get_ylabel().split(":")[0]: ax for ax in axes}
    assert set(labels) == {"ctrl", "l1"}
    entries = [t.get_text() for t in labels["l1"].get_legend().get_texts()]
    assert entries == ["l1.v (10 units)", "l1.r (10 units)"]  # one entry per variable
    assert "voltage v" in labels["l1"].get_ylabel() and "rate r" in labels["l1"].get_ylabel()


@pytest.mark.parametrize(
    ("old", "new", "args", "words"),
    [
        (
            "k_p: 1.5",
            "k_p: 1000000.0",
            [],
            ["gain 1e+06 on 'ctrl.e'", "first in the recorded traces: 'ctrl.u' at step"],
        ),
        ("steps: 1000", "steps: 1000", ["--dt", "1.0"], ["dt*leak/tau = 5 for 'l1.v'"]),
    ],
)
def test_divergence_is_an_error_with_the_cause(tmp_path, capsys, old, new, args, words) -> None:
    path = _edit(tmp_path, old, new)
    assert main(["simulate", str(path), "--out", str(tmp_path / "o"), *args]) == 1
    err = capsys.readouterr().err
    assert "error: TorchSimulator.run: the state of 'dfc_15_10_10_5' became NaN/inf" in err
    for word in words:
        assert word in err
    assert not (tmp_path / "o" / "traces.npz").exists()


def test_large_dt_warns_as_a_message(tmp_path, capsys) -> None:
    main(["simulate", str(CIRCUIT), "--dt", "0.18", "--steps", "5", "--out", str(tmp_path / "o"),
          "--no-plot"])  # fmt: skip
    err = capsys.readouterr().err
    assert "neurosim simulate: warning: model 'dfc_15_10_10_5': dt=0.18" in err
    assert "simulate.py" not in err  # not a Python source line


def test_wrong_length_file_input_names_it(tmp_path, capsys) -> None:
    path = _edit(
        tmp_path,
        "simulation: {dt: 0.005, steps: 1000, dtype: float64}",
        "simulation: {dt: 0.005, steps: 10, dtype: float64, inputs: {x.r: [1.0, 2.0]}}",
    )
    assert main(["simulate", str(path), "--out", str(tmp_path / "o")]) == 1
    assert "inputs['x.r']=[1.0, 2.0] has 2 values; give 15" in capsys.readouterr().err
