"""Issue 12 §1, §2, §4, §5 (+ issue 11 §4): run directories, checkpoint integrity,
divergence and config errors, on the toy data set (small and fast).

The slow checks (two real processes into one directory, SIGKILL during writes) are at
the end, marked ``slow``; run them by hand with ``pytest -m slow``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest
import torch
from training_helpers import base_config

from neurosim.cli.main import main
from neurosim.training import (
    CheckpointError,
    ConfigError,
    RunDirectoryError,
    TrainingDivergedError,
    TrainingMemoryError,
    load_checkpoint,
    loop,
    save_checkpoint,
    train,
)
from neurosim.training import checkpoint as ckpt
from neurosim.training.divergence import DivergenceMonitor, divergence_hint
from neurosim.training.metrics import read_jsonl
from neurosim.training.rundir import (
    LOCK_NAME,
    RunBusyError,
    RunDirectory,
    RunExistsError,
    StaleLockWarning,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _run(out, toy, **kwargs):
    cfg = base_config(kwargs.pop("model", "bp"), **kwargs.pop("cfg", {}))
    return train(cfg, out, dataset=toy, progress=False, **kwargs)


# -- §1 run directories ------------------------------------------------------------------
def test_a_second_writer_is_refused_naming_the_holder(tmp_path, toy):
    out = tmp_path / "run"
    with (
        RunDirectory(out).locked(),
        pytest.raises(RunBusyError, match=f"in use by PID {os.getpid()} on "),
    ):
        _run(out, toy)
    assert not (out / LOCK_NAME).exists()  # released on exit
    _run(out, toy, cfg={"epochs": 1})
    assert not (out / LOCK_NAME).exists()


def test_the_lock_is_released_when_the_run_fails(tmp_path, toy):
    out = tmp_path / "run"
    with pytest.raises(KeyError):
        _run(out, toy, model="nope")
    assert not out.exists()  # nothing was written: no empty directory or lock left behind


def test_a_stale_lock_is_reported_and_taken_over(tmp_path, toy):
    out = tmp_path / "run"
    out.mkdir()
    dead = {"pid": 999999, "host": "gone", "started": "yesterday", "command": "neurosim train"}
    (out / LOCK_NAME).write_text(json.dumps(dead))
    with pytest.warns(StaleLockWarning, match="PID 999999 on gone .*no longer running"):
        _run(out, toy, cfg={"epochs": 1})
    assert not (out / LOCK_NAME).exists()


def test_results_without_a_checkpoint_are_refused_then_set_aside(tmp_path, toy):
    out = tmp_path / "run"
    _run(out, toy, cfg={"epochs": 2})
    (out / "checkpoint.pt").unlink()  # deleted checkpoint / interrupted first epoch
    before = (out / "metrics.jsonl").read_text()
    with pytest.raises(RunExistsError, match="no checkpoint.pt, so it cannot be resumed"):
        _run(out, toy, cfg={"epochs": 1, "seed": 9})
    assert (out / "metrics.jsonl").read_text() == before
    with pytest.raises(RunDirectoryError, match="overwrite=True instead of resume=True"):
        _run(out, toy, cfg={"epochs": 3}, resume=True)
    _run(out, toy, cfg={"epochs": 1, "seed": 9}, overwrite=True)
    (backup,) = out.glob("replaced-*")
    assert (backup / "metrics.jsonl").read_text() == before  # nothing deleted
    assert len(read_jsonl(out / "metrics.jsonl")) == 1
    with pytest.raises(RunDirectoryError, match="not both"):
        _run(out, toy, resume=True, overwrite=True)


def test_a_run_stopped_in_its_first_epoch_restarts_with_resume(tmp_path, toy, capsys):
    out = tmp_path / "run"
    _run(out, toy, cfg={"epochs": 1})
    for name in ("checkpoint.pt", "summary.json", "learning_curves.png"):
        (out / name).unlink()
    (out / "metrics.jsonl").write_text("")  # as a kill during epoch 1 leaves it
    with pytest.raises(RunExistsError, match="pass resume=True to start it again"):
        _run(out, toy, cfg={"epochs": 1})
    with pytest.raises(ConfigError, match=r"differs from the saved run in \['seed'\]"):
        _run(out, toy, cfg={"epochs": 1, "seed": 7}, resume=True)
    _run(out, toy, cfg={"epochs": 1}, resume=True)
    assert "starting it from the beginning" in capsys.readouterr().err
    assert len(read_jsonl(out / "metrics.jsonl")) == 1


def test_resume_with_fewer_epochs_keeps_the_metadata_true(tmp_path, toy):
    out = tmp_path / "run"
    _run(out, toy, cfg={"epochs": 2})
    with pytest.raises(ConfigError, match="already holds 2 epochs"):
        _run(out, toy, cfg={"epochs": 1}, resume=True)
    assert "epochs: 2" in (out / "config.yaml").read_text()


def test_stale_temporaries_go_and_metrics_follow_the_checkpoint(tmp_path, toy, capsys):
    out = tmp_path / "run"
    _run(out, toy, cfg={"epochs": 1})
    (out / ".checkpoint.pt.x1y2.tmp").write_bytes(b"\0" * 100)  # a kill during a write
    with open(out / "metrics.jsonl", "a") as fh:  # a line the checkpoint does not hold
        fh.write(json.dumps({"phase": "train", "epoch": 2, "train_loss": 0.0}) + "\n")
    _run(out, toy, cfg={"epochs": 2}, resume=True)
    assert "removed 1 temporary files" in capsys.readouterr().err
    assert not list(out.glob("*.tmp"))
    records = read_jsonl(out / "metrics.jsonl")
    assert records == json.loads(json.dumps(load_checkpoint(out / "checkpoint.pt")["metrics"]))
    assert records[1]["train_loss"] != 0.0


def test_the_checkpoint_is_written_before_the_metrics_line(tmp_path, toy, monkeypatch):
    out = tmp_path / "run"
    original = loop.save_checkpoint

    def dies_at_epoch_2(state, path):
        if state["position"]["epochs_done"] == 2:
            raise SystemExit("killed")
        original(state, path)

    monkeypatch.setattr(loop, "save_checkpoint", dies_at_epoch_2)
    with pytest.raises(SystemExit):
        _run(out, toy, cfg={"epochs": 3})
    assert [r["epoch"] for r in read_jsonl(out / "metrics.jsonl")] == [1]
    assert load_checkpoint(out / "checkpoint.pt")["position"]["epochs_done"] == 1


def test_out_that_is_a_file_or_not_writable(tmp_path, toy, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(RunDirectoryError, match=f"{afile} is a file, not a directory"):
        _run(afile, toy)
    with pytest.raises(RunDirectoryError, match=f"lies under the file {afile}"):
        _run(afile / "run", toy)
    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(RunDirectoryError, match="ro is not writable"):
        _run(tmp_path / "ro", toy)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_read_only_out_for_a_real_unprivileged_user(tmp_path):
    """As root, permissions do not bind: the check runs as 'nobody' via setpriv."""
    from neurosim.training import rundir

    code = (  # rundir.py needs only the standard library: load it alone, quickly
        "import importlib.util as u, sys\n"
        "spec = u.spec_from_file_location('rundir', sys.argv[2])\n"
        "m = u.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "try:\n    m.RunDirectory(sys.argv[1]).locked().__enter__()\n"
        "except m.RunDirectoryError as e:\n    print(e)\n"
    )
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        ro = base / "ro"
        ro.mkdir(mode=0o555)
        ro.chmod(0o555)
        cmd = [sys.executable, "-c", code, str(ro / "run"), rundir.__file__]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: cannot drop privileges")
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert "cannot create the output directory" in done.stdout, done.stderr
    assert "permission denied" in done.stdout


def test_messages_speak_flags_on_the_command_line_and_keywords_in_python(tmp_path, toy, capsys):
    out = tmp_path / "run"
    _run(out, toy, cfg={"epochs": 1})
    with pytest.raises(RunExistsError) as err:
        _run(out, toy, cfg={"epochs": 1})
    assert "resume=True" in str(err.value) and "--resume" not in str(err.value)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(base_config("bp", epochs=1)))
    argv = ["train", "--config", str(cfg), "--out", str(out), "--no-progress"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "load_for_config", lambda c: toy)
        assert main(argv) == 2
        text = capsys.readouterr().err
        assert "--resume" in text and "--overwrite" in text and "resume=True" not in text
        assert main([*argv, "--epochs", "0"]) == 2
        assert "epochs must be an integer >= 1, got 0" in capsys.readouterr().err
        assert main([*argv, "--overwrite"]) == 0
        assert "moved the previous run's files" in capsys.readouterr().err


# -- §2 checkpoints ------------------------------------------------------------------
def _flip_one_bit(path: Path, value: float) -> None:
    """Flip an exponent bit of the stored float64 ``value`` in the file's bytes."""
    import struct

    data = bytearray(path.read_bytes())
    at = data.find(struct.pack("<d", value))
    assert at >= 0
    data[at + 7] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_flipped_bit_is_detected(tmp_path, toy):
    out = tmp_path / "run"
    _run(out, toy, cfg={"epochs": 1})
    path = out / "checkpoint.pt"
    weight = load_checkpoint(path)["model"]["weights.0"]
    _flip_one_bit(path, float(weight.flatten()[3]))
    with pytest.raises(CheckpointError, match=f"{path}.* is corrupt: the SHA-256 of its content"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="restore the file from a backup"):
        _run(out, toy, cfg={"epochs": 2}, resume=True)


