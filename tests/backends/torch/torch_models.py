"""Small models and inputs shared by the torch backend tests."""

from __future__ import annotations

import numpy as np
import torch

from neurosim.ir import Integrate, Model, Probe, Variable
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


def leaky(tau: float = 0.5, dt: float = 0.01, n: int = 3, w: float = 0.0) -> Model:
    """``tau dx/dt = -(1 - w) x + I``: a leaky integrator (autapse with weight ``w``)."""
    V = {
        "p.x": Variable("p.x", "state", (1, n)),
        "p.I": Variable("p.I", "input", (1, n)),
    }
    op = Integrate("p_int", var="p.x", tau=tau, leak=1.0 - w, inputs=((1.0, "p.I"),))
    return Model(V, [], [op], dt=dt, probes=[Probe("p.x")], meta={"name": "leaky"})


def leaky_start(model: Model, x0: np.ndarray, I: np.ndarray) -> Model:
    """``model`` with an init op that sets ``p.x = x0`` through an input variable."""
    V = dict(model.variables)
    V["p.x0"] = Variable("p.x0", "input", (1, model.variables["p.x"].size), value=x0)
    init = [Integrate("p_init", var="p.x", tau=None, inputs=((1.0, "p.x0"),))]
    V["p.I"] = Variable("p.I", "input", V["p.I"].shape, value=I)
    return Model(V, init, model.step_ops, dt=model.dt, probes=model.probes)
