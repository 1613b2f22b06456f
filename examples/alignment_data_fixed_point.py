"""Is a trained rule's B_l at its derived fixed point on the data, and how far is that
point from W_l^T? (fact sheet ``alignment_regularizers.md`` §2.3, "with data inputs").

    python examples/alignment_data_fixed_point.py runs/alignment_table/mnist/wm/seed0 \\
        runs/alignment_table/mnist/ia/seed0 --out runs/data_fixed_points.json

For each run directory of ``neurosim train`` (rules ``wm``, ``ia``, ``sa``, ``aa``; the
regulariser input must be the data, the shipped default) the model is rebuilt from
``config.yaml`` and ``checkpoint.pt``, the first ``--samples`` training inputs are run
through it and, per layer ``l = 2..L``, ``Sigma = E[x x^T]`` of the layer's input gives
the rule's derived ``B* = derived_fixed_point(cfg, W_l, Sigma)`` (WM: ``1/2 Sigma
W_l^T``; IA: ``Sigma W^T (W Sigma W^T + I)^-1``; SA, AA: ``W_l^T``) for the current
``W_l``. Printed and written per layer: angle(B_l, B*), angle(B*, W_l^T),
angle(B_l, W_l^T) (degrees) and ``||B*|| / ||W_l||``, ``||B_l|| / ||W_l||``. A small
angle(B_l, B*) with a large angle(B*, W_l^T) says the rule aligns only partly because its
own fixed point is not ``W_l^T``, not because it has not converged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from neurosim.models import registry
from neurosim.models.alignment_diagnostics import angle
from neurosim.models.learned_feedback.fixed_points import derived_fixed_point
from neurosim.training import load_checkpoint, load_config
from neurosim.training.data import load_for_config, prepare_data


def layer_report(run: Path, samples: int) -> dict[str, Any]:
    """The per-layer numbers of the module docstring for one run directory."""
    cfg = load_config(run / "config.yaml")
    if cfg.model not in ("wm", "ia", "sa", "aa"):
        raise SystemExit(f"{run}: model {cfg.model!r} has no regulariser fixed point")
    data = prepare_data(load_for_config(cfg, download=False), cfg, torch.device("cpu"))
    model = registry.create(
        cfg.model, data.task, cfg.model_params(), dtype=torch.float64, seed=cfg.seed
    )
    state = load_checkpoint(run / "checkpoint.pt")
    model.load_state_dict(state["model"])
    if model.cfg.regularizer_input != "data":
        raise SystemExit(f"{run}: regularizer_input is {model.cfg.regularizer_input!r}, not data")
    with torch.no_grad():
        _, rs = model.trace(data.train.X[:samples].double())
    out: dict[str, Any] = {"model": cfg.model, "epochs": state["position"]["epochs_done"]}
    for l, B in enumerate(model.feedback, 2):
        W, x = model.weights[l - 1].detach(), rs[l - 1]
        B_star = derived_fixed_point(model.cfg, W, x.T @ x / x.shape[0])
        out[f"layer{l}"] = {
            "angle_B_Bstar": angle(B, B_star),
            "angle_Bstar_WT": angle(B_star, W.T),
            "angle_B_WT": angle(B, W.T),
            "norm_ratio_Bstar_W": float(B_star.norm() / W.norm()),
            "norm_ratio_B_W": float(B.norm() / W.norm()),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories of neurosim train")
    p.add_argument("--samples", type=int, default=5000, help="training inputs for Sigma")
    p.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for run in args.runs:
        rep = layer_report(run, args.samples)
        results[str(run)] = rep
        print(f"{run} ({rep['model']}, {rep['epochs']} epochs)")
        for key, r in rep.items():
            if key.startswith("layer"):
                print(
                    f"  {key}: angle(B, B*) {r['angle_B_Bstar']:5.1f}  angle(B*, W^T) "
                    f"{r['angle_Bstar_WT']:5.1f}  angle(B, W^T) {r['angle_B_WT']:5.1f}  "
                    f"|B*|/|W| {r['norm_ratio_Bstar_W']:.2f}  |B|/|W| {r['norm_ratio_B_W']:.2f}"
                )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"samples": args.samples, "runs": results}, indent=1))
        print("results:", args.out)


if __name__ == "__main__":
    main()
