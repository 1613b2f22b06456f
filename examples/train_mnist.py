"""Train a model on MNIST with the paper's configuration and print the result.

    python examples/train_mnist.py                      # BP, 2 epochs
    python examples/train_mnist.py --model dfc-ssa --epochs 3
    python examples/train_mnist.py --subset 2000 --epochs 1 --out runs/quick
    python examples/train_mnist.py --out runs/quick --epochs 3 --resume   # continue it

The same as ``neurosim train --model X --dataset mnist``, through the Python API:
load the published config (DFC.md §2), override a few fields, train, read the
best-validation summary (paper protocol: test error at the best-validation epoch).
``train`` prints what it will run, the estimated time per epoch and one line per
epoch. Each run goes to a new directory unless ``--out`` names one; an ``--out``
that already holds a run is refused (nothing is deleted), as by ``neurosim train``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from neurosim.training import default_config, train
from neurosim.training.rundir import RunDirectoryError


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bp", help="bp, fa, dfa, dfc, dfc-ss, dfc-ssa, ...")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--subset", type=int, default=None, help="first K training samples")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument(
        "--out", type=Path, default=None, help="run directory (default: a new one in runs/)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    args = p.parse_args()

    out = args.out or Path("runs/train_mnist") / f"{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    cfg = default_config(args.model, "mnist").with_overrides(
        epochs=args.epochs, subset=args.subset, dtype=args.dtype
    )
    lr_eff = cfg.params["lr"] / cfg.params["target_stepsize"]
    print(f"{cfg.model}: lr_eff = {lr_eff:.3g}, {cfg.epochs} epochs, batch {cfg.batch_size}, "
          f"{cfg.dtype}; run directory {out}")  # fmt: skip
    try:
        result = train(cfg, out, resume=args.resume)
    except RunDirectoryError as err:  # an existing run, or one in use by another process
        print(f"train_mnist.py: {err.for_cli()}", file=sys.stderr)
        return 2
    best = result["best"]
    test_acc, val_acc = 100 * (1 - best["test_error"]), 100 * (1 - best["val_error"])
    print(f"best epoch {result['best_epoch']}: test accuracy {test_acc:.2f}% "
          f"(val {val_acc:.2f}%), {result['total_seconds']:.0f} s")  # fmt: skip
    print("plots:", ", ".join(result["plots"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
