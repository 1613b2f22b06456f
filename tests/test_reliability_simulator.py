"""Bad input to the simulator API gives a message, not a traceback (issues 11 §4, 12 §4-5).

Each case asserts the message: the object (function or method), the attribute, the
value and the fix, from the one validation path (``neurosim.core.errors``,
``neurosim.backends.validation``) used by both backends at ``reset``/``run`` entry.
Small sizes: every case runs in well under a second once torch and brian2 are
imported.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import neurosim
from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import PIController
from neurosim.core.errors import (
    PrecisionWarning,
    SimulationDivergedError,
    TimeStepWarning,
    ValidationError,
)

SIZES = [4, 5, 3]


def _builder(**kw) -> neurosim.HierarchyBuilder:
    ctrl = PIController(k_p=kw.pop("k_p", 1.5), alpha=0.0015, loss="mse", lam=0.05)
    return neurosim.HierarchyBuilder(SIZES, controller=ctrl, seed=3, **kw)


def _model(dt: float = 0.01, **kw) -> neurosim.ir.Model:
    return neurosim.build(_builder(**kw).build(), dt=dt)


def _inputs(batch: int = 2, dtype=np.float64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x.r": rng.normal(size=(batch, SIZES[0])).astype(dtype),
        "ctrl.label": rng.normal(size=(batch, SIZES[-1])).astype(dtype),
    }


@pytest.fixture(scope="module")
def model() -> neurosim.ir.Model:
    return _model()


@pytest.fixture
def sim(model) -> TorchSimulator:
    s = TorchSimulator(model, dtype=torch.float64)
    s.reset(_inputs())
    return s


@pytest.fixture(scope="module")
def b2sim_factory(model):
    pytest.importorskip("brian2")
    from neurosim.backends.brian2 import Brian2Simulator

    return lambda **kw: Brian2Simulator(model, "numpy", batch_size=2, **kw)


def _raises(fn, *words: str) -> str:
    with pytest.raises(ValidationError) as info:
        fn()
    text = str(info.value)
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    return text


# -- building ---------------------------------------------------------------------------
def test_build_of_a_string_names_the_fix() -> None:
    _raises(lambda: neurosim.build("net"), "neurosim.build", "network='net'", "not a Network")


def test_build_of_a_builder_says_call_build() -> None:
    _raises(lambda: neurosim.build(_builder()), "HierarchyBuilder", "call .build()")


@pytest.mark.parametrize("dt", [float("inf"), float("nan"), 0.0, -0.1, "0.1"])
def test_build_refuses_bad_dt(dt) -> None:
    _raises(lambda: neurosim.build(_builder().build(), dt=dt), "neurosim.build", "dt=")


def test_layer_sizes_as_a_string() -> None:
    _raises(lambda: _builder_sizes("15,10"), "layer_sizes='15,10'", "list of ints")


def _builder_sizes(sizes) -> neurosim.HierarchyBuilder:
    return neurosim.HierarchyBuilder(sizes)


def test_numpy_integer_sizes_are_accepted_as_ints(tmp_path) -> None:
    b = neurosim.HierarchyBuilder(np.array([4, 5, 3]), seed=1)
    assert b.layer_sizes == [4, 5, 3] and all(type(n) is int for n in b.layer_sizes)
    pop = neurosim.Population("p", np.int64(3), tau=np.float32(0.5))
    assert type(pop.size) is int and type(pop.tau) is float
    neurosim.save_circuit(b.build(), tmp_path / "c.yaml")  # YAML needs plain numbers
    assert neurosim.load_circuit(tmp_path / "c.yaml")[0].nodes["l1"].size == 5


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_k_p_must_be_finite(value) -> None:
    _raises(lambda: PIController(k_p=value), "PIController", "k_p=", "finite number")


def test_dt_close_to_a_time_constant_warns_once() -> None:
    with pytest.warns(TimeStepWarning, match=r"dt\*leak/tau = 2.5 for 'l1.v'.*unstable"):
        _model(dt=0.5, tau_v=0.2)
    with pytest.warns(TimeStepWarning, match=r"= 0.85 .*inaccurate"):
        _model(dt=0.17, tau_v=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TimeStepWarning)
        _model(dt=0.02, tau_v=0.2)  # DFC's ratio 0.1
        _model(dt=0.02, sigma=0.1)  # noisy apical: tau_A = dt exactly (DFC.md §1.2)


# -- simulator construction --------------------------------------------------------------
def test_dtype_by_name(model) -> None:
    assert TorchSimulator(model, dtype="float64").dtype is torch.float64
    assert TorchSimulator(model, dtype=np.float32).dtype is torch.float32
    _raises(lambda: TorchSimulator(model, dtype="float16"), "TorchSimulator", "dtype='float16'")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA")
def test_cuda_without_cuda_says_what_to_do(model) -> None:
    _raises(
        lambda: TorchSimulator(model, device="cuda"),
        "device='cuda'",
        "torch.cuda.is_available() is False",
        "device='cpu'",
    )


def test_simulator_of_a_network_not_a_model() -> None:
    _raises(lambda: TorchSimulator(_builder().build()), "TorchSimulator", "neurosim.build")


# -- reset -------------------------------------------------------------------------------
def test_reset_with_a_list(sim, b2sim_factory) -> None:
    x, y = _inputs().values()
    for s, owner in ((sim, "TorchSimulator"), (b2sim_factory(), "Brian2Simulator")):
        _raises(lambda s=s: s.reset([x, y]), f"{owner}.reset", "not a mapping", "'x.r'")


def test_reset_with_a_string_value(sim, b2sim_factory) -> None:
    y = _inputs()["ctrl.label"]
    for s in (sim, b2sim_factory()):
        _raises(lambda s=s: s.reset({"x.r": "abc", "ctrl.label": y}), "inputs['x.r']='abc'")


def test_reset_with_the_wrong_length_names_the_input(sim, b2sim_factory) -> None:
    bad = _inputs()
    bad["x.r"] = bad["x.r"][:, :3]
    for s in (sim, b2sim_factory()):
        _raises(lambda s=s: s.reset(bad), "inputs['x.r']", "(2, 3)", "give 4 values per sample")


def test_reset_with_nan_inputs(sim, b2sim_factory) -> None:
    bad = _inputs()
    bad["x.r"][1, 2] = np.nan
    for s in (sim, b2sim_factory()):
        _raises(lambda s=s: s.reset(bad), "inputs['x.r']", "1 NaN/inf value", "(1, 2)")


def test_reset_with_an_unknown_input_suggests(sim) -> None:
    bad = _inputs()
    bad["x.rr"] = bad.pop("x.r")
    _raises(lambda: sim.reset(bad), "'x.rr'", "did you mean 'x.r'", "valid:")


def test_float32_into_float64_is_announced_on_both_backends(sim, b2sim_factory) -> None:
    for s in (sim, b2sim_factory()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s.reset(_inputs(dtype=np.float32))
        texts = [str(w.message) for w in caught if w.category is PrecisionWarning]
        assert len(texts) == 2 and "'x.r' is float32 and was widened to" in texts[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        sim.reset(_inputs())  # float64: nothing to say


def test_huge_batch_says_lower_the_batch(model) -> None:
    s = TorchSimulator(model, dtype=torch.float64)
    huge = 10**12  # expanded views: nothing is allocated until the simulator's state
    ins = {k: torch.as_tensor(v[:1]).expand(huge, -1) for k, v in _inputs().items()}
    _raises(lambda: s.reset(ins), "TorchSimulator.reset", "batch=", "GiB", "lower the batch")


def test_huge_brian2_batch_says_lower_the_batch(model) -> None:
    pytest.importorskip("brian2")
    from neurosim.backends.brian2 import Brian2Simulator

    huge = 10**10  # broadcast views: nothing is allocated
    s = Brian2Simulator(model, "numpy", batch_size=huge)
    s.reset({k: np.broadcast_to(v, (huge, v.shape[1])) for k, v in _inputs(1).items()})
    _raises(lambda: s.run(5), "Brian2Simulator.run", f"batch_size={huge}", "lower the batch")


# -- run ---------------------------------------------------------------------------------
def test_run_with_fractional_steps(sim, b2sim_factory) -> None:
    _raises(lambda: sim.run(steps=2.5), "TorchSimulator.run", "steps=2.5", "int >= 0")
    b2 = b2sim_factory()
    b2.reset(_inputs())
    _raises(lambda: b2.run(steps=2.5), "Brian2Simulator.run", "steps=2.5", "int >= 1")
    assert sim.run(np.int64(3)).steps == 3  # numpy integers are integers


def test_record_one_name_is_one_variable(sim, b2sim_factory) -> None:
    assert set(sim.run(3, record="ctrl.e").traces) == {"ctrl.e"}
    b2 = b2sim_factory()
    b2.reset(_inputs())
    assert set(b2.run(3, record="ctrl.e").traces) == {"ctrl.e"}


def test_record_unknown_variable_suggests_and_lists(sim) -> None:
    text = _raises(lambda: sim.run(3, record=["l1.vv"]), "record='l1.vv'", "did you mean 'l1.v'")
    assert "'ctrl.e'" in text  # the valid names are listed


def test_recording_too_much_is_refused_before_allocating(model) -> None:
    s = TorchSimulator(model, dtype=torch.float64)
    s.reset({k: torch.as_tensor(v[:1]).expand(10**6, -1) for k, v in _inputs().items()})
    _raises(lambda: s.run(10**7, record=["l1.v"]), "TorchSimulator.run", "GiB", "record fewer")


def test_divergence_names_step_variable_and_gain() -> None:
    s = TorchSimulator(_model(k_p=1e6), dtype=torch.float64)
    s.reset(_inputs())
    with pytest.raises(SimulationDivergedError) as info:
        s.run(300, record=["l1.v"])
    text = str(info.value)
    assert "between steps 1 and 100" in text and "first in the recorded traces: 'l1.v'" in text
    assert "diverged at step 100: 'l1.v' (samples 0, 1)" in text
    assert "gain 1e+06 on 'ctrl.e'" in text


def test_divergence_from_a_large_dt_names_the_time_constant() -> None:
    with pytest.warns(TimeStepWarning):
        model = _model(dt=1.0, tau_v=0.2)
    s = TorchSimulator(model, dtype=torch.float64)
    s.reset(_inputs())
    with pytest.raises(SimulationDivergedError, match=r"dt\*leak/tau = 5 for 'l1.v'"):
        s.run(1000)


def test_divergence_check_can_be_switched_off() -> None:
    s = TorchSimulator(_model(k_p=1e6), dtype=torch.float64, check_finite=False)
    s.reset(_inputs())
    v = s.run(300, record=["l1.v"]).traces["l1.v"]
    assert not torch.isfinite(v[-1]).all()


def test_brian2_divergence_is_reported_after_the_run() -> None:
    pytest.importorskip("brian2")
    from neurosim.backends.brian2 import Brian2Simulator

    s = Brian2Simulator(_model(k_p=1e6), "numpy", batch_size=2)
    s.reset(_inputs())
    with np.errstate(all="ignore"), pytest.raises(SimulationDivergedError) as info:
        s.run(300, record=["l1.v"])
    assert "'l1.v' at step" in str(info.value) and "gain 1e+06" in str(info.value)


# -- progress ----------------------------------------------------------------------------
def test_torch_text_progress_reports_steps_and_time(sim, capsys, monkeypatch) -> None:
    from neurosim.backends import progress

    monkeypatch.setattr(progress, "TEXT_PERIOD", 0.0)
    sim.run(400, progress="text")
    err = capsys.readouterr().err
    assert "simulating: 400/400 steps (100%)" in err and "s elapsed" in err
    _raises(lambda: sim.run(3, progress="loud"), "TorchSimulator.run", "progress='loud'")


def test_brian2_run_takes_a_report(b2sim_factory) -> None:
    calls = []
    b2 = b2sim_factory()
    b2.reset(_inputs())
    b2.run(50, report=lambda *args: calls.append(args), report_period=0.0)
    assert calls and calls[-1][1] == pytest.approx(1.0)  # completed fraction
    b2.reset(_inputs())
    _raises(lambda: b2.run(5, report="loud"), "Brian2Simulator.run", "report='loud'")


# -- process-wide side effects -------------------------------------------------------------
def test_importing_the_brian2_backend_keeps_the_users_excepthook() -> None:
    pytest.importorskip("brian2")
    code = "import sys, neurosim.backends.brian2\nraise ValueError('my own bug')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1 and "ValueError: my own bug" in done.stderr
    assert "Brian 2 encountered" not in done.stderr and "report" not in done.stderr
