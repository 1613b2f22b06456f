"""Where is float32 safe? The same weight update computed in float32 and float64.

For each model (paper MNIST configs), one float64 model and one float32 copy with the
same weights compute the forward-weight update of the same MNIST batch (128 training
samples, no optimiser step). Reported per model: the largest relative error
``|g32 - g64| / |g64|`` and the largest angle between ``g32`` and ``g64`` over the
layers' weight updates. Run at initialisation, and with ``--checkpoint RUN/checkpoint.pt``
also at the weights of a (late) DFC-family training run: DFC's update is a
difference ``phi(v) - phi(v_basal)`` of nearly equal numbers (DFC eq. 5), so its float32
error grows as training shrinks the output error (the reason the paper ran in float64,
App. F.2).

    python benchmarks/precision.py [--json PATH] [--checkpoint RUN/checkpoint.pt]
        [--models ...] [--quick]

writes ``{point: {model: {"max_rel_error": .., "max_angle_deg": ..}}}``.

Run time (one thread, on the shared 2-core CPU of development at the load average given;
longer on a busier machine): full (6 models, initial weights) 57 s at load 15; --quick
(DFC-SSA and BP) 19 s at load 5; each --checkpoint point adds about as much again.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import progress  # noqa: E402
from benchmarks.train_epoch import BATCH, mnist_or_synthetic  # noqa: E402
from neurosim.models import registry  # noqa: E402
from neurosim.models.base import Task  # noqa: E402
from neurosim.training.checkpoint import load_checkpoint  # noqa: E402
from neurosim.training.config import default_config  # noqa: E402

MODELS = ("dfc", "dfc-ss", "dfc-ssa", "dfc-ssa-fixed", "bp", "dfa")
DFC_FAMILY = ("dfc", "dfc-ss", "dfc-ssa", "dfc-fixed", "dfc-ss-fixed", "dfc-ssa-fixed")


def _updates(model: Any, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The forward weight updates ``grad W_i`` of one batch (no optimiser step)."""
    if hasattr(model, "forward_gradients"):
        grads, _ = model.forward_gradients(x, y)
    else:
        grads, _ = model.gradients(x, y)
    return [g_w.detach().to(torch.float64) for g_w, _ in grads]


def compare(name: str, x: torch.Tensor, y: torch.Tensor, state: dict | None) -> dict:
    """Relative error and angle of the float32 update against the float64 one."""
    cfg = default_config(name, "mnist")
    task = Task("classification", 784, 10)
    make = {
        dt: registry.create(name, task, cfg.model_params(), dtype=dt, seed=cfg.seed)
        for dt in (torch.float64, torch.float32)
    }
    if state is not None:
        # weights only (a run's noise-generator state plays no part in one update)
        make[torch.float64].load_state_dict(state, strict=False)
    make[torch.float32].load_state_dict(make[torch.float64].state_dict())  # same weights
    g64 = _updates(make[torch.float64], x.to(torch.float64), y)
    g32 = _updates(make[torch.float32], x.to(torch.float32), y)
    rel, ang = [], []
    for a, b in zip(g32, g64, strict=True):
        rel.append(float((a - b).norm() / b.norm()))
        cos = float((a * b).sum() / (a.norm() * b.norm()))
        ang.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))
    return {
        "max_rel_error": max(rel),
        "max_angle_deg": max(ang),
        "update_norm": float(sum(b.norm() ** 2 for b in g64) ** 0.5),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=registry.available())
    ap.add_argument("--checkpoint", type=Path, default=None, help="a DFC-family run's weights")
    ap.add_argument("--quick", action="store_true", help="DFC-SSA and BP only (about 20 s)")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    models = ["dfc-ssa", "bp"] if args.quick else args.models
    X, y, source = mnist_or_synthetic(BATCH)
    points: dict[str, dict | None] = {"init": None}
    if args.checkpoint is not None:
        ckpt = load_checkpoint(args.checkpoint)
        epoch = ckpt.get("position", {})
        points[f"checkpoint ({ckpt['model_name']}, {epoch})"] = ckpt["model"]
    results: dict[str, Any] = {"_meta": {"data": source, "batch": BATCH}}
    print(f"data: {source}; one batch of {BATCH}; float32 update against float64")
    print(f"{'point':40s} {'model':15s} {'max rel err':>12s} {'max angle':>10s}")
    for point, state in points.items():
        row = results.setdefault(point, {})
        for name in models:
            if state is not None and name not in DFC_FAMILY:
                continue  # a DFC checkpoint holds no baseline weights
            progress(f"{point}: {name} in float32 and float64")
            r = row[name] = compare(name, X, y, state)
            print(f"{point:40s} {name:15s} {r['max_rel_error']:12.2e} "
                  f"{r['max_angle_deg']:9.3f}°")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
