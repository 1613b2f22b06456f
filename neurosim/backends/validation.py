"""Checks at the entry of ``reset`` and ``run``, shared by both simulators.

Everything a user hands a simulator is checked once, where it enters (never per
step), with a :class:`~neurosim.core.errors.ValidationError` naming the simulator
method, the argument, the value and the fix:

* ``inputs``: a mapping of declared input names (close matches suggested) to numeric
  arrays of the declared size (the message names the input), without NaN or inf;
  an input of lower floating precision than the simulator (float32 into float64) is
  widened with a :class:`~neurosim.core.errors.PrecisionWarning` (both backends: the
  simulation then carries the input's float32 rounding);
* ``steps`` (an integer, numpy integers accepted) and ``record`` (one name or a list
  of names of model variables);
* memory: a batch or a recording that cannot fit into the free memory is refused
  before it is allocated, with the numbers and what to lower.

The array operations are the backend's (``convert``, ``nonfinite``), so torch tensors
stay on their device.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from neurosim.core.errors import (
    PrecisionWarning,
    Summary,
    ValidationError,
    check_count,
    check_known,
    check_names,
)
from neurosim.ir.model import Model, Variable

#: bytes per element of the floating dtypes a simulator may compute in / be given
_FLOAT_BITS = {"float16": 16, "bfloat16": 16, "float32": 32, "float64": 64}


def check_inputs(owner: str, model: Model, inputs: object) -> Mapping[str, Any]:
    """``inputs`` must map declared input names to values (``reset([x, y])`` is refused
    with the names to use)."""
    known = [v.name for v in model.of_kind("input")]
    if not isinstance(inputs, Mapping):
        raise ValidationError(
            owner,
            "inputs",
            Summary(f"<{type(inputs).__name__} of {_count(inputs)}>"),
            f"is a {type(inputs).__name__}, not a mapping",
            f"give a dict {{input name: array}} with the model's inputs {known}",
        )
    for name in inputs:
        check_known(owner, "inputs", name, known, f"an input of model '{_name(model)}'")
    return inputs


def dtype_name(value: object) -> str | None:
    """``"float32"`` etc. for a numpy or torch array (or scalar) of a floating type,
    else None (Python numbers and lists carry no precision of their own)."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return None
    name = str(dtype).removeprefix("torch.")
    return name if name in _FLOAT_BITS else None


def check_input(
    owner: str,
    var: Variable,
    value: object,
    *,
    convert: Callable[[object], Any],
    nonfinite: Callable[[Any], tuple[int, tuple[int, ...]] | None],
    sim_dtype: str,
    batch: int | None = None,
) -> Any:
    """Convert one input (``convert``) and check it: numeric, shape ``(batch, n)`` (or
    ``(T, batch, n)`` if time-varying), finite; widening is announced.

    ``nonfinite(array)`` returns ``(count, index of the first)`` of NaN/inf entries, or
    None when all are finite. ``batch``: the required batch size (None: any).
    """
    name = var.name
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        raise ValidationError(
            owner,
            f"inputs['{name}']",
            value,
            "is not numeric",
            f"give an array of shape {_want(var, batch)}",
        )
    given = dtype_name(value)
    if given is not None and _FLOAT_BITS[given] < _FLOAT_BITS.get(sim_dtype, 64):
        warnings.warn(
            f"{owner}: input '{name}' is {given} and was widened to the simulator's "
            f"{sim_dtype}; it carries {given} rounding (convert it yourself to silence this)",
            PrecisionWarning,
            stacklevel=4,
        )
    try:
        array = convert(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValidationError(
            owner,
            f"inputs['{name}']",
            value,
            f"is not numeric ({err})",
            f"give an array of shape {_want(var, batch)}",
        ) from None
    shape = tuple(array.shape)
    ndim = 3 if var.time_varying else 2
    if len(shape) != ndim or shape[-1] != var.size or (batch is not None and shape[-2] != batch):
        raise ValidationError(
            owner,
            f"inputs['{name}']",
            Summary(f"<array of shape {shape}>"),
            f"does not have the shape {_want(var, batch)}",
            f"give {var.size} values per sample"
            + (", one row per step" if var.time_varying else "")
            + (f" and {batch} samples" if batch is not None else ""),
        )
    bad = nonfinite(array)
    if bad is not None:
        count, first = bad
        raise ValidationError(
            owner,
            f"inputs['{name}']",
            Summary(f"<array of shape {shape}>"),
            f"holds {count} NaN/inf value{'s' if count != 1 else ''} (first at index "
            f"{tuple(int(i) for i in first)})",
            "clean or impute the data before simulating",
        )
    return array


def numpy_nonfinite(array: np.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """:func:`check_input`'s ``nonfinite`` for numpy arrays (a broadcast view, stride 0,
    is checked on its distinct values only)."""
    distinct = array[tuple(slice(0, 1) if st == 0 else slice(None) for st in array.strides)]
    if np.isfinite(distinct).all():
        return None
    bad = ~np.isfinite(array)
    if not bad.any():
        return None
    return int(bad.sum()), tuple(np.argwhere(bad)[0])


def check_steps(owner: str, steps: object, minimum: int = 0) -> int:
    """``steps`` as an int (numpy integers accepted; 2.5, True, "10" refused)."""
    return check_count(owner, "steps", steps, minimum=minimum)


def check_record(owner: str, model: Model, record: object, known: list[str]) -> list[str]:
    """Variables to record: one name or a list of names out of ``known``."""
    if record is None:
        return []
    return check_names(
        owner, "record", record, known, f"a recordable variable of model '{_name(model)}'"
    )


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(owner: str, attr: str, value: object, nbytes: int, fix: str) -> None:
    """Refuse an allocation of ``nbytes`` that cannot fit into the available memory."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise ValidationError(
            owner,
            attr,
            value,
            f"needs {nbytes / 2**30:.3g} GiB, more than the {free / 2**30:.3g} GiB available",
            fix,
        )


def out_of_memory(owner: str, attr: str, value: object, err: BaseException, fix: str) -> Exception:
    """The error to raise instead of an allocator's out-of-memory ``err`` (or ``err``
    itself when it is something else)."""
    text = str(err).lower()
    if isinstance(err, MemoryError) or "can't allocate memory" in text or "out of memory" in text:
        return ValidationError(owner, attr, value, f"does not fit into memory ({err})", fix)
    return err


def _count(value: object) -> str:
    try:
        return f"{len(value)} items"  # type: ignore[arg-type]
    except TypeError:
        return "1 item"


def _want(var: Variable, batch: int | None) -> str:
    b = "batch" if batch is None else str(batch)
    return f"(T, {b}, {var.size})" if var.time_varying else f"({b}, {var.size})"


def _name(model: Model) -> str:
    return str(model.meta.get("name", "model"))
