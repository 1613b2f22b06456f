"""Public entry points: :func:`load_dataset`, :func:`fetch`, :func:`info`, :func:`list_datasets`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neurosim.data.images import IMAGE_SETS, fetch_images, load_images
from neurosim.data.splits import (
    DEFAULT_SPLIT_SEED,
    MNIST_MEAN,
    MNIST_STD,
    normalize_images,
    validation_split,
)
from neurosim.data.synthetic import (
    bouncing_balls,
    prediction_pairs,
    render_frames,
    student_teacher,
)
from neurosim.data.types import Dataset, Split

DATASETS: dict[str, str] = {
    "mnist": "MNIST digits, 60000/10000, (x/255 - 0.1307)/0.3081, 784 float32, 10 classes",
    "fashion-mnist": "Fashion-MNIST, 60000/10000, x/255, 784 float32, 10 classes",
    "student-teacher": "regression from a random 15-(4x1000 ReLU)-5 teacher (DFC toy task)",
    "bouncing-ball": "bouncing balls in a box: predict the state n steps ahead",
}
NORMALISATION = {"mnist": (MNIST_MEAN, MNIST_STD), "fashion-mnist": (0.0, 1.0)}
DEFAULT_VAL_SIZE = {"mnist": 5000, "fashion-mnist": 5000, "student-teacher": 0, "bouncing-ball": 0}


def list_datasets() -> dict[str, str]:
    """Names accepted by :func:`load_dataset` with a one-line description."""
    return dict(DATASETS)


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASETS)} "
            "(mnist-autoencoder / mnist-train are training tasks built on 'mnist')."
        )


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    val_size: int | None = None,
    split_seed: int = DEFAULT_SPLIT_SEED,
    download: bool = True,
    **options: Any,
) -> Dataset:
    """Load a data set as float32 rows with train / validation / test splits.

    Parameters
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"``, ``"student-teacher"`` or ``"bouncing-ball"``.
    data_dir : path, optional
        Directory to search first and to store fetched files in (default
        ``$NEUROSIM_DATA``, else the user cache; see :mod:`neurosim.data.files`).
    val_size : int, optional
        Image sets: samples held out of the training set (default 5000, the DFC
        protocol; 0 disables). Synthetic sets: size of an independent validation
        sample (default 0; sequences for ``bouncing-ball``).
    split_seed : int
        Seed of the validation split (image sets) or of the generator (synthetic).
    download : bool
        Allow mirrors / npm; with False only local files are used.
    **options
        Synthetic sets: keyword arguments of :func:`student_teacher` /
        :func:`_bouncing_ball_dataset` (e.g. ``n_train``, ``horizon``, ``render``).
    """
    _check_name(name)
    if val_size is None:
        val_size = DEFAULT_VAL_SIZE[name]
    if name in IMAGE_SETS:
        if options:
            raise TypeError(f"load_dataset({name!r}): unexpected options {sorted(options)}.")
        return _image_dataset(name, data_dir, val_size, split_seed, download)
    if name == "student-teacher":
        return _student_teacher_dataset(val_size, split_seed, **options)
    return _bouncing_ball_dataset(val_size, split_seed, **options)


def _image_dataset(
    name: str, data_dir: str | Path | None, val_size: int, split_seed: int, download: bool
) -> Dataset:
    arrays, meta = load_images(name, data_dir, download)
    mean, std = NORMALISATION[name]
    X = normalize_images(arrays["train_images"], mean, std)
    y = arrays["train_labels"]
    test = Split(normalize_images(arrays["test_images"], mean, std), arrays["test_labels"])
    val = None
    if val_size > 0:
        train_idx, val_idx = validation_split(len(X), val_size, split_seed)
        val = Split(X[val_idx], y[val_idx])
        X, y = X[train_idx], y[train_idx]
    meta.update(
        val_size=val_size,
        split_seed=split_seed,
        validation=f"default_rng({split_seed}).permutation, first {val_size} -> val",
        normalisation=f"(x/255 - {mean}) / {std}",
    )
    return Dataset(name, Split(X, y), val, test, meta)


def _student_teacher_dataset(val_size: int, split_seed: int, **options: Any) -> Dataset:
    seed = options.pop("seed", split_seed)
    data = student_teacher(n_val=val_size, seed=seed, **options)
    val = Split(data["X_val"], data["y_val"]) if val_size > 0 else None
    meta = {
        "source": "synthetic: random teacher network (numpy)",
        "seed": seed,
        "split_seed": seed,
        "options": options,
        "n_classes": None,
        "class_names": None,
        "checksums": {},
    }
    return Dataset(
        "student-teacher",
        Split(data["X_train"], data["y_train"]),
        val,
        Split(data["X_test"], data["y_test"]),
        meta,
    )


def _bouncing_ball_dataset(
    val_size: int,
    split_seed: int,
    n_train: int = 512,
    n_test: int = 128,
    n_steps: int = 20,
    horizon: int = 1,
    n_balls: int = 1,
    render: str = "coords",
    frame_size: int = 16,
    radius: float = 0.1,
    speed: tuple[float, float] = (0.02, 0.06),
    seed: int | None = None,
) -> Dataset:
    """Bouncing-ball sequence prediction: inputs at step t, targets at step t + horizon.

    ``speed``: range of the (constant) ball speeds in box units per step; give equal
    bounds for one speed.

    ``render="coords"`` gives rows of ``2 * n_balls`` coordinates; ``"frames"`` gives
    flattened ``frame_size**2`` images. ``meta["sequence_shape"][part]`` is
    ``(sequences, n_steps - horizon)``, for reshaping rows back into sequences.
    """
    if render not in ("coords", "frames"):
        raise ValueError(f"bouncing-ball: render={render!r}; use 'coords' or 'frames'.")
    seed = split_seed if seed is None else seed
    parts, shapes = {}, {}
    for k, (part, n) in enumerate((("train", n_train), ("val", val_size), ("test", n_test))):
        if n == 0:
            continue
        pos = bouncing_balls(
            n, n_steps, n_balls, radius=radius, speed=tuple(speed), seed=seed + 7919 * k
        )
        seq = render_frames(pos, frame_size, radius=radius) if render == "frames" else pos
        seq = seq.reshape(n, n_steps, -1)
        parts[part] = Split(*prediction_pairs(seq, horizon))
        shapes[part] = (n, n_steps - horizon)
    meta = {
        "source": "synthetic: bouncing balls with elastic walls (numpy)",
        "seed": seed,
        "split_seed": seed,
        "horizon": horizon,
        "render": render,
        "n_balls": n_balls,
        "sequence_shape": shapes,
        "n_classes": None,
        "class_names": None,
        "checksums": {},
    }
    return Dataset("bouncing-ball", parts["train"], parts.get("val"), parts["test"], meta)


def fetch(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Ensure verified files of ``name`` are present; return their paths.

    Files in ``data_dir`` (read-only to neurosim) are used in place when they verify;
    anything missing or failing there is fetched into neurosim's cache. Synthetic sets
    have no files: the result is an empty list.
    """
    _check_name(name)
    if name not in IMAGE_SETS:
        return []
    return fetch_images(name, data_dir, download=True)[0]


