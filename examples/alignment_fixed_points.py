"""The derived fixed points of the backward-weight rules on one linear layer (E0).

    python examples/alignment_fixed_points.py --out runs/alignment_fixed_points

One fixed W (5 x 8, N(0, 1/8)); B starts at random and descends each rule's
regulariser with the reference code's default coefficients
(``neurosim.models.learned_feedback``). Three input regimes:

* ``white (exact)``: a batch whose second moment is exactly I, so the batch gradient
  is the expected one and B must reach B* to rounding error;
* ``white (sampled)``: a fresh N(0, I) batch of 32 every step (mirror mode), constant
  step, iterates averaged after the first quarter (Polyak–Ruppert): B* up to the
  sampling error of the average;
* ``correlated``: the same exact construction with second moment Sigma = L L^T.

Derived B* (fact sheet ``alignment_regularizers.md`` §2.3): SA, AA -> W^T; WM -> (1/2)
Sigma W^T (1/2 W^T on white noise); IA -> Sigma W^T (W Sigma W^T + I)^-1 (a ridge
pseudoinverse); Oja-normalised WM -> Sigma W^T / ||Sigma W^T||. Writes
``fixed_points.png`` (distance to B* and angle to W^T per step) and ``results.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from neurosim.models.alignment_diagnostics import angle  # noqa: E402
from neurosim.models.learned_feedback.config import LearnedFeedbackConfig  # noqa: E402
from neurosim.models.learned_feedback.fixed_points import (  # noqa: E402
    curvature,
    derived_fixed_point,
    descend,
    relative_distance,
    whitened_inputs,
)
from neurosim.models.learned_feedback.model import backward_weight_gradient  # noqa: E402

DT = torch.float64
RULES = {"SA": ("sa", {}), "AA": ("aa", {}), "WM": ("wm", {}), "IA": ("ia", {}),
         "WM-Oja": ("wm", {"oja": True})}  # fmt: skip


def sampled_descent(cfg, W, B0, steps, lr, gen, batch=32):
    """B under fresh white-noise batches at constant step ``lr``, returned as the
    Polyak–Ruppert running average of the iterates after the first quarter (the
    iterates themselves keep a noise floor of order sqrt(lr / batch))."""
    B, out = B0.clone(), [B0.clone()]
    burn = steps // 4
    avg, n = torch.zeros_like(B0), 0
    for t in range(1, steps + 1):
        x = torch.randn(batch, W.shape[1], generator=gen, dtype=DT)
        B = B - lr * backward_weight_gradient(cfg, x, W, B)
        if t <= burn:
            out.append(B.clone())
            continue
        n += 1
        avg += (B - avg) / n
        out.append(avg.clone())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/alignment_fixed_points"))
    p.add_argument("--steps", type=int, default=3000)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 8, generator=g, dtype=DT) / 8**0.5
    B0 = 0.3 * torch.randn(8, 5, generator=g, dtype=DT)
    L = torch.eye(8, dtype=DT) + 0.6 * torch.randn(8, 8, generator=g, dtype=DT) / 8**0.5
    x_white = whitened_inputs(64, 8, 1.0, g)
    x_corr = x_white @ L.T
    regimes = {"white (exact)": x_white, "white (sampled)": None, "correlated": x_corr}
    fig, axes = plt.subplots(2, len(regimes), figsize=(5 * len(regimes), 7), squeeze=False)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for col, (regime, x) in enumerate(regimes.items()):
        Sigma = torch.eye(8, dtype=DT) if x is None else x.T @ x / x.shape[0]
        for label, (rule, extra) in RULES.items():
            cfg = LearnedFeedbackConfig.from_params({"size_hidden": [8], "rule": rule, **extra})
            B_star = derived_fixed_point(cfg, W, Sigma)
            lr = 0.5 / curvature(cfg, W, x_white if x is None else x)
            if x is None:
                Bs = sampled_descent(cfg, W, B0, args.steps, lr, torch.Generator().manual_seed(1))
            else:
                Bs = descend(cfg, W, x, B0, args.steps, lr)
            dist = [relative_distance(B, B_star) for B in Bs]
            ang = [angle(B, W.T) for B in Bs]
            results.setdefault(regime, {})[label] = {
                "final_distance_to_B_star": dist[-1],
                "final_angle_to_W_T": ang[-1],
                "angle_B_star_to_W_T": angle(B_star, W.T),
                "final_norm_ratio": float(Bs[-1].norm() / W.norm()),
            }
            axes[0, col].semilogy([max(d, 1e-17) for d in dist], label=label)
            axes[1, col].plot(ang, label=label)
            star = results[regime][label]["angle_B_star_to_W_T"]
            print(f"{regime:16s} {label:7s} ||B - B*||/||B*|| = {dist[-1]:.2e}   "
                  f"angle(B, W^T) = {ang[-1]:6.2f} deg (B*: {star:6.2f})")  # fmt: skip
        axes[0, col].set_title(f"{regime}: ||B - B*|| / ||B*||")
        axes[1, col].set_title(f"{regime}: angle(B, W^T) (deg)")
        for ax in axes[:, col]:
            ax.set_xlabel("step")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "fixed_points.png", dpi=100)
    plt.close(fig)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"figure and results.json in {args.out}")


if __name__ == "__main__":
    main()