def test_checksum_covers_every_value(tmp_path):
    state = {"model": {"w": torch.arange(4.0)}, "metrics": [{"loss": 0.5}], "seed": 1}
    digest = ckpt.content_digest(state)
    assert ckpt.content_digest({**state, "seed": 2}) != digest
    assert ckpt.content_digest({**state, "metrics": [{"loss": 0.5000001}]}) != digest
    assert ckpt.content_digest({**state, "model": {"w": torch.arange(4)}}) != digest  # dtype
    assert ckpt.content_digest(dict(state)) == digest


def test_tag_only_and_unsafe_checkpoints_say_what_they_are(tmp_path, toy, capsys):
    tag_only = tmp_path / "tag" / "checkpoint.pt"
    save_checkpoint({}, tag_only)
    with pytest.raises(CheckpointError, match=r"lacks \['config', 'model_name'"):
        _run(tag_only.parent, toy, resume=True)
    evil = tmp_path / "evil.pt"
    import datetime

    torch.save({"format": ckpt.FORMAT, "version": 2, "x": datetime.date(2020, 1, 1)}, evil)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(evil)
    text = str(err.value)
    assert "not a neurosim checkpoint" in text and "unsafe content" in text
    assert "weights_only" not in text and "can still be loaded" not in text


def test_version_1_checkpoints_load_with_a_warning(tmp_path, monkeypatch):
    path = tmp_path / "old.pt"
    torch.save({"format": ckpt.FORMAT, "version": 1, "model": {"w": torch.ones(2)}}, path)
    with pytest.warns(ckpt.UnverifiedCheckpointWarning, match="cannot be verified"):
        assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))
    torch.save({"format": ckpt.FORMAT, "version": 2, "model": {}}, path)  # v2 without checksum
    with pytest.raises(CheckpointError, match="no valid sha256 checksum"):
        load_checkpoint(path)