def info(name: str, data_dir: str | Path | None = None, download: bool = False) -> dict[str, Any]:
    """Sizes, per-class counts, checksums and location of ``name``.

    A query: nothing is written, deleted or fetched, unless ``download`` asks to
    :func:`fetch` first. Image sets are read from local files; a missing or corrupt set
    raises :class:`~neurosim.data.types.DataError` naming the bad files and saying to
    run ``neurosim data fetch``.
    """
    _check_name(name)
    if name not in IMAGE_SETS:
        ds = load_dataset(name, data_dir)
        return {
            "name": name,
            "description": DATASETS[name],
            "n_train": len(ds.train),
            "n_test": len(ds.test),
            "input_size": ds.input_size,
            "target_size": int(ds.train.y.shape[1]),
            **{k: v for k, v in ds.meta.items() if k != "checksums"},
        }
    if download:
        fetch(name, data_dir)
    arrays, meta = load_images(name, data_dir, download=False, modify=False)
    n_classes = meta["n_classes"]
    return {
        "name": name,
        "description": DATASETS[name],
        "n_train": len(arrays["train_labels"]),
        "n_test": len(arrays["test_labels"]),
        "image_shape": tuple(arrays["train_images"].shape[1:]),
        "train_class_counts": np.bincount(arrays["train_labels"], minlength=n_classes).tolist(),
        "test_class_counts": np.bincount(arrays["test_labels"], minlength=n_classes).tolist(),
        **meta,
    }
