"""Synthetic sets: shapes, reproducibility from seeds, teacher statistics, ball physics."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.data import load_dataset
from neurosim.data.synthetic import (
    bouncing_balls,
    fold_positions,
    make_teacher,
    prediction_pairs,
    render_frames,
    student_teacher,
    teacher_forward,
)

SMALL = dict(n_train=50, n_test=20, hidden=(30, 30))


def test_student_teacher_shapes_and_seed():
    a = student_teacher(n_val=10, seed=1, **SMALL)
    assert a["X_train"].shape == (50, 15) and a["y_train"].shape == (50, 5)
    assert a["X_val"].shape == (10, 15) and a["X_test"].shape == (20, 15)
    assert all(v.dtype == np.float32 for v in a.values())
    b = student_teacher(n_val=10, seed=1, **SMALL)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = student_teacher(n_val=10, seed=2, **SMALL)
    assert not np.allclose(a["y_test"], c["y_test"])
    bigger = student_teacher(n_val=10, seed=1, **{**SMALL, "n_train": 80})
    np.testing.assert_array_equal(bigger["X_test"], a["X_test"])  # splits are independent
    np.testing.assert_array_equal(bigger["y_test"], a["y_test"])


def test_teacher_is_xavier_normal_relu_linear():
    teacher = make_teacher(n_in=15, hidden=(1000, 1000), n_out=5, gain=3.0, seed=0)
    assert [W.shape for W, _ in teacher] == [(1000, 15), (1000, 1000), (5, 1000)]
    W = teacher[1][0]
    assert W.std() == pytest.approx(3.0 * np.sqrt(2.0 / 2000), rel=0.01)
    assert all((b == 0).all() for _, b in teacher)
    x = np.random.default_rng(0).standard_normal((4, 15))
    h = np.maximum(x @ teacher[0][0].T, 0)
    h = np.maximum(h @ teacher[1][0].T, 0)
    np.testing.assert_allclose(teacher_forward(teacher, x), h @ teacher[2][0].T)


def test_input_distributions():
    normal = student_teacher(n_train=4000, n_test=1, hidden=(8,), seed=0)["X_train"]
    assert abs(normal.std() - 1.0) < 0.02
    uniform = student_teacher(n_train=4000, n_test=1, hidden=(8,), input_dist="uniform")
    assert uniform["X_train"].min() >= -1 and uniform["X_train"].max() <= 1
    with pytest.raises(ValueError, match="input_dist='laplace'"):
        student_teacher(input_dist="laplace")


def test_load_student_teacher_defaults_follow_dfc():
    ds = load_dataset("student-teacher", hidden=(20,))
    assert (len(ds.train), len(ds.test), ds.input_size, ds.train.y.shape[1]) == (5000, 1000, 15, 5)
    assert ds.val is None and ds.n_classes is None
    assert load_dataset("student-teacher", val_size=100, hidden=(20,)).val.X.shape == (100, 15)


def test_balls_stay_in_box_and_reflect_elastically():
    r, box = 0.1, 1.0
    pos = bouncing_balls(40, 200, n_balls=2, box=box, radius=r, seed=3)
    assert pos.shape == (40, 200, 2, 2)
    assert pos.min() >= r - 1e-12 and pos.max() <= box - r + 1e-12
    step = np.abs(np.diff(pos, axis=1))  # per-coordinate |displacement|
    speed = step.max(axis=1, keepdims=True)  # |v_x|, |v_y| (reached on steps without a bounce)
    assert (step <= speed + 1e-12).all()
    free = np.isclose(step, speed)
    assert free.mean() > 0.8  # most steps are free flight at constant speed
    sign = np.sign(np.diff(pos, axis=1))
    assert (sign[:, 1:] != sign[:, :-1]).any()  # some bounces happen


def test_ball_hand_computed_bounce():
    # box 1, radius 0.1: the centre lives in [0.1, 0.9]. From 0.85 at +0.1 per step the ball
    # hits the wall half-way through step 1 and comes back: 0.85, 0.85, 0.75, ..., 0.15, 0.15.
    x = fold_positions(np.array([[0.85]]), np.array([[0.1]]), 12, box=1.0, radius=0.1)[0]
    expected = [0.85, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.15, 0.25, 0.35]
    np.testing.assert_allclose(x, expected, atol=1e-12)


def test_reproducible_from_seed():
    np.testing.assert_array_equal(bouncing_balls(3, 10, seed=5), bouncing_balls(3, 10, seed=5))
    assert not np.allclose(bouncing_balls(3, 10, seed=5), bouncing_balls(3, 10, seed=6))


def test_frames_peak_at_ball():
    pos = np.array([[[0.32, 0.72]]])  # (T=1, balls=1, 2); pixel centres at (k + 0.5) / 20
    frames = render_frames(pos, size=20, radius=0.1)
    assert frames.shape == (1, 400) and frames.dtype == np.float32
    row, col = np.unravel_index(frames[0].argmax(), (20, 20))
    assert (col, row) == (6, 14)
    assert frames.min() >= 0.0 and frames.max() <= 1.0


def test_prediction_pairs_shift():
    seq = np.arange(2 * 6 * 3, dtype=np.float64).reshape(2, 6, 3)
    x, y = prediction_pairs(seq, horizon=2)
    assert x.shape == y.shape == (8, 3)
    np.testing.assert_array_equal(y.reshape(2, 4, 3), seq[:, 2:])
    np.testing.assert_array_equal(x.reshape(2, 4, 3)[:, 2:], y.reshape(2, 4, 3)[:, :2])
    with pytest.raises(ValueError, match="horizon=6"):
        prediction_pairs(seq, horizon=6)


def test_load_bouncing_ball():
    ds = load_dataset("bouncing-ball", n_train=8, n_test=4, n_steps=10, horizon=3)
    assert ds.train.X.shape == (8 * 7, 2) and ds.meta["sequence_shape"]["train"] == (8, 7)
    xs = ds.train.X.reshape(8, 7, 2)
    ys = ds.train.y.reshape(8, 7, 2)
    np.testing.assert_array_equal(xs[:, 3:], ys[:, :4])
    frames = load_dataset("bouncing-ball", n_train=2, n_test=2, render="frames", frame_size=8,
                          n_balls=2, val_size=2)  # fmt: skip
    assert frames.train.X.shape == (2 * 19, 64) and frames.val.X.shape == (2 * 19, 64)
