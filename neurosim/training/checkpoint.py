"""Checkpoints: plain tensors and dicts, written atomically, loaded with ``weights_only``.

A checkpoint is a dict ``{"format": FORMAT, "version": VERSION, ...}`` holding the
model ``state_dict``, the optimiser states, the RNG states (torch, numpy, python, the
data-order generator and any ``torch.Generator`` the model owns), the schedule
position, the metrics so far and the run config. Only types accepted by
``torch.load(weights_only=True)`` are stored (numpy arrays become tensors).

Writes go to a temporary file in the same directory, are flushed and ``fsync``-ed,
then ``os.replace``-d over the target: a crash mid-write leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = "neurosim-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, truncated or not a neurosim checkpoint."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Atomically write ``state`` (tagged with the format and version) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    CheckpointError
        If the file does not exist, cannot be unpickled safely (corrupt, truncated,
        or containing arbitrary objects), or is not a neurosim checkpoint of a
        supported version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or truncated and cannot be read "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "restart the run without --resume, or restore the file"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a neurosim training checkpoint (no format tag "
            f"{FORMAT!r}); point --resume at a run directory written by `neurosim train`"
        )
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has version {state.get('version')!r}; this neurosim "
            f"reads version {VERSION}"
        )
    return state


# -- RNG states ---------------------------------------------------------------------
def model_generators(model: nn.Module) -> dict[str, torch.Generator]:
    """``torch.Generator`` attributes of ``model`` and its submodules, by dotted name."""
    found: dict[str, torch.Generator] = {}
    for prefix, module in model.named_modules():
        for key, value in vars(module).items():
            if isinstance(value, torch.Generator):
                found[f"{prefix}.{key}" if prefix else key] = value
    return found


def rng_state(data_generator: torch.Generator, model: nn.Module) -> dict[str, Any]:
    """Every random state a run depends on, as tensors and plain Python values."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "python": _python_state_to_plain(random.getstate()),
        "data": data_generator.get_state(),
        "model": {k: g.get_state() for k, g in model_generators(model).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], data_generator: torch.Generator, model: nn.Module) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu())
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["name"],
            npst["keys"].cpu().numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    random.setstate(_python_state_from_plain(state["python"]))
    data_generator.set_state(state["data"].cpu())
    gens = model_generators(model)
    for key, gen_state in state["model"].items():
        if key not in gens:
            raise CheckpointError(
                f"checkpoint holds the RNG state of model generator {key!r}, which this "
                f"model does not have (it has {sorted(gens)}); was the model code changed?"
            )
        gens[key].set_state(gen_state.cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _python_state_to_plain(st: tuple) -> list:
    version, internal, gauss = st
    return [version, list(internal), gauss]


def _python_state_from_plain(st: list) -> tuple:
    version, internal, gauss = st
    return (version, tuple(internal), gauss)