# -- §4 divergence -------------------------------------------------------------------
def test_a_growing_loss_stops_the_run_and_names_the_learning_rate(tmp_path, toy):
    params = {"size_hidden": [8], "lr": 100.0, "target_stepsize": 0.01}
    with pytest.raises(TrainingDivergedError) as err:
        _run(tmp_path / "run", toy, cfg={"epochs": 3, "params": params})
    text = str(err.value)
    assert "more than divergence_factor=1000 times its running minimum" in text
    assert "lower params.lr (now 100" in text and "No checkpoint was written" in text


def test_the_monitor_tolerates_noise_and_can_be_switched_off():
    monitor = DivergenceMonitor(1000.0)
    noisy = [2.3, 2.0, 5.0, 1.0, 0.5, 3.0, 0.1, 0.01, 0.9, 0.05]
    assert all(monitor.update(x) is None for x in noisy)
    saved = monitor.state()
    assert DivergenceMonitor(1000.0).update(3e4) is None  # one batch sets the scale
    assert all(monitor.update(x) is None for x in (1.0, 1.5))  # back near the start: fine
    assert monitor.update(1e6) is not None
    again = DivergenceMonitor(1000.0)
    again.load_state(saved)
    assert again.update(1e6) is not None
    off = DivergenceMonitor(None)
    assert off.update(1.0) is None and off.update(1e30) is None


