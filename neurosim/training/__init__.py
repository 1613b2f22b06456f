"""Training of :class:`neurosim.models.base.TrainableModel` s: run configs, the DFC schedule,
checkpoints and resume, metrics and plots (``neurosim train``)."""

from neurosim.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from neurosim.training.config import (
    ConfigError,
    RunConfig,
    Schedule,
    default_config,
    load_config,
)
from neurosim.training.divergence import TrainingDivergedError
from neurosim.training.loop import train
from neurosim.training.resources import TrainingMemoryError
from neurosim.training.rundir import RunDirectoryError
from neurosim.training.tasks import TASKS, TaskSpec

__all__ = [
    "TASKS",
    "CheckpointError",
    "ConfigError",
    "RunConfig",
    "RunDirectoryError",
    "Schedule",
    "TaskSpec",
    "TrainingDivergedError",
    "TrainingMemoryError",
    "default_config",
    "load_checkpoint",
    "load_config",
    "save_checkpoint",
    "train",
]
