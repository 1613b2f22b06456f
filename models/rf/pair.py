"""Online learning of one :class:`~neurosim.circuits.ReciprocalPair` on the torch backend,
with the Penrose residuals recorded along the way (experiments E1, E1b, E1c).

The pair is built into an IR model (``dt = 1``, so a step's update is ``eta * dW``)
and run by :class:`~neurosim.backends.torch.TorchSimulator` with
``plasticity="online"`` in chunks of steps; between chunks the residuals of
:func:`~neurosim.models.rf.penrose.penrose_residuals` are measured against the current
``A`` and the top-down rate may be annealed (the per-parameter ``lr`` of the chunk
multiplies ``eta_B``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import ReciprocalPair
from neurosim.core.network import Network
from neurosim.ir.build import build
from neurosim.models.rf.penrose import RESIDUALS, penrose_residuals

#: ``data(start, count, batch) -> (count, batch, m)``: the data rows of steps
#: ``start+1 .. start+count`` (drive="data")
DataStream = Callable[[int, int, int], np.ndarray]
#: ``measure(A, B) -> {name: value}``: extra quantities recorded with the residuals
Measure = Callable[[Tensor, Tensor], dict[str, float]]


@dataclass(frozen=True)
class Anneal:
    """``eta_B(t) = eta_B * min(1, t0 / t)``: constant for ``t0`` steps, then ``1/t``.

    The stochastic floor of ``||B - A⁺||`` scales like ``sqrt(eta_B / batch)``
    (recirculation_pinv.md §2.1, derived); a ``1/t`` rate shrinks it like ``sqrt(t0/t)``
    as long as the slowest mode still tracks, ``eta_B * t0 * sigma² * lambda_min(AAᵀ)
    >~ 1``.
    """

    t0: float

    def __post_init__(self) -> None:
        if not isinstance(self.t0, (int, float)) or isinstance(self.t0, bool) or self.t0 <= 0:
            raise ValueError(f"Anneal: t0={self.t0!r} must be a number of steps > 0")

    def factor(self, t: float) -> float:
        """Multiplier of ``eta_B`` at step ``t``."""
        return min(1.0, self.t0 / max(t, 1.0))


@dataclass
class PairHistory:
    """Residuals of a pair over training: ``steps`` (k,) and ``residuals[key]`` (k,)
    for each key of :data:`~neurosim.models.rf.penrose.RESIDUALS`, plus ``norm_A``
    (Frobenius norm of ``A``) and ``eta_B`` (the rate used up to that step)."""

    steps: list[int] = field(default_factory=list)
    residuals: dict[str, list[float]] = field(default_factory=dict)
    #: the final weights (set by :meth:`PairTrainer.train`)
    A: Tensor | None = None
    B: Tensor | None = None

    def record(self, step: int, values: dict[str, float]) -> None:
        self.steps.append(step)
        for k, v in values.items():
            self.residuals.setdefault(k, []).append(v)

    def final(self) -> dict[str, float]:
        """The last recorded value of each quantity."""
        return {k: v[-1] for k, v in self.residuals.items()}

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "steps": np.asarray(self.steps),
            **{k: np.asarray(v) for k, v in self.residuals.items()},
        }


def record_points(steps: int, every: int, n_log: int = 40) -> list[int]:
    """Steps after which to measure: log-spaced early (for log-scale plots), then every
    ``every`` steps, always ending at ``steps``."""
    log = np.unique(np.geomspace(1, steps, n_log).astype(int))
    lin = np.arange(every, steps + 1, every)
    return sorted({int(s) for s in np.concatenate([log, lin, [steps]]) if 0 < s <= steps})


class PairTrainer:
    """Run ``pair`` online on the torch backend.

    Parameters
    ----------
    pair : the circuit (its ``eta_A``, ``eta_B``, drive and initialisers).
    batch : samples per step (the rules average over them).
    seed : network seed (initial weights and noise seeds).
    data : the data stream for ``drive="data"`` (see :data:`DataStream`).
    dtype, device : of the simulation.
    """

    def __init__(
        self,
        pair: ReciprocalPair,
        batch: int = 32,
        seed: int = 0,
        data: DataStream | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> None:
        if pair.drive == "data" and data is None:
            raise ValueError(
                f"PairTrainer: ReciprocalPair '{pair.name}' has drive='data'; pass data="
            )
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"PairTrainer: batch={batch!r} must be an integer >= 1")
        self.pair, self.batch, self.data = pair, batch, data
        net = Network(f"{pair.name}_net", seed=seed)
        net.add(pair)
        self.model = build(net, dt=1.0)
        self.sim = TorchSimulator(self.model, device=device, dtype=dtype, threads=1, progress=False)
        self.t = 0
        if data is None:
            self.sim.reset({}, batch=batch)

    @property
    def A(self) -> Tensor:  # noqa: N802
        return self.sim.params[self.pair.var("A")]

    @property
    def B(self) -> Tensor:  # noqa: N802
        return self.sim.params[self.pair.var("B")]

    def residuals(self) -> dict[str, float]:
        """Penrose residuals of the current ``(A, B)`` and ``norm_A``."""
        out = penrose_residuals(self.A, self.B)
        out["norm_A"] = float(torch.linalg.matrix_norm(self.A))
        return out

    def advance(self, steps: int, eta_factor: float = 1.0) -> None:
        """``steps`` online steps with ``eta_B`` multiplied by ``eta_factor``."""
        if steps < 1:
            return
        if self.data is not None:
            rows = self.data(self.t, steps, self.batch)
            self.sim.reset({self.pair.var("data"): torch.as_tensor(rows)})
        lr = {self.pair.var("A"): 1.0, self.pair.var("B"): eta_factor}
        self.sim.run(steps, plasticity="online", lr=lr, progress=False)
        self.t += steps

    def train(
        self,
        steps: int,
        every: int = 500,
        anneal: Anneal | None = None,
        extra: Measure | None = None,
    ) -> PairHistory:
        """``steps`` steps, measuring at :func:`record_points` (plus ``extra(A, B)``, if
        given); each chunk between two measurements runs at the annealed rate of its
        midpoint."""
        hist = PairHistory()
        start = self.t
        for point in record_points(steps, every):
            n = start + point - self.t
            mid = self.t + 0.5 * (n + 1)
            factor = anneal.factor(mid) if anneal is not None else 1.0
            self.advance(n, factor)
            values = self.residuals()
            values["eta_B"] = self.pair.eta_B * factor
            if extra is not None:
                values.update(extra(self.A, self.B))
            hist.record(self.t, values)
        hist.A, hist.B = self.A.clone(), self.B.clone()
        return hist


def encoder_sweeps(
    seed: int,
    *,
    size: int = 4,
    hidden: int = 2,
    rate: float = 20.0,
    lam: float = 0.75,
    init_std: float = 0.5,
    max_sweeps: int = 400,
    tolerance: float = 0.1,
) -> int | None:
    """Sweeps Hinton & McClelland's Recirculation needs to learn the one-hot encoder.

    The replication's set-up (recirculation_pinv.md §2.2): a
    ``ReciprocalPair(variant="recirculation", bias=True)`` with logistic units, second
    passes mixed by ``lam``, both rates ``rate``, weights ``N(0, init_std²)``, trained
    online on the ``size`` one-hot patterns, one pattern per step in a fresh random
    order each sweep. After every sweep each pattern is reconstructed without learning;
    returns the first sweep after which every unit of every pattern is within
    ``tolerance``, or ``None`` if none within ``max_sweeps``.
    """
    from neurosim.core.init import Normal

    patterns = torch.eye(size, dtype=torch.float64)[:, None, :]  # (steps, batch 1, size)
    net = Network("encoder", seed=seed)
    net.add(ReciprocalPair("p", size, hidden=hidden, variant="recirculation", bias=True,
                           drive="data", sigma=0.0, eta_A=rate, eta_B=rate, lam=lam,
                           init_A=Normal(init_std), init_B=Normal(init_std)))  # fmt: skip
    sim = TorchSimulator(build(net, dt=1.0), dtype=torch.float64, progress=False)
    order = torch.Generator().manual_seed(seed)
    for sweep in range(1, max_sweeps + 1):
        sim.reset({"p.data": patterns[torch.randperm(size, generator=order)]})
        sim.run(size, plasticity="online", lr=1.0, progress=False)
        sim.reset({"p.data": patterns})
        run = sim.run(size, record=["p.rec_x"], plasticity="off", progress=False)
        if (run.traces["p.rec_x"][1:, 0] - patterns[:, 0]).abs().max() < tolerance:
            return sweep
    return None


__all__ = [
    "RESIDUALS",
    "Anneal",
    "DataStream",
    "Measure",
    "PairHistory",
    "PairTrainer",
    "encoder_sweeps",
    "record_points",
]
