"""Trace recording and per-sample convergence checks for the torch simulator."""

from __future__ import annotations

from collections.abc import Callable

import torch


class Trace:
    """Rows ``x[0], x[every], x[2*every], ...`` of one variable, stored in chunks.

    Chunks of ``chunk`` rows are preallocated as needed, so runs of unknown length
    (``run_until_steady``) grow without copying; :meth:`result` concatenates once.
    """

    def __init__(self, get: Callable[[], torch.Tensor], every: int, chunk: int) -> None:
        self.get, self.every, self.chunk = get, every, max(1, chunk)
        self.chunks: list[torch.Tensor] = []
        self.rows = 0

    def record(self, k: int) -> None:
        """Store the current value if step ``k`` is a multiple of ``every``."""
        if k % self.every:
            return
        x = self.get()
        i, r = divmod(self.rows, self.chunk)
        if i == len(self.chunks):
            self.chunks.append(x.new_empty((self.chunk, *x.shape)))
        self.chunks[i][r].copy_(x)
        self.rows += 1

    def result(self) -> torch.Tensor:
        """All recorded rows, shape ``(rows, batch, n)``."""
        if not self.chunks:
            raise RuntimeError("Trace.result: nothing was recorded")
        return torch.cat(self.chunks, 0)[: self.rows]


class SteadyState:
    """Per-sample test ``max_i |x_i[k] - x_i[k-1]| < tol`` over the given state tensors.

    Every ``check_every`` steps the state after the step before is compared with the
    state after the step; ``converged_at[b]`` is the first checked step at which
    sample ``b`` passed (``-1`` while it has not).
    """

    def __init__(
        self, get: Callable[[], list[torch.Tensor]], tol: float, check_every: int, batch: int
    ) -> None:
        if check_every < 1 or tol <= 0:
            raise ValueError(
                f"run_until_steady: need check_every >= 1 and tol > 0, got "
                f"check_every={check_every}, tol={tol}"
            )
        self.get, self.tol, self.every = get, tol, check_every
        self.snapshot: torch.Tensor | None = None
        self.converged_at = torch.full((batch,), -1, dtype=torch.long)

    def _flat(self) -> torch.Tensor:
        return torch.cat([t.reshape(t.shape[0], -1) for t in self.get()], 1)

    def before(self, k: int) -> None:
        """Call before step ``k`` (1-based): snapshot if step ``k`` will be checked."""
        if k % self.every == 0:
            self.snapshot = self._flat().clone()

    def after(self, k: int) -> bool:
        """Call after step ``k``; True when every sample has converged."""
        if k % self.every or self.snapshot is None:
            return False
        change = (self._flat() - self.snapshot).abs().amax(1).cpu()
        new = (change < self.tol) & (self.converged_at < 0)
        self.converged_at[new] = k
        return bool((self.converged_at >= 0).all())