def test_divergence_hints_name_the_parameter_at_fault():
    from neurosim.models import registry
    from neurosim.models.base import Task

    task = Task("classification", 10, 3)
    fast = registry.create("dfc-fixed", task, {"size_hidden": [6], "k_p": 1e6})
    hint = divergence_hint(fast, "forward")
    assert hint.startswith("the controlled dynamics are unstable") and "lower params.k_p" in hint
    assert "raise" not in hint
    calm = divergence_hint(registry.create("dfc-fixed", task, {"size_hidden": [6]}))
    assert calm.startswith("the forward learning rate is probably too high: lower params.lr")
    sleep = registry.create("dfc", task, {"size_hidden": [6], "apical_time_constant_fb": 1e-4})
    assert "raise params.apical_time_constant_fb" in divergence_hint(sleep, "feedback")
    ssa = registry.create("dfc-ssa", task, {"size_hidden": [6], "alpha_di": 0.0, "k_p": 1e6})
    assert "raise params.alpha_di" in divergence_hint(ssa) and "k_p" not in divergence_hint(ssa)


def test_diverged_dynamics_stop_the_run_naming_k_p(tmp_path, toy):
    params = {"size_hidden": [6, 5], "tmax_di": 20, "k_p": 1e6,
              "include_non_converged_samples": True}  # fmt: skip
    with pytest.raises(TrainingDivergedError, match="dynamics diverged for 100% .* params.k_p"):
        _run(tmp_path / "run", toy, model="dfc-fixed", cfg={"batch_size": 32, "params": params})


def test_a_checkpoint_is_named_only_when_it_exists(tmp_path, toy):
    out = tmp_path / "run"
    _run(out, toy, model="test-noisy", cfg={"epochs": 1})
    toy.train.X[5] = float("nan")
    with pytest.raises(TrainingDivergedError, match=f"last good checkpoint .* is {out}"):
        _run(out, toy, model="test-noisy", cfg={"epochs": 2}, resume=True)


def test_out_of_memory_says_to_lower_the_batch_size(tmp_path, toy, monkeypatch, capsys):
    from neurosim.models.baselines.mlp import FeedforwardModel

    def oom(self, x, y, phase):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
            "allocate memory: you tried to allocate 344960000 bytes. Error code 12"
        )

    monkeypatch.setattr(FeedforwardModel, "train_batch", oom)
    with pytest.raises(TrainingMemoryError, match=r"batch_size=16 \(one allocation of 0.32 GiB"):
        _run(tmp_path / "run", toy)
    monkeypatch.setattr(loop, "load_for_config", lambda c: toy)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(base_config("bp")))
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "r2")]) == 1
    assert "Lower batch_size (e.g. 4: --batch-size 4" in capsys.readouterr().err


