"""Out-of-memory during training: say which setting to lower instead of a raw traceback.

Torch reports a failed CPU allocation as a ``RuntimeError`` ("DefaultCPUAllocator:
can't allocate memory: you tried to allocate N bytes") and a failed GPU allocation as
``torch.OutOfMemoryError``. Both usually come from the minibatch (the DFC family keeps
``batch_size x sum(layer sizes)`` state per simulated step and a
``batch_size x n_out x sum(sizes)`` Jacobian for DFC-SSA).
"""

from __future__ import annotations

import re

import torch

_OOM_PATTERNS = ("can't allocate memory", "out of memory", "cannot allocate memory")


class TrainingMemoryError(MemoryError):
    """Training ran out of memory; the message names the batch size and the fix."""


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is torch's report of a failed allocation (CPU or GPU)."""
    oom_type = getattr(torch, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(err, oom_type):
        return True
    text = str(err).lower()
    return isinstance(err, (RuntimeError, MemoryError)) and any(p in text for p in _OOM_PATTERNS)


def memory_error(
    err: BaseException, batch_size: int, where: str, device: str
) -> TrainingMemoryError:
    """A :class:`TrainingMemoryError` explaining ``err`` (raised at ``where``)."""
    wanted = re.search(r"allocate (\d+) bytes", str(err))
    size = f" (one allocation of {int(wanted.group(1)) / 2**30:.2f} GiB failed)" if wanted else ""
    smaller = max(1, batch_size // 4)
    return TrainingMemoryError(
        f"out of {device} memory during {where} with batch_size={batch_size}{size}. Lower "
        f"batch_size (e.g. {smaller}: --batch-size {smaller}, or batch_size in the config); "
        "memory per batch grows with batch_size times the layer sizes"
    )
