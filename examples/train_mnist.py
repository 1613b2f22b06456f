"""Train a model on MNIST with the paper's configuration and print the result.

    python examples/train_mnist.py                      # BP, 2 epochs
    python examples/train_mnist.py --model dfc-ssa --epochs 3
    python examples/train_mnist.py --subset 2000 --epochs 1 --out runs/quick

The same as ``neurosim train --model X --dataset mnist``, through the Python API:
load the published config (DFC.md §2), override a few fields, train, read the
best-validation summary (paper protocol: test error at the best-validation epoch).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from neurosim.training import default_config, train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bp", help="bp, fa, dfa, dfc, dfc-ss, dfc-ssa, ...")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--subset", type=int, default=None, help="first K training samples")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--out", type=Path, default=Path("runs/example_mnist"))
    args = p.parse_args()

    cfg = default_config(args.model, "mnist").with_overrides(
        epochs=args.epochs, subset=args.subset, dtype=args.dtype
    )
    print(f"{cfg.model}: lr_eff = {cfg.params['lr'] / cfg.params['target_stepsize']:.3g}, "
          f"{cfg.epochs} epochs, batch {cfg.batch_size}, {cfg.dtype}")  # fmt: skip
    if args.out.exists():
        shutil.rmtree(args.out)  # a fresh run each time
    result = train(cfg, args.out)
    best = result["best"]
    test_acc, val_acc = 100 * (1 - best["test_error"]), 100 * (1 - best["val_error"])
    print(f"best epoch {result['best_epoch']}: test accuracy {test_acc:.2f}% "
          f"(val {val_acc:.2f}%), {result['total_seconds']:.0f} s")  # fmt: skip
    print("plots:", ", ".join(result["plots"]))


if __name__ == "__main__":
    main()
