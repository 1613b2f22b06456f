"""Deep pseudoinverse feedback next to BP and FA: experiment E3 of issue 13 (C3, C6).

    python examples/recirculation_deep.py --dataset mnist            # 4 rules x 3 seeds, 40 epochs
    python examples/recirculation_deep.py --dataset fashion-mnist    # (~4 h of one CPU thread each)
    python examples/recirculation_deep.py --dataset mnist --epochs 1 --seeds 0 \\
        --subset 1000 --out runs/e3_quick                             # a smoke run

Each run is one ``neurosim train`` (the command is printed before it starts), on the
contracting 784-512-256-128-64-10 tanh MLP with the same forward optimiser for all four
rules (``models/configs/<dataset>/{bp,fa}-contracting.yaml``, ``rf.yaml``,
``rf-exact.yaml``) and ``--diagnostics`` on:

* ``bp``: backpropagation; ``fa``: fixed random feedback;
* ``rf``: feedback ``B_l`` learned by noise-driven Recirculation pairs (A = W_l);
* ``rf-exact``: the oracle ``B_l = pinv(W_l)``.

A run already complete in ``--out`` is reused, an interrupted one resumed. Then the
script writes ``e3_<dataset>.png`` (test error per epoch, mean ± std over seeds; angle
of each layer's update to the BP gradient; Penrose residuals of rf's learned ``B_l``
against the current ``W_l``; angle of rf's update to the exact-pinv update) and
``e3_<dataset>.json`` (per rule: test error per epoch, mean and std over seeds) and
prints the table of the closing note: test error after the last epoch, at a few
earlier epochs and at each seed's best-validation epoch ("best val").
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.training import load_config, train  # noqa: E402
from neurosim.training.config import CONFIG_ROOT  # noqa: E402
from neurosim.training.metrics import read_jsonl  # noqa: E402

#: rule -> config file stem in models/configs/<dataset>/
CONFIGS = {"bp": "bp-contracting", "fa": "fa-contracting", "rf": "rf", "rf-exact": "rf-exact"}
COLORS = {"bp": "k", "fa": "tab:orange", "rf": "tab:blue", "rf-exact": "tab:green"}


def command(rule: str, args: argparse.Namespace, seed: int, out: Path) -> list[str]:
    """The ``neurosim train`` command line of one run."""
    cfg = CONFIG_ROOT / args.dataset / f"{CONFIGS[rule]}.yaml"
    cfg = cfg.relative_to(Path.cwd()) if cfg.is_relative_to(Path.cwd()) else cfg
    cmd = ["neurosim", "train", "--config", str(cfg), "--epochs", str(args.epochs),
           "--seed", str(seed), "--threads", str(args.threads), "--diagnostics",
           "--no-progress", "--out", str(out)]  # fmt: skip
    if args.subset:
        cmd[4:4] = ["--subset", str(args.subset)]
    return cmd


def run(rule: str, args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    """Train (or reuse / resume) one run; returns its training records."""
    out = args.out / f"{rule}-seed{seed}"
    metrics = out / "metrics.jsonl"
    if metrics.is_file():
        done = [r for r in read_jsonl(metrics) if r.get("phase") == "train"]
        if len(done) >= args.epochs:
            return done[: args.epochs]
    print("$", shlex.join(command(rule, args, seed, out)), flush=True)
    cfg = load_config(CONFIG_ROOT / args.dataset / f"{CONFIGS[rule]}.yaml").with_overrides(
        epochs=args.epochs, seed=seed, threads=args.threads, diagnostics=True, subset=args.subset
    )
    train(cfg, out, resume=(out / "checkpoint.pt").is_file(), progress=False)
    return [r for r in read_jsonl(metrics) if r.get("phase") == "train"][: args.epochs]


def stack(runs: list[list[dict[str, Any]]], key: str) -> np.ndarray:
    """``(seeds, epochs)`` array of ``key`` (nan where missing)."""
    return np.array([[float(r.get(key, math.nan)) for r in recs] for recs in runs])


def layer_keys(runs: list[list[dict[str, Any]]], prefix: str) -> list[str]:
    keys = {k for recs in runs for r in recs for k in r if k.startswith(prefix + "/layer")}
    return sorted(keys, key=lambda k: int(k.rsplit("layer", 1)[1]))


def plot(results: dict[str, list], dataset: str, path: Path) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.3))
    ax = axes[0]
    for rule, runs in results.items():
        err = 100 * stack(runs, "test_error")
        ep = np.arange(1, err.shape[1] + 1)
        m, s = err.mean(0), err.std(0)
        ax.plot(ep, m, marker=".", color=COLORS[rule], label=f"{rule} ({len(runs)} seeds)")
        ax.fill_between(ep, m - s, m + s, color=COLORS[rule], alpha=0.2)
    ax.set(xlabel="epoch", ylabel="test error (%)", yscale="log", title=f"{dataset}: test error")
    ax.legend()
    ax = axes[1]
    for rule, runs in results.items():
        for j, key in enumerate(layer_keys(runs, "angle_bp")[:-1]):  # last layer: 0 for all
            ep = np.arange(1, len(runs[0]) + 1)
            ax.plot(ep, np.nanmean(stack(runs, key), 0), color=COLORS[rule],
                    alpha=1.0 - 0.18 * j, label=rule if j == 0 else None)  # fmt: skip
    ax.set(xlabel="epoch", ylabel="degrees", title="angle to BP gradient, layers 1..L-1")
    ax.legend()
    for ax, prefix, title in (
        (axes[2], "pinv_dist", "rf: ||B_l - W_l⁺|| / ||W_l⁺|| (solid), r4 (dashed), r1 (dotted)"),
        (axes[3], "angle_pinv", "rf: angle of update to exact-pinv update"),
    ):
        runs = results.get("rf", [])
        if not runs:
            ax.set_visible(False)
            continue
        for key in layer_keys(runs, prefix):
            ep = np.arange(1, len(runs[0]) + 1)
            (line,) = ax.plot(ep, np.nanmean(stack(runs, key), 0), label=key.split("/")[1])
            if prefix == "pinv_dist":
                layer = key.split("/")[1]
                for k, style in (("penrose_r4", "--"), ("penrose_r1", ":")):
                    vals = np.nanmean(stack(runs, f"{k}/{layer}"), 0)
                    ax.plot(ep, vals, style, color=line.get_color())
                ax.set_yscale("log")
        ax.set(xlabel="epoch", title=title)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summarize(results: dict[str, list], epochs: int) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for rule, runs in results.items():
        err = 100 * stack(runs, "test_error")
        best = np.nanargmin(stack(runs, "val_error"), axis=1)  # best-validation epoch per seed
        at_best = err[np.arange(len(runs)), best]
        table[rule] = {
            "seeds": len(runs),
            "test_error_mean": err.mean(0).tolist(),
            "test_error_std": err.std(0).tolist(),
            "final_mean": float(err[:, -1].mean()),
            "final_std": float(err[:, -1].std()),
            "best_val_epoch": (best + 1).tolist(),
            "test_error_at_best_val_mean": float(at_best.mean()),
            "test_error_at_best_val_std": float(at_best.std()),
            "seconds_per_epoch": float(np.nanmean(stack(runs, "seconds"))),
        }
    marks = sorted({e for e in (1, 2, 5, 10, 20, epochs) if e <= epochs})
    print(f"\ntest error (%), mean ± std over seeds (population std), {epochs} epochs")
    head = "".join(f"{'epoch ' + str(e):>16}" for e in marks)
    print(f"{'rule':<10}{head}{'best val':>16}{'s/epoch':>10}")
    for rule, row in table.items():
        cells = "".join(
            f"{row['test_error_mean'][e - 1]:>9.2f} ± {row['test_error_std'][e - 1]:<4.2f}"
            for e in marks
        )
        m, s = row["test_error_at_best_val_mean"], row["test_error_at_best_val_std"]
        best = f"{m:>9.2f} ± {s:<4.2f}"
        print(f"{rule:<10}{cells}{best}{row['seconds_per_epoch']:>10.1f}")
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--subset", type=int, default=10000, help="first K training samples (0: all)")
    p.add_argument("--rules", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="default: runs/e3_<dataset>")
    args = p.parse_args()
    args.subset = args.subset or None
    args.out = args.out or Path(f"runs/e3_{args.dataset}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = {rule: [run(rule, args, s) for s in args.seeds] for rule in args.rules}
    table = summarize(results, args.epochs)
    figure = args.out / f"e3_{args.dataset}.png"
    plot(results, args.dataset, figure)
    meta = {"dataset": args.dataset, "epochs": args.epochs, "seeds": args.seeds,
            "subset": args.subset, "rules": table}  # fmt: skip
    (args.out / f"e3_{args.dataset}.json").write_text(json.dumps(meta, indent=2))
    print(f"figure: {figure}")


if __name__ == "__main__":
    main()