# -- §4 DFC values -------------------------------------------------------------------
def test_time_constants_are_checked_and_clipping_is_announced():
    from neurosim.models import registry
    from neurosim.models.base import Task
    from neurosim.models.dfc.config import ClippedTimeConstantWarning, DFCConfig

    with pytest.raises(ValueError, match=r"time_constant_ratio=-0.5; expected a number > 0"):
        DFCConfig.from_params({"time_constant_ratio": -0.5})
    task, short = Task("classification", 4, 2), {"size_hidden": [3], "time_constant_ratio": 0.01}
    with pytest.warns(ClippedTimeConstantWarning, match="raised to dt_di"):
        model = registry.create("dfc-fixed", task, short)
    assert model.cfg.tau_v == 0.02
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # DFC-SSA does not simulate its forward phase
        registry.create("dfc-ssa-fixed", task, short)
        registry.create("dfc-fixed", task, {"size_hidden": [3], "time_constant_ratio": 0.2})


def test_alpha_di_is_used_by_the_closed_form_and_the_simulation():
    """alpha_di enters u_ss = (J Q + alpha I)^-1 delta (DFC-SSA) and the controller's
    leak (DFC): zero, tiny and default values give different updates, continuously."""
    from neurosim.models import registry
    from neurosim.models.base import Task

    task = Task("classification", 10, 3)
    x = torch.randn(16, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(16) % 3
    for name, extra in (
        ("dfc-ssa", {}),
        ("dfc-fixed", {"tmax_di": 30, "include_non_converged_samples": True}),
    ):
        grads = {}
        for alpha in (0.0, 1e-12, 1.389e-3, 0.5):
            params = {"size_hidden": [6, 5], "alpha_di": alpha, **extra}
            model = registry.create(name, task, params, seed=1)
            grads[alpha] = torch.cat([g.flatten() for g, _ in model.forward_gradients(x, y)[0]])
        scale = grads[0.0].norm()
        assert (grads[0.5] - grads[0.0]).norm() > 1e-3 * scale, name
        assert (grads[1.389e-3] - grads[0.0]).norm() > 1e-8 * scale, name
        assert (grads[1e-12] - grads[0.0]).norm() < 1e-9 * scale, name


# -- §5 config errors --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "change", "message"),
    [
        ("bp", {"params": {"lr": "fast"}}, r"params.lr='fast' \(str\) is not a finite number"),
        ("bp", {"params": {"size_hidden": 10}}, r"size_hidden=10 \(int\) is not a list of whole"),
        ("dfc-fixed", {"params": {"tmax_di": 2.5}}, r"tmax_di=2.5 \(float\) is not a whole"),
        ("bp", {"schedule": [1, 2]}, r"schedule=\[1, 2\] \(list\); expected a mapping"),
        ("bp", {"val_size": 99999999}, "val_size=99999999 exceeds the 59999 validation"),
        ("bp", {"dataset": "student-teacher", "val_size": 99999999}, "exceeds the 20000"),
        ("bp", {"dataset": "bouncing-ball", "val_size": 99999999}, "exceeds the 10000"),
        ("bp", {"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ("bp", {"divergence_factor": 0.5}, "divergence_factor=0.5; expected a number > 1"),
    ],
)
def test_config_errors_name_key_value_and_fix(tmp_path, toy, model, change, message):
    cfg = base_config(model, **change)
    if "params" in change:
        cfg["params"] = {"size_hidden": [8], **change["params"]}
    with pytest.raises(ValueError, match=message):
        train(cfg, tmp_path / "run", dataset=toy, progress=False)
    assert not (tmp_path / "run").exists()


# -- slow: real processes ------------------------------------------------------------------
_TRAIN = "import sys; from neurosim.cli.main import main; sys.exit(main())"


def _config_file(tmp_path: Path, **over) -> Path:
    cfg = base_config("test-noisy", **{"epochs": 6, "dataset": "student-teacher",
                                       "val_size": 0, **over})  # fmt: skip
    path = tmp_path / f"cfg-{len(over)}-{over.get('seed', 0)}.json"
    path.write_text(json.dumps(cfg))
    return path


_SLOW_WRITES = (  # each checkpoint's temporary file lingers 1 s before its rename
    "import time\nfrom neurosim.training import checkpoint as c\n_save = c.torch.save\n"
    "def _slow(obj, fh):\n    _save(obj, fh)\n    fh.flush()\n    time.sleep(1.0)\n"
    "c.torch.save = _slow\n"
)


def _spawn(cfg: Path, out: Path, *extra: str, slow_writes: bool = False) -> subprocess.Popen:
    """``neurosim train`` in a child process, on the toy data and the test models."""
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1))\n"
        "import training_helpers as h\nfrom neurosim.training import loop\n"
        "loop.load_for_config = lambda cfg: h.toy_regression(n_train=4096)\n"
        + (_SLOW_WRITES if slow_writes else "")
        + _TRAIN
    )
    here = str(Path(__file__).parent)
    argv = ["train", "--config", str(cfg), "--out", str(out), "--no-progress", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code, here, *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.slow
def test_two_processes_into_one_directory(tmp_path):
    out = tmp_path / "run"
    first = _spawn(_config_file(tmp_path, seed=1), out)
    while not (out / LOCK_NAME).exists() and first.poll() is None:
        time.sleep(0.05)
    second = _spawn(_config_file(tmp_path, seed=2), out)
    _, err2 = second.communicate(timeout=300)
    first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 2
    assert f"in use by PID {first.pid}" in err2
    records = read_jsonl(out / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_sigkill_during_writes_then_resume_is_exact(tmp_path):
    """Kill the writer at random moments (checkpoint writes included) until the run is
    done by resuming; the result equals an uninterrupted run, no temporaries remain, and
    after every kill metrics.jsonl holds no epoch the checkpoint lacks."""
    import random

    cfg = _config_file(tmp_path, schedule={"epochs_fb": 0, "extra_fb_epochs": 2})
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _spawn(cfg, full).wait(timeout=600) == 0
    rng, kills = random.Random(0), 0
    proc = _spawn(cfg, cut)
    for _ in range(6):  # six kills at random moments, then let it finish
        time.sleep(rng.uniform(2.0, 12.0))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        ck = cut / "checkpoint.pt"
        if ck.exists() and (cut / "metrics.jsonl").exists():
            done = load_checkpoint(ck)["position"]["epochs_done"]
            assert all(r["epoch"] <= done for r in read_jsonl(cut / "metrics.jsonl"))
        started = (cut / "config.yaml").exists()  # else killed before it wrote anything
        proc = _spawn(cfg, cut, *(("--resume",) if started else ()))
    proc.wait(timeout=900)
    assert proc.returncode == 0, proc.stderr.read()
    assert kills >= 3
    assert not list(cut.glob("*.tmp")) and not (cut / LOCK_NAME).exists()
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(cut / "checkpoint.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(read_jsonl(full / "metrics.jsonl")) == strip(read_jsonl(cut / "metrics.jsonl"))


@pytest.mark.slow
def test_sigkill_inside_checkpoint_writes(tmp_path):
    """Kill the writer while a checkpoint temporary exists (three times): the
    temporary is left behind, metrics.jsonl holds no epoch the checkpoint lacks, and the
    resumed run removes the temporary and ends equal to an uninterrupted run."""
    cfg = _config_file(tmp_path, epochs=4)
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _spawn(cfg, full).wait(timeout=600) == 0
    for attempt in range(3):
        proc = _spawn(cfg, cut, *(("--resume",) if attempt else ()), slow_writes=True)
        while not list(cut.glob(".checkpoint.pt.*.tmp")) and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert list(cut.glob(".checkpoint.pt.*.tmp")), "killed outside a checkpoint write"
        done = (
            load_checkpoint(cut / "checkpoint.pt")["position"]["epochs_done"]
            if (cut / "checkpoint.pt").exists()
            else 0
        )
        assert all(r["epoch"] <= done for r in read_jsonl(cut / "metrics.jsonl"))
    last = _spawn(cfg, cut, "--resume")
    _, err = last.communicate(timeout=600)
    assert last.returncode == 0 and "removed 1 temporary files" in err, err
    assert not list(cut.glob("*.tmp"))
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(cut / "checkpoint.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
