"""Kunin et al.'s comparison of backward-weight rules on MNIST and Fashion-MNIST MLPs.

    python examples/alignment_table.py --out runs/alignment_table            # the full table
    python examples/alignment_table.py --out runs/alignment_table --report   # table only
    python examples/alignment_table.py --out runs/t --epochs 1 --seeds 0 --subset 2000 \\
        --methods bp fa sa --datasets mnist                                   # a quick look
    python examples/alignment_table.py --out runs/alignment_depth6 --datasets mnist \\
        --set 'params.size_hidden=[256, 256, 256, 256, 256, 256]'            # a variant

Trains every (dataset, method, seed) with its shipped config
(``models/configs/{dataset}/{method}.yaml``: 784-256-256-256-10 tanh, the DFC table's
Adam settings, the reference code's coefficients) and ``--diagnostics``, plus the
``--set KEY=VALUE`` overrides (applied to every run: use a fresh ``--out`` per setting),
one run after the other, each in ``OUT/{dataset}/{method}/seed{k}``. Interrupt it at any
time: a finished run is skipped and an unfinished one resumed from its last epoch (so a
larger ``--epochs`` extends the runs of a smaller one exactly). Then it writes
``OUT/table_{E}ep.md`` and ``OUT/table_{E}ep.json`` (E = ``--epochs``; runs with more
epochs are cut at E; a selection of methods, data sets or seeds adds them to the name,
e.g. ``table_5ep_bp-sa_mnist_seeds0-1.md``): test error (at the best-validation epoch,
the project's protocol, and at the last epoch) as mean ± std over seeds, the final
angles between ``B_l`` and ``W_l^T`` (and the norm ratios ``||B_l|| / ||W_l||``),
between each layer's update and the BP gradient and between the projections ``x B_l``
and ``x W_l^T``, and ``OUT/curves_{dataset}_{E}ep.png`` (test error and B/W^T angles per
epoch).
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
from matplotlib.ticker import MaxNLocator  # noqa: E402

from neurosim.training import default_config, train  # noqa: E402
from neurosim.training.metrics import read_jsonl  # noqa: E402
from neurosim.training.overrides import (  # noqa: E402
    add_set_option,
    apply_overrides,
    parse_assignments,
)

METHODS = ("bp", "fa", "wm", "ia", "sa", "aa", "kp", "sign-sym")
DATASETS = ("mnist", "fashion-mnist")
DEFAULT_SEEDS = [0, 1, 2]


def run_dir(out: Path, dataset: str, method: str, seed: int) -> Path:
    return out / dataset / method / f"seed{seed}"


def completed_epochs(path: Path) -> int:
    """Epochs finished in a run directory (0 if none)."""
    summary = path / "summary.json"
    if not summary.is_file():
        return 0
    return int(json.loads(summary.read_text()).get("epochs_completed", 0))


def train_all(args: argparse.Namespace) -> None:
    jobs = [(s, d, m) for s in args.seeds for d in args.datasets for m in args.methods]
    t_start = time.perf_counter()
    for k, (seed, dataset, method) in enumerate(jobs, 1):
        path = run_dir(args.out, dataset, method, seed)
        done = completed_epochs(path)
        tag = f"[{k}/{len(jobs)}] {dataset} {method} seed {seed}"
        if done >= args.epochs:
            print(f"{tag}: done ({done} epochs)", flush=True)
            continue
        cfg = default_config(method, dataset).with_overrides(
            epochs=args.epochs,
            seed=seed,
            dtype=args.dtype,
            threads=args.threads,
            subset=args.subset,
            diagnostics=True,
        )
        cfg = apply_overrides(cfg, parse_assignments(args.overrides))
        resume = (path / "checkpoint.pt").is_file()
        t0 = time.perf_counter()
        result = train(cfg, path, resume=resume, progress=False)
        elapsed = time.perf_counter() - t0
        err = 100 * result["best"].get("test_error", float("nan"))
        print(f"{tag}: test error {err:.2f}% at best-val epoch {result['best_epoch']} "
              f"({elapsed:.0f} s; {(time.perf_counter() - t_start) / 60:.1f} min in all)",
              flush=True)  # fmt: skip


def _mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Per dataset and method: statistics over the seeds whose runs reached ``epochs``."""
    table: dict[str, Any] = {}
    for dataset in args.datasets:
        for method in args.methods:
            rows = []
            for seed in args.seeds:
                path = run_dir(args.out, dataset, method, seed)
                if completed_epochs(path) < args.epochs:
                    continue
                recs = [r for r in read_jsonl(path / "metrics.jsonl") if r["phase"] == "train"]
                recs = recs[: args.epochs]
                best = min(recs, key=lambda r: r["val_error"])
                rows.append({"seed": seed, "best": best, "last": recs[-1]})
            if not rows:
                continue
            last_keys = sorted(k for k in rows[0]["last"] if "/layer" in k)
            entry = {
                "seeds": [r["seed"] for r in rows],
                "test_error_best_val": _mean_std([r["best"]["test_error"] for r in rows]),
                "test_error_last": _mean_std([r["last"]["test_error"] for r in rows]),
                "final": {k: _mean_std([r["last"][k] for r in rows]) for k in last_keys},
            }
            table.setdefault(dataset, {})[method] = entry
    return table


def _fmt(ms: dict[str, float], scale: float = 1.0, digits: int = 2) -> str:
    return f"{scale * ms['mean']:.{digits}f} ± {scale * ms['std']:.{digits}f}"


