"""Starting data-parallel training: ``neurosim train --nproc N`` or under ``torchrun``.

* ``--nproc N``: this process checks the configuration, then starts ``N`` worker
  processes (``torch.multiprocessing``, spawn) that meet through a rendezvous file
  (``init_method="file://..."``) and train with :class:`~neurosim.scale.data_parallel.
  DataParallel`; it returns rank 0's summary.
* ``torchrun --nproc-per-node N -m neurosim train ...`` (or ``--nnodes`` for several
  machines): torchrun starts the processes and sets ``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK`` and ``MASTER_ADDR``/``MASTER_PORT``; each process joins with
  ``init_method="env://"``.

The backend is gloo on the CPU and nccl on CUDA (``device: cuda``: each process takes
the GPU of its local rank). Only rank 0 writes the run directory; the checkpoint is the
single-process format, so ``--resume`` works with any other process count.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from neurosim.scale.data_parallel import DataParallel
from neurosim.training.checkpoint import CheckpointError
from neurosim.training.config import ConfigError, RunConfig
from neurosim.training.divergence import TrainingDivergedError
from neurosim.training.resources import TrainingMemoryError
from neurosim.training.rundir import RunBusyError, RunDirectoryError, RunExistsError

#: environment variables torchrun sets in every process
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
#: exception types re-raised in the launching process under their own type
_FORWARDED = {
    cls.__name__: cls
    for cls in (
        ConfigError,
        CheckpointError,
        TrainingDivergedError,
        TrainingMemoryError,
        RunDirectoryError,
        RunExistsError,
        RunBusyError,
        FileExistsError,
        ValueError,
    )
}


def under_torchrun() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    return all(k in os.environ for k in TORCHRUN_ENV) and int(os.environ["WORLD_SIZE"]) > 1


def data_parallel_requested(nproc: int | None) -> bool:
    """``--nproc`` above 1, or a multi-process torchrun launch."""
    if nproc is not None and nproc < 1:
        raise ConfigError(f"--nproc must be an integer >= 1, got {nproc}")
    return (nproc is not None and nproc > 1) or under_torchrun()


def check_data_parallel(cfg: RunConfig, nproc: int, n_train: int | None = None) -> None:
    """Reject a configuration that cannot be split over ``nproc`` processes, before any
    process starts.

    Every minibatch, the last (smaller) one included, must give each process at least
    one sample; CUDA runs need one GPU per process on the machine.
    """
    if nproc > cfg.batch_size:
        raise ConfigError(
            f"--nproc {nproc} is larger than the batch (batch_size={cfg.batch_size}): each "
            f"process needs at least one sample of every minibatch; use --nproc <= "
            f"{cfg.batch_size} or a larger --batch-size"
        )
    if n_train is not None:
        last = n_train % cfg.batch_size
        if 0 < last < nproc:
            raise ConfigError(
                f"the last minibatch of each pass has {last} samples ({n_train} training "
                f"samples, batch_size={cfg.batch_size}), fewer than --nproc {nproc}; change "
                "--subset or --batch-size so that it has at least one sample per process"
            )
    if cfg.device.startswith("cuda"):
        if cfg.device != "cuda":
            raise ConfigError(
                f"data-parallel training on {cfg.device!r}: use device 'cuda' (each process "
                "takes the GPU of its local rank)"
            )
        local = int(os.environ.get("LOCAL_WORLD_SIZE", nproc))
        if torch.cuda.device_count() < local:
            raise ConfigError(
                f"{local} processes on this machine need {local} GPUs, "
                f"torch sees {torch.cuda.device_count()}"
            )


def training_size(cfg: RunConfig) -> int:
    """Number of training samples of ``cfg``: its ``subset`` if given (a subset larger
    than the data set is refused by the run itself), else the data set's (loaded)."""
    from neurosim.training.data import load_for_config

    if cfg.subset is not None:
        return cfg.subset
    return len(load_for_config(cfg).train.X)


