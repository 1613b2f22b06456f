"""Synthetic data sets, reproducible from a seed with numpy only.

Student-teacher regression (DFC, Meulemans et al. 2021, Sec. 6 / Fig. 3): a random
teacher MLP maps inputs to targets,

.. math:: h_0 = x,\\quad h_l = \\mathrm{ReLU}(W_l h_{l-1} + b_l),\\quad
          y = W_{L} h_{L-1} + b_{L},

with ``W_l ~ N(0, g^2 \\cdot 2 / (n_{l-1} + n_l))`` (xavier_normal, gain ``g = 3``) and
``b_l = 0``; the DFC reference teacher is 15-(4x1000 ReLU)-5, deeper and wider than
the 15-10-10-5 student. Inputs are standard normal by default (``input_dist="normal"``;
``"uniform"`` draws from U(-1, 1) as in some versions of the reference code).

Bouncing balls: balls move at constant velocity inside the box ``[0, box]^2`` and
reflect elastically off the walls (balls do not collide with each other). With
``L = box - 2r`` the exact position at step ``t`` is the fold ``r + tri(p_0 - r + v t)``
where ``tri(q) = q mod 2L`` reflected about ``L``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_SEED = 42


def _xavier_normal(rng: np.random.Generator, n_out: int, n_in: int, gain: float) -> np.ndarray:
    return rng.normal(0.0, gain * np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def make_teacher(
    n_in: int = 15,
    hidden: Sequence[int] = (1000, 1000, 1000, 1000),
    n_out: int = 5,
    gain: float = 3.0,
    seed: int = DEFAULT_SEED,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random teacher weights ``[(W_1, b_1), ..., (W_L, b_L)]``, ``W_l`` of shape (n_l, n_{l-1})."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    sizes = [n_in, *hidden, n_out]
    return [
        (_xavier_normal(rng, n_o, n_i, gain), np.zeros(n_o))
        for n_i, n_o in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def teacher_forward(teacher: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """Targets of inputs ``x`` (N, n_in): ReLU hidden layers, linear output (float64)."""
    h = np.asarray(x, dtype=np.float64)
    for W, b in teacher[:-1]:
        h = np.maximum(h @ W.T + b, 0.0)
    W, b = teacher[-1]
    return h @ W.T + b


def student_teacher(
    n_train: int = 5000,
    n_val: int = 0,
    n_test: int = 1000,
    n_in: int = 15,
    n_out: int = 5,
    hidden: Sequence[int] = (1000, 1000, 1000, 1000),
    gain: float = 3.0,
    input_dist: str = "normal",
    seed: int = DEFAULT_SEED,
) -> dict[str, np.ndarray]:
    """Inputs and teacher targets for train / val / test (float32).

    Each split's inputs come from its own child of ``SeedSequence(seed)``, so changing
    one split's size does not change the others or the teacher.
    """
    if input_dist not in ("normal", "uniform"):
        raise ValueError(f"student_teacher: input_dist={input_dist!r}; use 'normal' or 'uniform'.")
    teacher = make_teacher(n_in, hidden, n_out, gain, seed)
    streams = np.random.SeedSequence(seed).spawn(4)[1:]
    out: dict[str, np.ndarray] = {}
    for part, n, stream in zip(("train", "val", "test"), (n_train, n_val, n_test), streams,
                               strict=True):  # fmt: skip
        rng = np.random.default_rng(stream)
        if input_dist == "normal":
            x = rng.standard_normal((n, n_in))
        else:
            x = rng.uniform(-1.0, 1.0, (n, n_in))
        out[f"X_{part}"] = x.astype(np.float32)
        out[f"y_{part}"] = teacher_forward(teacher, x).astype(np.float32)
    return out


def bouncing_balls(
    n_sequences: int,
    n_steps: int,
    n_balls: int = 1,
    box: float = 1.0,
    radius: float = 0.1,
    speed: tuple[float, float] = (0.02, 0.06),
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """Ball centres, shape ``(n_sequences, n_steps, n_balls, 2)`` float64.

    Start positions are uniform in ``[r, box - r]^2``; directions uniform on the circle;
    speeds (box units per step) uniform in ``speed``.
    """
    span = box - 2.0 * radius
    if span <= 0:
        raise ValueError(f"bouncing_balls: radius={radius} leaves no room in box={box}.")
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(0.0, span, (n_sequences, 1, n_balls, 2))
    angle = rng.uniform(0.0, 2 * np.pi, (n_sequences, 1, n_balls))
    norm = rng.uniform(speed[0], speed[1], (n_sequences, 1, n_balls))
    v = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * norm[..., None]
    return fold_positions(radius + p0, v, n_steps, box, radius)


def fold_positions(
    start: np.ndarray, velocity: np.ndarray, n_steps: int, box: float = 1.0, radius: float = 0.1
) -> np.ndarray:
    """Exact elastic-wall trajectory: positions at steps ``0..n_steps-1`` along a new axis 1.

    ``start`` and ``velocity`` have shape ``(S, 1, ..., 2)`` (or broadcast to it); the
    start must lie in ``[r, box - r]``. Uses ``r + tri(start - r + v t)`` (module docstring).
    """
    span = box - 2.0 * radius
    start, velocity = np.asarray(start, dtype=np.float64), np.asarray(velocity, dtype=np.float64)
    shape = (1, n_steps) + (1,) * (start.ndim - 2)
    t = np.arange(n_steps, dtype=np.float64).reshape(shape)
    q = np.mod(start - radius + velocity * t, 2.0 * span)
    return radius + np.where(q <= span, q, 2.0 * span - q)


def render_frames(
    positions: np.ndarray, size: int = 16, box: float = 1.0, radius: float = 0.1
) -> np.ndarray:
    """Render centres (..., n_balls, 2) to flattened frames (..., size*size) float32.

    Each ball is a Gaussian blob of width ``radius / 2`` evaluated at pixel centres;
    overlapping balls add and the intensity is clipped to [0, 1].
    """
    centres = (np.arange(size) + 0.5) * (box / size)
    gx, gy = np.meshgrid(centres, centres, indexing="xy")
    dx = gx - positions[..., 0, None, None]
    dy = gy - positions[..., 1, None, None]
    blobs = np.exp(-(dx**2 + dy**2) / (2.0 * (radius / 2.0) ** 2)).sum(axis=-3)
    return np.clip(blobs, 0.0, 1.0).reshape(*positions.shape[:-2], size * size).astype(np.float32)


def prediction_pairs(sequences: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``s[:, :-h]`` and targets ``s[:, h:]`` of sequences (S, T, d), flattened to rows.

    Returns arrays of shape ``(S * (T - h), d)``; row ``i * (T - h) + t`` pairs step ``t``
    of sequence ``i`` with step ``t + h``.
    """
    S, T = sequences.shape[:2]
    if not 1 <= horizon < T:
        raise ValueError(
            f"prediction_pairs: horizon={horizon} must be in [1, {T}) for sequences of "
            f"{T} steps; generate longer sequences."
        )
    d = int(np.prod(sequences.shape[2:]))
    x = sequences[:, :-horizon].reshape(S * (T - horizon), d)
    y = sequences[:, horizon:].reshape(S * (T - horizon), d)
    return x.astype(np.float32), y.astype(np.float32)
