"""Fused C step kernels (neurosim.backends.torch.fused) against the eager step.

Equal results (to float rounding) for the op types that fuse, including the cases
where an element of one loop reads a whole row of another variable (small
projections with layers and controller of the same size), online plasticity (whose
projections must not fuse) and noise; the eager fallback without a compiler.
"""

from __future__ import annotations

import pytest
import torch
from torch_models import dfc_inputs

from neurosim.backends.torch import TorchSimulator, ccompile
from neurosim.backends.torch.fused import C_LOWERINGS
from neurosim.ir import NONLINEARITIES
from neurosim.testing import assert_allclose, dfc_model

pytestmark = pytest.mark.skipif(ccompile.compiler() is None, reason="no C compiler on PATH")
RECORD = ["h1.v", "h2.r", "h3.r", "ctrl.u"]


def _runs(model, mode: str, dtype=torch.float64, batch: int = 3, steps: int = 30) -> dict:
    out = {}
    for fused in (False, True):
        sim = TorchSimulator(model, dtype=dtype, fused=fused, threads=1)
        assert sim.fused == fused
        ins = dfc_inputs(batch, dtype=dtype)
        sim.reset({"x.r": ins["x.r"][:, :5], "ctrl.label": ins["ctrl.label"][:, :1].expand(
            batch, 5).contiguous()})  # fmt: skip
        out[fused] = sim.run(steps, record=RECORD, plasticity=mode, lr=0.5)
    return out


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"window": "last"},
        {"proactive": False, "feedback_rule": True, "sigma": 0.05, "loss": "given"},
        {"activations": ["relu", "logistic", "linear"]},
        {"activations": ["softplus", "leaky_relu", "tanh"]},
    ],
    ids=["dfc", "dfc-ss", "sleep", "relu-logistic", "softplus-leaky"],
)
@pytest.mark.parametrize("mode", ["accumulate", "online"])
def test_fused_step_equals_eager_step(variant: dict, mode: str) -> None:
    """Layers and controller all of 5 units: one loop may hold several layers, and a
    projection from the controller reads its whole row (it must not share a loop with
    the ops that write that row)."""
    model = dfc_model([5, 5, 5, 5], **variant)
    runs = _runs(model, mode)
    for v in RECORD:
        assert_allclose(runs[True].traces[v], runs[False].traces[v], rtol_scale=4, msg=v)
    for p, u in runs[False].updates.items():
        assert_allclose(runs[True].updates[p], u, rtol_scale=4, msg=p)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_fused_step_in_both_dtypes(dtype: torch.dtype) -> None:
    runs = _runs(dfc_model([5, 12, 7, 5]), "accumulate", dtype=dtype, batch=4)
    for p, u in runs[False].updates.items():
        assert_allclose(runs[True].updates[p], u, dtype=dtype, rtol_scale=4, msg=p)


def test_every_elementwise_op_type_has_a_c_lowering() -> None:
    names = {t.__name__ for t in C_LOWERINGS}
    assert {"Integrate", "Nonlinearity", "NonlinearityDifference", "Copy",
            "DenseProjection"} <= names  # fmt: skip
    assert set(NONLINEARITIES) == {"linear", "tanh", "relu", "logistic", "softplus",
                                   "leaky_relu"}  # fmt: skip


def test_without_a_compiler_the_eager_step_runs_after_one_notice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(ccompile, "compiler", lambda: None)
    monkeypatch.setattr(ccompile, "_noticed", set())
    model = dfc_model([5, 6, 5], window="last")
    sims = [TorchSimulator(model, dtype=torch.float64) for _ in range(2)]
    assert not any(s.fused for s in sims)
    err = capsys.readouterr().err
    assert err.count("no C compiler found") == 1
    ones = torch.ones(2, 5, dtype=torch.float64)
    sims[0].reset({"x.r": ones, "ctrl.label": ones})
    assert sims[0].run(5).updates


def test_kernels_are_cached_between_processes(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new source is compiled once into the cache (compile seconds recorded); a
    second program with the same source loads the cached library."""
    monkeypatch.setenv(ccompile.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(ccompile, "_loaded", {})
    monkeypatch.setattr(ccompile, "compile_seconds", {})
    model = dfc_model([5, 9, 5])
    TorchSimulator(model, dtype=torch.float32)._program("accumulate")
    built = list(tmp_path.glob("nsk_*.so"))
    assert built and ccompile.compile_seconds
    monkeypatch.setattr(ccompile, "_loaded", {})  # as a new process would
    monkeypatch.setattr(ccompile, "compile_seconds", {})
    TorchSimulator(model, dtype=torch.float32)._program("accumulate")
    assert not ccompile.compile_seconds and list(tmp_path.glob("nsk_*.so")) == built
