"""Data-parallel training (torch.distributed, gloo): 2 processes give the weights of 1.

Each test trains one epoch on 2 processes, resumes the run for a second epoch on 1
process, and compares with 2 epochs on 1 process (float64): the per-epoch metrics and
the final weights agree within the float64 tolerance policy. So sharding, the all-reduce
of updates (before DFC's clipping), the reduction of metrics, rank-0 checkpoints and
resuming with another process count are all checked at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neurosim.models import registry
from neurosim.models.base import Task
from neurosim.scale.data_parallel import DataParallel, noise_stream, shard_bounds
from neurosim.scale.launch import check_data_parallel, train_data_parallel
from neurosim.testing import assert_allclose
from neurosim.training import ConfigError, load_checkpoint, train
from neurosim.training.config import default_config
from neurosim.training.metrics import read_jsonl
from neurosim.training.overrides import apply_overrides

SMALL = {"epochs": 2, "subset": 96, "batch_size": 32, "threads": 1, "dtype": "float64"}
#: DFC-SSA with a noise-free sleep phase, so that 1 and 2 processes must agree exactly
#: (with noise they agree in distribution only: per-rank noise streams)
NOISE_FREE = {"params.sigma": 0.0, "params.sigma_fb": 0.0, "params.sigma_output_fb": 0.0}


def small_config(model: str, **extra):
    cfg = apply_overrides(default_config(model, "student-teacher"), {**SMALL, **extra})
    return cfg


@pytest.mark.parametrize(
    ("model", "extra"),
    [("bp", {}), ("dfc-ssa", {**NOISE_FREE, "schedule.epochs_fb": 1})],
)
def test_two_processes_match_one_and_resume_with_one(tmp_path: Path, model, extra):
    cfg = small_config(model, **extra)
    one, two = tmp_path / "one", tmp_path / "two"
    train(cfg, one, progress=False)
    result = train_data_parallel(cfg.with_overrides(epochs=1), two, nproc=2, progress=False)
    assert result is not None and result["epochs_completed"] == 1
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    train(cfg, two, resume=True, progress=False)  # epoch 2 on one process

    for a, b in zip(
        read_jsonl(one / "metrics.jsonl"), read_jsonl(two / "metrics.jsonl"), strict=True
    ):
        for key in ("train_loss", "test_loss", "fb_fb_u_rms"):
            if key in a:
                assert_allclose(b[key], a[key], msg=f"{model} {a.get('epoch')} {key}")
    ref = load_checkpoint(one / "checkpoint.pt")["model"]
    got = load_checkpoint(two / "checkpoint.pt")["model"]
    for name, tensor in ref.items():
        if tensor.is_floating_point():
            assert_allclose(got[name], tensor, msg=f"{model} {name}")


def test_dfc_ssa_noisy_sleep_phase_shards_draw_independent_noise():
    """Rank 1 re-seeds the per-sample sleep-phase noise: its first sleep phase on the
    same inputs gives another feedback update than rank 0's (same weights)."""
    cfg = small_config("dfc-ssa")
    task = Task("regression", 15, 5)

    def first_update(rank: int) -> torch.Tensor:
        model = registry.create("dfc-ssa", task, cfg.model_params(), seed=cfg.seed)
        if rank:
            model.set_noise_stream(noise_stream(rank, 0))
        from neurosim.models.dfc.simulation import sleep_phase_gradients

        x = torch.randn(16, 15, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        return sleep_phase_gradients(model, x)[0][0]

    g0, g0_again, g1 = first_update(0), first_update(0), first_update(1)
    assert torch.equal(g0, g0_again)  # the stream is deterministic
    assert not torch.allclose(g0, g1)  # ... and another one on rank 1
    # same distribution: the updates have the same scale
    assert 0.5 < float(g1.norm() / g0.norm()) < 2.0


def test_shards_cover_the_batch_and_writer_is_rank_zero():
    for n, world in ((32, 2), (7, 3), (5, 5)):
        bounds = [shard_bounds(n, r, world) for r in range(world)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(hi > lo for lo, hi in bounds)
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert DataParallel(0, 2).is_writer and not DataParallel(1, 2).is_writer


@pytest.mark.parametrize(
    ("nproc", "n_train", "message"),
    [(64, None, "--nproc 64 is larger than the batch"), (3, 65, "the last minibatch")],
)
def test_bad_process_counts_are_rejected_before_start(nproc, n_train, message):
    cfg = small_config("bp")
    with pytest.raises(ConfigError, match=message):
        check_data_parallel(cfg, nproc, n_train)


def test_cli_nproc_larger_than_batch_is_a_clear_error(tmp_path, capsys):
    from neurosim.cli.main import main

    code = main(["train", "--model", "bp", "--dataset", "student-teacher", "--epochs", "1",
                 "--batch-size", "4", "--nproc", "8", "--out", str(tmp_path / "r"),
                 "--no-progress"])  # fmt: skip
    assert code == 2
    assert "--nproc 8 is larger than the batch (batch_size=4)" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
