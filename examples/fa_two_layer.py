"""Feedback alignment in an over-parameterised two-layer network (Song, Xu & Lafferty 2021).

    python examples/fa_two_layer.py --out runs/fa_two_layer           # all figures
    python examples/fa_two_layer.py --out runs/q --quick              # smaller, seconds

f(x) = beta^T psi(W x) / sqrt(p), squared loss, full-batch gradient descent, FA with a
fixed random backward vector b (``neurosim.models.fa_two_layer``); n = 50 samples of
X ~ N(0, I/d), d = 20, y = sin(3 x_1) + x_2 (fact sheet §2.4). Writes:

* ``e1_convergence.png`` (E1): log-loss against the step for FA and BP at widths p, for
  ReLU, tanh and linear psi (linear uses n = 15 < d: a linear network cannot
  interpolate n > d points); the fitted slope of the late linear phase against the
  predicted ``2 ln max_k |1 - eta lambda_k(G)|`` averaged over the same steps, and
  against the prediction from G(0).
* ``e2_alignment.png`` (E2): cos(beta, b) against the step for lambda in the grid at
  each width (mean and spread over 5 seeds), the final cosine against lambda, and the
  angle between the FA and BP updates of W (E4).
* ``e3_tradeoff.png`` (E3): final training loss and ||W(T)|| / ||W(0)|| against lambda.
* ``results.json``: every number printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from neurosim.models import fa_two_layer as tl  # noqa: E402


def e1(args: argparse.Namespace) -> dict[str, Any]:
    """Exponential convergence: fitted vs predicted log-loss slopes."""
    out: dict[str, Any] = {}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (act, n) in zip(axes, (("relu", 50), ("tanh", 50), ("linear", 15)), strict=True):
        X, y = tl.teacher_data(n, args.d, seed=0)
        for p in args.widths:
            for rule, style in (("fa", "-"), ("bp", "--")):
                cfg = tl.TwoLayerConfig(p=p, activation=act, rule=rule, eta=args.eta1,
                                        steps=args.steps1)  # fmt: skip
                tr = tl.train(cfg, X, y, seed=0, record_every=args.record)
                start, stop = tl.linear_phase(tr.loss)
                late = (start + stop) // 2
                slope, _, r2 = tl.fit_log_slope(tr.loss, late, stop)
                pred = tr.mean_predicted_slope(late, stop)
                key = f"{act}/p{p}/{rule}"
                out[key] = {
                    "fitted_slope": slope,
                    "r2": r2,
                    "window": [late, stop],
                    "predicted_slope_same_window": pred,
                    "predicted_slope_G0": tl.predicted_log_slope(tr.G0, cfg.eta),
                    "relative_error": abs(slope - pred) / abs(pred),
                    "final_loss": float(tr.loss[-1]),
                    "w_move_final": float(tr.w_move[-1]),
                    "eta_lambda_max_final": tr.extra["eta_lambda_max_final"],
                }
                print(f"E1 {key:18s} slope {slope:+.5f} (R^2 {r2:.5f}) predicted {pred:+.5f} "
                      f"[G(0): {out[key]['predicted_slope_G0']:+.5f}] "
                      f"||W-W0||/||W0|| {out[key]['w_move_final']:.3f}", flush=True)  # fmt: skip
                ax.semilogy(tr.loss, style, label=f"{rule} p={p}")
        ax.set_title(f"E1: psi = {act}, n = {n}, eta = {args.eta1}")
        ax.set_xlabel("step")
        ax.set_ylabel("1/2 ||e||^2")
        ax.legend(fontsize=7)
    _save(fig, args.out / "e1_convergence.png")
    return out


def e2_e3(args: argparse.Namespace) -> dict[str, Any]:
    """Alignment against lambda and width (5 seeds), the loss-lambda trade-off."""
    runs: dict[tuple[int, float], list[tl.Trajectory]] = {}
    for p in args.widths:
        for lam in args.lambdas:
            for seed in range(args.seeds):
                X, y = tl.teacher_data(50, args.d, seed=seed)
                cfg = tl.TwoLayerConfig(p=p, activation="relu", rule="fa", eta=args.eta2,
                                        lam=lam, steps=args.steps2)  # fmt: skip
                runs.setdefault((p, lam), []).append(
                    tl.train(cfg, X, y, seed=seed, record_every=args.record)
                )
    out: dict[str, Any] = {}
    for (p, lam), trs in runs.items():
        finals = [float(tr.cos_beta_b[-1]) for tr in trs]
        out[f"p{p}/lam{lam:g}"] = {
            "cos_final": finals,
            "cos_final_mean": statistics.fmean(finals),
            "cos_final_std": statistics.stdev(finals),
            "loss_final_mean": statistics.fmean(float(tr.loss[-1]) for tr in trs),
            "w_norm_ratio_mean": statistics.fmean(tr.extra["w_norm_ratio"] for tr in trs),
            "angle_fa_bp_final_mean": statistics.fmean(float(tr.angle_fa_bp[-1]) for tr in trs),
            "eta_lambda_max_final_max": max(tr.extra["eta_lambda_max_final"] for tr in trs),
        }
        o = out[f"p{p}/lam{lam:g}"]
        print(f"E2 p={p:5d} lambda={lam:<6g} cos(beta,b) {o['cos_final_mean']:+.3f} ± "
              f"{o['cos_final_std']:.3f}  loss {o['loss_final_mean']:.3g}  "
              f"||W||/||W0|| {o['w_norm_ratio_mean']:.3f}  angle(FA,BP) "
              f"{o['angle_fa_bp_final_mean']:.1f} deg  max eta*lambda_max(G) "
              f"{o['eta_lambda_max_final_max']:.2f}", flush=True)  # fmt: skip
    _plot_alignment(args, runs)
    _plot_tradeoff(args, out)
    return out


def _plot_alignment(args: argparse.Namespace, runs: dict) -> None:
    ncol = len(args.widths) + 2
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 3.8))
    for ax, p in zip(axes, args.widths, strict=False):
        for lam in args.lambdas:
            trs = runs[(p, lam)]
            t = trs[0].steps_recorded
            cos = torch.stack([tr.cos_beta_b for tr in trs])
            ax.plot(t, cos.mean(0), label=f"lambda={lam:g}")
            ax.fill_between(t, cos.min(0).values, cos.max(0).values, alpha=0.2)
        ax.set_title(f"E2: cos(beta, b), p = {p}")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    ax = axes[len(args.widths)]
    lams = [max(lam, 1e-4) for lam in args.lambdas]
    for p in args.widths:
        means = [statistics.fmean(float(tr.cos_beta_b[-1]) for tr in runs[(p, lam)])
                 for lam in args.lambdas]  # fmt: skip
        stds = [statistics.stdev(float(tr.cos_beta_b[-1]) for tr in runs[(p, lam)])
                for lam in args.lambdas]  # fmt: skip
        ax.errorbar(lams, means, yerr=stds, marker="o", capsize=3, label=f"p={p}")
    ax.set_xscale("log")
    ax.set_xlabel("lambda (0 plotted at 1e-4)")
    ax.set_title(f"final cos(beta, b), {args.seeds} seeds")
    ax.legend(fontsize=7)
    ax = axes[-1]
    p = args.widths[len(args.widths) // 2]
    for lam in args.lambdas:
        trs = runs[(p, lam)]
        ang = torch.stack([tr.angle_fa_bp for tr in trs]).mean(0)
        ax.plot(trs[0].steps_recorded, ang, label=f"lambda={lam:g}")
    ax.set_title(f"E4: angle(FA, BP update of W), p = {p}")
    ax.set_xlabel("step")
    ax.set_ylabel("degrees")
    ax.legend(fontsize=7)
    _save(fig, args.out / "e2_alignment.png")


def _plot_tradeoff(args: argparse.Namespace, out: dict[str, Any]) -> None:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    lams = [max(lam, 1e-4) for lam in args.lambdas]
    for p in args.widths:
        rows = [out[f"p{p}/lam{lam:g}"] for lam in args.lambdas]
        a1.plot(lams, [r["loss_final_mean"] for r in rows], marker="o", label=f"p={p}")
        a2.plot(lams, [r["w_norm_ratio_mean"] for r in rows], marker="o", label=f"p={p}")
    for ax, title in ((a1, f"E3: final 1/2||e||^2 after {args.steps2} steps"),
                      (a2, "||W(T)|| / ||W(0)||")):  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("lambda (0 plotted at 1e-4)")
        ax.set_title(title)
        ax.legend(fontsize=7)
    a1.set_yscale("log")
    _save(fig, args.out / "e3_tradeoff.png")


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/fa_two_layer"))
    p.add_argument("--quick", action="store_true", help="smaller widths and fewer steps")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.d, args.record = 20, 20
    args.lambdas = [0.0, 1e-3, 1e-2, 1e-1]
    if args.quick:
        args.widths, args.seeds = [50, 200], 3
        args.eta1, args.steps1, args.eta2, args.steps2 = 0.1, 1500, 0.1, 800
    else:
        args.widths, args.seeds = [100, 400, 1600], 5
        args.eta1, args.steps1, args.eta2, args.steps2 = 0.1, 4000, 0.1, 2000
    args.out.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    results = {"e1": e1(args), "e2_e3": e2_e3(args)}
    results["settings"] = {k: v for k, v in vars(args).items() if k != "out"}
    results["seconds"] = time.perf_counter() - t0
    results["cpu_seconds"] = time.process_time() - c0
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"{results['seconds']:.0f} s wall, {results['cpu_seconds']:.0f} s CPU "
          f"({args.threads} thread); figures and results.json in {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
