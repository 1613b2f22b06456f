"""Registry entries of the DFC family (``neurosim train --model NAME``).

Names: ``dfc``, ``dfc-ss``, ``dfc-ssa`` (feedback weights trained by the sleep
phase) and ``dfc-fixed``, ``dfc-ss-fixed``, ``dfc-ssa-fixed`` (Q frozen at the
weight product, App. F eq. 221–222). ``params`` is validated by
:class:`~neurosim.models.dfc.config.DFCConfig`.
"""

from __future__ import annotations

from typing import Any

import torch

from neurosim.models.base import Task
from neurosim.models.dfc.config import DFCConfig
from neurosim.models.dfc.model import DFCModel
from neurosim.models.registry import register


def _factory(variant: str, fixed: bool):
    def make(
        task: Task,
        params: dict[str, Any],
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
        seed: int = 42,
    ) -> DFCModel:
        cfg = DFCConfig.from_params(params)
        cfg.warn_if_clipped(forward=variant != "ssa", feedback=not fixed)
        return DFCModel(
            task, cfg, variant=variant, fixed=fixed, device=device, dtype=dtype, seed=seed
        )

    make.__qualname__ = make.__name__ = f"make_dfc_{variant}{'_fixed' if fixed else ''}"
    return make


for _variant, _prefix in (("dfc", "dfc"), ("ss", "dfc-ss"), ("ssa", "dfc-ssa")):
    for _fixed in (False, True):
        register(_prefix + ("-fixed" if _fixed else ""))(_factory(_variant, _fixed))