def _angle_cells(e: dict[str, Any], key: str, layers: list[int], digits: int = 1) -> list[str]:
    cells = []
    for i in layers:
        ms = e["final"].get(f"{key}/layer{i}")
        cells.append(_fmt(ms, digits=digits) if ms else "–")
    return cells


def markdown(table: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"# Backward-weight rules: {args.epochs} epochs, {args.dtype}, seeds {args.seeds}",
        "",
        "Test error (%) at the best-validation epoch and at the last epoch, mean ± std over "
        "seeds, and final angles (degrees, mean ± std): between B_l and W_l^T "
        "(`angle_B_WT`), between each layer's update and the BP gradient (`angle_bp`), "
        "between x B_l and x W_l^T on a validation batch (`angle_projection`), and the "
        "norm ratio ||B_l||_F / ||W_l||_F (`norm_ratio_B_W`).",
    ]
    if args.overrides:
        lines += ["", "Overrides of the shipped configs: " + ", ".join(
            f"`{o}`" for o in args.overrides)]  # fmt: skip
    for dataset, methods in table.items():
        layers = sorted({int(k.split("layer")[1]) for e in methods.values() for k in e["final"]})
        b_layers, w_layers = [i for i in layers if i >= 2], layers[:-1]
        head = ["method", "n", "test err (best val)", "test err (last)"]
        head += [f"∠(B{i},W{i}ᵀ)" for i in b_layers]
        lines += ["", f"## {dataset}", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "---|" * len(head))
        for method, e in methods.items():
            cells = [method, str(e["test_error_best_val"]["n"])]
            cells += [_fmt(e["test_error_best_val"], 100), _fmt(e["test_error_last"], 100)]
            cells += _angle_cells(e, "angle_B_WT", b_layers)
            lines.append("| " + " | ".join(cells) + " |")
        head = ["method"] + [f"∠(ΔW{i},BP)" for i in w_layers]
        head += [f"∠(xB{i},xW{i}ᵀ)" for i in b_layers]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for method, e in methods.items():
            cells = [method, *_angle_cells(e, "angle_bp", w_layers)]
            cells += _angle_cells(e, "angle_projection", b_layers)
            lines.append("| " + " | ".join(cells) + " |")
        head = ["method"] + [f"‖B{i}‖/‖W{i}‖" for i in b_layers]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for method, e in methods.items():
            cells = [method, *_angle_cells(e, "norm_ratio_B_W", b_layers, digits=2)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def selection_suffix(args: argparse.Namespace) -> str:
    """``""`` for the default methods, data sets and seeds, else the parts that differ
    (``"_bp-sa_mnist_seeds0-1"``), so a report on a selection never replaces the full
    table of the same ``--out``."""
    parts = []
    if list(args.methods) != list(METHODS):
        parts.append("-".join(args.methods))
    if list(args.datasets) != list(DATASETS):
        parts.append("-".join(args.datasets))
    if list(args.seeds) != DEFAULT_SEEDS:
        parts.append("seeds" + "-".join(map(str, args.seeds)))
    return "".join(f"_{p}" for p in parts)


def plot_curves(args: argparse.Namespace) -> list[Path]:
    """Per dataset: test error and angle(B_l, W_l^T) per epoch, mean over seeds."""
    made = []
    for dataset in args.datasets:
        fig, axes = plt.subplots(1, 4, figsize=(18, 4))
        for method in args.methods:
            runs = []
            for seed in args.seeds:
                path = run_dir(args.out, dataset, method, seed) / "metrics.jsonl"
                if path.is_file():
                    runs.append([r for r in read_jsonl(path) if r["phase"] == "train"])
            if not runs:
                continue
            n = min(len(r) for r in runs)
            epochs = list(range(1, n + 1))
            for ax, key in zip(axes, ("test_error", "angle_B_WT/layer2", "angle_B_WT/layer3",
                                      "angle_B_WT/layer4"), strict=True):  # fmt: skip
                if key not in runs[0][0]:
                    continue
                scale = 100 if key == "test_error" else 1
                ys = [statistics.fmean(scale * r[e][key] for r in runs) for e in range(n)]
                ax.plot(epochs, ys, marker=".", label=method)
        for ax, title in zip(axes, ("test error (%)", "∠(B2, W2ᵀ) (deg)", "∠(B3, W3ᵀ) (deg)",
                                     "∠(B4, W4ᵀ) (deg)"), strict=True):  # fmt: skip
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0].set_yscale("log")
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{dataset}: mean over seeds {args.seeds}")
        fig.tight_layout()
        path = args.out / f"curves_{dataset}_{args.epochs}ep{selection_suffix(args)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        made.append(path)
    return made


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/alignment_table"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=DEFAULT_SEEDS)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--subset", type=int, default=None, help="first K training samples")
    p.add_argument("--report", action="store_true", help="only write the table and plots")
    add_set_option(p, "every run (use a fresh --out per setting)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        train_all(args)
    table = collect(args)
    stem = f"table_{args.epochs}ep{selection_suffix(args)}"
    (args.out / f"{stem}.json").write_text(
        json.dumps(
            {"epochs": args.epochs, "dtype": args.dtype, "overrides": args.overrides}
            | {"table": table},
            indent=1,
        )
    )
    text = markdown(table, args)
    (args.out / f"{stem}.md").write_text(text)
    print(text)
    for path in plot_curves(args):
        print("plot:", path)


if __name__ == "__main__":
    main()