def train_data_parallel(
    cfg: RunConfig,
    out: str | Path,
    nproc: int | None,
    resume: bool = False,
    progress: bool | None = None,
    tensorboard: bool = False,
    overwrite: bool = False,
) -> dict[str, Any] | None:
    """Train ``cfg`` data-parallel; returns rank 0's summary (``None`` in the other
    torchrun processes).

    Parameters
    ----------
    nproc
        Number of processes to start here; ``None`` under torchrun (its own count).
    resume, progress, tensorboard, overwrite
        As for :func:`neurosim.training.train` (rank 0 claims the run directory, shows
        progress and writes).
    """
    if under_torchrun():
        world = int(os.environ["WORLD_SIZE"])
        if nproc is not None and nproc != world:
            raise ConfigError(
                f"--nproc {nproc} differs from torchrun's WORLD_SIZE={world}; drop --nproc"
            )
        check_data_parallel(cfg, world, training_size(cfg))
        rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
        options = (resume, progress, tensorboard, overwrite)
        result = run_worker(rank, world, local, cfg, Path(out), options, "env://")
        return result if rank == 0 else None
    assert nproc is not None
    check_data_parallel(cfg, nproc, training_size(cfg))
    rendezvous = Path(tempfile.mkdtemp(prefix="neurosim-ddp-"))
    queue = mp.get_context("spawn").SimpleQueue()
    options = (resume, progress, tensorboard, overwrite)
    args = (nproc, cfg, Path(out), options, f"file://{rendezvous / 'init'}", queue)
    try:
        mp.start_processes(_spawned, args=args, nprocs=nproc, join=True, start_method="spawn")
    except (mp.ProcessRaisedException, mp.ProcessExitedException):
        _raise_worker_error(queue)
        raise
    finally:
        shutil.rmtree(rendezvous, ignore_errors=True)
    result = None
    while not queue.empty():
        kind, payload = queue.get()
        if kind == "result":
            result = payload
    return result


def run_worker(
    rank: int,
    world: int,
    local_rank: int,
    cfg: RunConfig,
    out: Path,
    options: tuple[bool, bool | None, bool, bool],
    init_method: str,
) -> dict[str, Any]:
    """Join the process group and train this rank's part of the run (``options``:
    resume, progress, tensorboard, overwrite; only rank 0 claims the run directory,
    prints and writes)."""
    from neurosim.training.loop import train

    cuda = cfg.device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(local_rank)
    if cfg.threads is None:  # share the cores of this machine between its processes
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    dist.init_process_group(
        "nccl" if cuda else "gloo", init_method=init_method, rank=rank, world_size=world
    )
    resume, progress, tensorboard, overwrite = options
    try:
        return train(
            cfg,
            out,
            resume=resume,
            progress=progress if rank == 0 else False,
            quiet=rank != 0,
            tensorboard=tensorboard and rank == 0,
            overwrite=overwrite,
            data_parallel=DataParallel(rank, world),
        )
    finally:
        dist.destroy_process_group()


def _spawned(
    rank: int,
    world: int,
    cfg: RunConfig,
    out: Path,
    options: tuple[bool, bool | None, bool, bool],
    init_method: str,
    queue: Any,
) -> None:
    """Entry point of a process started by :func:`train_data_parallel`."""
    try:
        result = run_worker(rank, world, rank, cfg, out, options, init_method)
    except BaseException as err:
        # a run-directory error travels as its template, so the CLI can word it with flags
        message = err.template if isinstance(err, RunDirectoryError) else str(err)
        queue.put(("error", (rank, type(err).__name__, message)))
        raise
    if rank == 0:
        queue.put(("result", result))


def _raise_worker_error(queue: Any) -> None:
    """Re-raise the first error a worker reported, under its own type when known."""
    errors = []
    while not queue.empty():
        kind, payload = queue.get()
        if kind == "error":
            errors.append(payload)
    if not errors:
        return
    # a worker that lost its peers reports a communication error: prefer the cause
    errors.sort(key=lambda e: e[1] not in _FORWARDED)
    rank, name, message = errors[0]
    cls = _FORWARDED.get(name)
    if cls is not None:
        raise cls(message)
    if name == "KeyboardInterrupt":
        raise KeyboardInterrupt
    raise RuntimeError(f"data-parallel process {rank} failed: {name}: {message}")


__all__ = [
    "check_data_parallel",
    "data_parallel_requested",
    "run_worker",
    "train_data_parallel",
    "under_torchrun",
]
