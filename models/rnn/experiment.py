"""Experiments on the bouncing ball: per-epoch raw and affine-corrected MSE of any rule.

The source's claim C3 (autapse_rnn_fa.md §1) is that every rule learns the *shape* of
the trajectories but gets their scale and translation wrong. The affine-corrected MSE
measures that: a least-squares map ``y ~ S y_hat + c`` (S: n x n, c: n) is fitted on
the training set's predictions after each epoch and the MSE of ``S y_hat + c`` is
reported on the training and validation sets. Raw MSE far above the affine-corrected
MSE means "right shape, wrong scale/translation".

:func:`run_rule` trains one registered rule with the training command's data path
(:func:`neurosim.training.data.load_for_config`, ``prepare_data``, ``batches`` with a
seeded generator) and records both measures every epoch, plus optional diagnostics.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor

from neurosim.models import registry
from neurosim.training.config import RunConfig
from neurosim.training.data import TrainingData, batches, load_for_config, prepare_data

#: data of the experiments: the bouncing-ball task's defaults (20 train, 5 val, 5 test
#: trajectories of 100 steps, horizon 1)
VAL_SEQUENCES = 5


def load_data(
    data_options: dict[str, Any] | None = None,
    val_size: int = VAL_SEQUENCES,
    dtype: str = "float64",
    device: str = "cpu",
) -> TrainingData:
    """The bouncing-ball trajectories as the training command loads them."""
    cfg = RunConfig(
        model="bptt",
        dataset="bouncing-ball",
        val_size=val_size,
        dtype=dtype,
        device=device,
        data_options=dict(data_options or {}),
    )
    return prepare_data(load_for_config(cfg), cfg, torch.device(device))


def affine_fit(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Least squares ``target ~ S pred + c`` over every (trajectory, step) row;
    returns ``(S, c)`` (NaN when the predictions are not finite: a diverged run)."""
    P = pred.reshape(-1, pred.shape[-1])
    if not bool(torch.isfinite(P).all()):
        n = P.shape[1]
        return torch.full((n, n), float("nan"), dtype=P.dtype), torch.full((n,), float("nan"))
    X = torch.cat([P, torch.ones_like(P[:, :1])], 1)
    sol = torch.linalg.lstsq(X, target.reshape(-1, target.shape[-1])).solution
    return sol[:-1].t(), sol[-1]


def mse(pred: Tensor, target: Tensor) -> float:
    return float(((pred - target) ** 2).mean())


@torch.no_grad()
def measure(model: Any, data: TrainingData) -> dict[str, float]:
    """Raw and affine-corrected MSE on the training and validation trajectories (the
    affine map fitted on the training set)."""
    pred_train = model(data.train.X)
    S, c = affine_fit(pred_train, data.train.Y)
    out = {
        "train_mse": mse(pred_train, data.train.Y),
        "train_affine_mse": mse(pred_train @ S.t() + c, data.train.Y),
    }
    if data.val is not None:
        pred_val = model(data.val.X)
        out["val_mse"] = mse(pred_val, data.val.Y)
        out["val_affine_mse"] = mse(pred_val @ S.t() + c, data.val.Y)
    return out


def make_model(name: str, params: dict[str, Any], data: TrainingData, seed: int) -> Any:
    """A registered rule for ``data``'s task, on its tensors' device and dtype."""
    X = data.train.X
    return registry.create(name, data.task, params, device=X.device, dtype=X.dtype, seed=seed)


def run_rule(
    name: str,
    params: dict[str, Any],
    data: TrainingData,
    epochs: int,
    seed: int,
    batch_size: int = 1,
    diagnostics: bool = False,
    probe_size: int = 1,
) -> tuple[list[dict[str, Any]], Any]:
    """Train rule ``name`` for ``epochs`` and return ``(records, model)``; record 0 is
    the initial network. Batches are shuffled by a generator seeded with ``seed`` (as
    ``neurosim train``); ``diagnostics`` adds the model's diagnostics on the first
    ``probe_size`` validation trajectories every epoch (e.g. ``angle_bptt/layer1``)."""
    model = make_model(name, params, data, seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    probe = data.val if data.val is not None else data.train
    records = []
    for epoch in range(epochs + 1):
        t0 = time.perf_counter()
        rec: dict[str, Any] = {"epoch": epoch}
        if epoch > 0:
            losses = [
                model.train_batch(x, y, "forward")["loss"]
                for x, y in batches(data.train, batch_size, gen)
            ]
            rec["online_mse"] = sum(losses) / len(losses)
        rec["seconds"] = time.perf_counter() - t0
        rec.update(measure(model, data))
        if diagnostics:
            x, y = probe.X[:probe_size], probe.Y[:probe_size]
            rec.update(model.diagnostics(x, y))
        records.append(rec)
    return records, model
