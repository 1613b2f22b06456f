"""Small synthetic data sets and test models for the training-loop tests
(imported by the tests of this folder as ``training_helpers``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from neurosim.data.types import Dataset, Split
from neurosim.models import registry
from neurosim.models.base import Task, TrainableModel


def toy_dataset(n_train: int = 96, n_in: int = 10, n_classes: int = 3, seed: int = 0) -> Dataset:
    """Linearly separable classes from a random teacher (float32 inputs, int64 labels)."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(n_in, n_classes))

    def split(n: int) -> Split:
        X = rng.normal(size=(n, n_in)).astype(np.float32)
        return Split(X, (X @ teacher).argmax(1).astype(np.int64))

    return Dataset("toy", split(n_train), split(40), split(40), {"n_classes": n_classes})


def toy_regression(n_train: int = 64, n_in: int = 6, n_out: int = 2) -> Dataset:
    rng = np.random.default_rng(1)
    A = rng.normal(size=(n_in, n_out))

    def split(n: int) -> Split:
        X = rng.normal(size=(n, n_in)).astype(np.float32)
        return Split(X, np.tanh(X @ A).astype(np.float32))

    return Dataset("toy-reg", split(n_train), None, split(32), {"n_classes": None})


class NoisyFeedbackModel(TrainableModel):
    """A linear model with a feedback phase that consumes its own generator and the
    global torch RNG (so resume must restore both), counting its calls."""

    name = "test-noisy"
    has_feedback_phase = True

    def __init__(self, task: Task, seed: int, dtype: torch.dtype) -> None:
        super().__init__(task)
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(0.1 * torch.randn(task.n_out, task.n_in, generator=g, dtype=dtype))
        self.Q = nn.Parameter(torch.zeros(task.n_out, dtype=dtype))
        self.noise = torch.Generator().manual_seed(seed + 7)
        self.register_buffer("calls", torch.zeros(2, dtype=torch.int64))  # forward, feedback
        self.opt = torch.optim.Adam([self.W], lr=1e-2)
        self.opt_fb = torch.optim.SGD([self.Q], lr=1e-2)
        self.fail_after: int | None = None  # raise KeyboardInterrupt after this many batches

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W.T

    def _tick(self) -> None:
        if self.fail_after is not None:
            self.fail_after -= 1
            if self.fail_after < 0:
                raise KeyboardInterrupt

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, phase: str) -> dict[str, float]:
        self._tick()
        if phase == "feedback":
            self.calls[1] += 1
            xi = torch.randn(self.Q.shape, generator=self.noise, dtype=self.Q.dtype)
            self.Q.grad = xi + torch.rand(self.Q.shape, dtype=self.Q.dtype)
            self.opt_fb.step()
            return {"q_norm": float(self.Q.detach().norm())}
        self.calls[0] += 1
        loss = self.task.loss(self(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"forward": self.opt, "feedback": self.opt_fb}

    def diagnostics(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
        return {"w_norm": self.W.norm(), "angle_test/layer1": 10.0, "not_a_number": "x"}


class NaNModel(NoisyFeedbackModel):
    name = "test-nan"
    has_feedback_phase = False

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, phase: str) -> dict[str, float]:
        return {"loss": float("nan")}


def _register(name: str, cls: type) -> None:
    if name in registry._FACTORIES:
        return

    @registry.register(name)
    def make(task: Task, params: dict, *, device: Any, dtype: torch.dtype, seed: int):
        if params.get("unknown"):
            raise ValueError(f"{name}: unknown parameter(s) ['unknown']")
        return cls(task, seed, dtype)


_register("test-noisy", NoisyFeedbackModel)
_register("test-nan", NaNModel)


def base_config(model: str = "bp", **over: Any) -> dict[str, Any]:
    cfg = {
        "model": model,
        "dataset": "mnist",
        "epochs": 2,
        "batch_size": 16,
        "seed": 3,
        "dtype": "float64",
        "val_size": 40,
        "schedule": {"epochs_fb": 0, "extra_fb_epochs": 0},
        "params": {"size_hidden": [8], "lr": 1e-5, "target_stepsize": 0.01},
    }
    cfg.update(over)
    return cfg
