"""The learning problems ``neurosim train --dataset`` knows (DFC App. F, DFC.md §2).

Each entry says which data set of :mod:`neurosim.data` it reads, the loss, and the
default architecture (``size_hidden``, ``hidden_activation``, ``output_activation``),
which a run config may override in its ``params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskSpec:
    """One ``--dataset`` choice.

    Attributes
    ----------
    name
        The ``--dataset`` value, also the folder of its configs
        (``models/configs/{name}/``).
    source
        Name passed to :func:`neurosim.data.load_dataset`.
    kind
        ``"classification"`` (cross-entropy, DFC App. F eq. 223) or ``"regression"`` (MSE).
    autoencoder
        Targets are the inputs themselves (MNIST autoencoder).
    architecture
        Default hidden sizes and activations (keys of the models' Config dataclasses).
    metric
        The quantity the experiment reports: ``"test_error"`` (classification),
        ``"test_loss"`` (regression) or ``"train_loss"`` (MNIST-train, DFC Fig. 4).
    sequence
        Samples are trajectories: inputs and targets are ``(sequences, time, features)``
        (see :mod:`neurosim.training.sequences`).
    data_options
        Default options of the data set (keyword arguments of
        :func:`neurosim.data.load_dataset`); a run config's ``data_options`` may
        override these keys and no others.
    max_val_size
        Largest ``val_size`` a run config may ask for (``None``: no limit), and
        ``val_size_note`` why, for the error message.
    """

    name: str
    source: str
    kind: str
    autoencoder: bool = False
    architecture: dict[str, Any] = field(default_factory=dict)
    metric: str = "test_error"
    sequence: bool = False
    data_options: dict[str, Any] = field(default_factory=dict)
    max_val_size: int | None = None
    val_size_note: str = ""


_MLP = {"size_hidden": [256, 256, 256], "hidden_activation": "tanh", "output_activation": "linear"}
#: validation images are split off the 60 000 training images (at least one must remain)
_IMAGES = {"max_val_size": 59999, "val_size_note": "split off its 60000 training images"}

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("mnist", "mnist", "classification", architecture=dict(_MLP), **_IMAGES),
        TaskSpec(
            "fashion-mnist", "fashion-mnist", "classification", architecture=dict(_MLP), **_IMAGES
        ),
        TaskSpec(
            "mnist-train",
            "mnist",
            "classification",
            architecture=dict(_MLP),
            metric="train_loss",
            **_IMAGES,
        ),
        TaskSpec(
            "mnist-autoencoder",
            "mnist",
            "regression",
            autoencoder=True,
            architecture={
                "size_hidden": [256, 32, 256],
                "hidden_activation": ["tanh", "linear", "tanh"],
                "output_activation": "linear",
            },
            metric="test_loss",
            **_IMAGES,
        ),
        TaskSpec(
            "bouncing-ball",
            "bouncing-ball",
            "regression",
            architecture={"hidden_size": 2},
            metric="test_loss",
            sequence=True,
            # autapse_rnn_fa.md §2.2-2.3: unit box, elastic walls, constant speed 0.03 per
            # step, radius 0.05, 100-step trajectories (n_steps positions give
            # n_steps - horizon input/target pairs), 20 train sequences (+ val_size, 5 test)
            data_options={
                "n_train": 20,
                "n_test": 5,
                "n_steps": 101,
                "horizon": 1,
                "radius": 0.05,
                "speed": [0.03, 0.03],
            },
            # independent sequences like the training ones (101 steps x 2 coordinates)
            max_val_size=10000,
            val_size_note="independent trajectories generated like its 20 training "
            "sequences; 500x the training set is plenty for a validation estimate",
        ),
        TaskSpec(
            "student-teacher",
            "student-teacher",
            "regression",
            architecture={
                "size_hidden": [10, 10],
                "hidden_activation": "tanh",
                "output_activation": "linear",
            },
            metric="test_loss",
            # an independent sample through the 4x1000-unit teacher: ~3 MFLOP per sample
            max_val_size=20000,
            val_size_note="generated through its 15-(4x1000)-5 teacher network; 4x the "
            "5000 training samples is plenty for a validation estimate",
        ),
    )
}


def get_task_spec(name: str) -> TaskSpec:
    """The :class:`TaskSpec` of ``--dataset name``; unknown names list the choices."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(TASKS)}") from None
