"""Small helpers shared by the sweep and comparison reports: CSV rows, number cells."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write ``rows`` (columns: the union of their keys, in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: cell(row.get(k)) for k in columns})
    return path


def is_finite(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (bools excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def cell(value: Any) -> str:
    """Text of a table cell: floats to 6 significant digits, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
