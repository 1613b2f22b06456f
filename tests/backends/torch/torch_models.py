"""Small models and inputs shared by the torch backend tests."""

from __future__ import annotations

import torch

from neurosim.ir import Model
from neurosim.testing import dfc_model

SIZES = [12, 10, 8, 4]


def dfc(**kw) -> Model:
    """A small DFC hierarchy (12-10-8-4), paper step order."""
    kw.setdefault("sizes", SIZES)
    kw.setdefault("lam", 0.5)
    return dfc_model(**kw)


def dfc_inputs(batch: int, dtype=torch.float64, device="cpu", seed: int = 0) -> dict:
    """Random images and one-hot labels for :func:`dfc`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, SIZES[0], generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.arange(batch) % SIZES[-1], SIZES[-1]).double()
    return {"x.r": x.to(device, dtype), "ctrl.label": y.to(device, dtype)}
