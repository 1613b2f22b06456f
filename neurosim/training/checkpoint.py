"""Checkpoints: plain tensors and dicts, written atomically, checksummed, loaded with
``weights_only``.

A checkpoint is a dict ``{"format": FORMAT, "version": VERSION, "checksum": ..., ...}``
holding the model ``state_dict``, the optimiser states, the RNG states (torch, numpy,
python, the data-order generator and any ``torch.Generator`` the model owns), the
schedule position, the metrics so far and the run config. Only types accepted by
``torch.load(weights_only=True)`` are stored (numpy arrays become tensors), so loading
never executes code.

**Integrity.** ``checksum`` is the SHA-256 of the content (:func:`content_digest`:
every key, every scalar and the raw bytes, dtype and shape of every tensor, in
order), computed before writing and verified by :func:`load_checkpoint`: a single
flipped bit in a weight is a :class:`CheckpointError`, never a silently wrong resume.
Checkpoints of format version 1 (written before checksums) still load, with a
:class:`UnverifiedCheckpointWarning`; the next save of the run adds the checksum.

Writes go to a temporary file ``.checkpoint.pt.<random>.tmp`` in the same directory,
are flushed and ``fsync``-ed, then ``os.replace``-d over the target: a crash mid-write
leaves the previous checkpoint intact (a killed process may leave the temporary
behind; :mod:`neurosim.training.rundir` removes those of its run directory on start).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = "neurosim-checkpoint"
VERSION = 2
#: versions this neurosim reads (1: no checksum, loaded with a warning)
READABLE_VERSIONS = (1, 2)
CHECKSUM_ALGORITHM = "sha256"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, truncated or not a neurosim checkpoint."""


class UnverifiedCheckpointWarning(UserWarning):
    """A checkpoint written before checksums existed (format version 1) was loaded
    without an integrity check."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Atomically write ``state`` (tagged with the format, version and checksum) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    payload.pop("checksum", None)
    payload["checksum"] = {"algorithm": CHECKSUM_ALGORITHM, "digest": content_digest(payload)}
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


def content_digest(state: dict[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint's content, its ``checksum`` entry excluded.

    The digest covers, in order, every key and value: for a tensor its dtype, shape
    and raw bytes (on the CPU, contiguous), for a container its type and length, for a
    scalar its type and exact ``repr``. Equal content gives equal digests wherever it
    was saved; one flipped bit anywhere changes it.
    """
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in state.items() if k != "checksum"})
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"tensor:{t.dtype}:{tuple(t.shape)}:".encode())
        if t.numel():
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(f"dict:{len(value)}:".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}:{len(value)}:".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` and verify its checksum.

    Raises
    ------
    CheckpointError
        If the file does not exist, cannot be unpickled (corrupt or truncated), holds
        anything but tensors and plain containers (refused unsafe content), is not a
        neurosim checkpoint of a supported version, or its content does not match its
        checksum. The message names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only load failed" not in str(err).lower():
            raise _unreadable(path, err) from None
        raise CheckpointError(
            f"{str(path)!r} is not a neurosim checkpoint: it holds Python objects "
            f"({_refused_global(err)}) that weights-only loading refuses as unsafe content "
            "(loading them could execute code, and neurosim never does). Use a checkpoint "
            "written by `neurosim train`."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise _unreadable(path, err) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a neurosim training checkpoint (no format tag "
            f"{FORMAT!r}); use a checkpoint written by `neurosim train`"
        )
    if state.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has version {state.get('version')!r}; this neurosim "
            f"reads versions {list(READABLE_VERSIONS)}; use the neurosim that wrote it"
        )
    _verify(path, state)
    return state


def _verify(path: Path, state: dict[str, Any]) -> None:
    """Check the stored checksum (version 2) or warn that there is none (version 1)."""
    recorded = state.get("checksum")
    if state["version"] == 1 and recorded is None:
        warnings.warn(
            f"checkpoint {str(path)!r} was written before checkpoints carried a checksum "
            "(format version 1): its content cannot be verified; the next save adds one",
            UnverifiedCheckpointWarning,
            stacklevel=3,
        )
        return
    if not isinstance(recorded, dict) or recorded.get("algorithm") != CHECKSUM_ALGORITHM:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has no valid {CHECKSUM_ALGORITHM} checksum entry "
            f"(found {recorded!r}): it was damaged or not written by neurosim; restore the "
            "file from a backup, or start the run again"
        )
    actual = content_digest(state)
    if actual != recorded.get("digest"):
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt: the SHA-256 of its content is "
            f"{actual}, but {recorded.get('digest')} was recorded when it was written "
            "(a flipped bit, a bad copy or an edit). Do not resume from it: restore the "
            "file from a backup, or start the run again"
        )


def require_keys(state: dict[str, Any], keys: Iterable[str], path: str | Path, what: str) -> None:
    """Raise :class:`CheckpointError` unless ``state`` holds every one of ``keys``."""
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a complete {what}: it lacks {missing}. "
            "It was not written by this kind of run or was cut short; restore the file "
            "from a backup, or start the run again"
        )


def _unreadable(path: Path, err: BaseException) -> CheckpointError:
    first = str(err).splitlines()[0] if str(err) else ""
    return CheckpointError(
        f"checkpoint {str(path)!r} is corrupt or truncated and cannot be read "
        f"({type(err).__name__}: {first}); restore the file from a backup, or start the "
        "run again"
    )


def _refused_global(err: BaseException) -> str:
    """The Python global torch refused (e.g. ``datetime.date``), for the message."""
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    return found.group(1) if found else "not tensors or plain containers"


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
