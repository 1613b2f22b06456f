"""The CUDA path gives the CPU's results (runs only where CUDA is available).

The checks live in :mod:`neurosim.backends.torch.checks` (``benchmarks/gpu_check.py``
runs them too, without pytest): the simulator on CUDA with CUDA-graph segments
against the CPU run, and every DFC variant's forward updates (deviation form) on CUDA
against the CPU, in float32 and float64.
"""

from __future__ import annotations

import pytest
import torch

from neurosim.backends.torch import checks

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA device: the CUDA-vs-CPU equivalence needs a GPU (run benchmarks/gpu_check.sh)",
)
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])


@needs_cuda
@DTYPES
def test_simulator_on_cuda_with_graphs_matches_cpu(dtype: torch.dtype) -> None:
    assert checks.simulator_matches_cpu("cuda", dtype)["replays"] > 0


@needs_cuda
@DTYPES
@pytest.mark.parametrize("name", checks.DFC_VARIANTS)
def test_dfc_updates_on_cuda_match_cpu(name: str, dtype: torch.dtype) -> None:
    checks.dfc_updates_match_cpu(name, "cuda", dtype)


@DTYPES
def test_checks_compare_cpu_with_itself(dtype: torch.dtype) -> None:
    """The checks themselves, on the CPU (so they cannot rot where there is no GPU)."""
    assert checks.simulator_matches_cpu("cpu", dtype)["updates"] > 0
    assert checks.dfc_updates_match_cpu("dfc-ssa", "cpu", dtype)["update_norm"] > 0
