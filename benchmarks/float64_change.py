"""Did a code change move float64 results? The same update from two code versions.

Issue 17 §1 asks that reformulating the DFC family (deviation form) leave the float64
results unchanged beyond rounding, proven on a trained checkpoint. ``save`` computes
the float64 forward-weight update of every DFC variant (paper MNIST configs, the first
128 training samples, one thread) at a checkpoint's weights and stores it; run it once
with each code version on ``PYTHONPATH`` (it uses only the model registry, the config
defaults, the checkpoint loader and the data loader, which both versions have).
``compare`` prints, per model, the largest relative difference
``|g_new - g_old| / |g_old|`` over the layers' weights and biases.

    PYTHONPATH=OLD_CHECKOUT python benchmarks/float64_change.py save CKPT old.pt
    python benchmarks/float64_change.py save CKPT new.pt
    python benchmarks/float64_change.py compare old.pt new.pt [--json PATH]

Run time: ``save`` 17 s per code version at a 25-epoch checkpoint (one thread, the
shared 2-core CPU of development at load 5); ``compare`` a second.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

DFC_FAMILY = ("dfc", "dfc-ss", "dfc-ssa", "dfc-fixed", "dfc-ss-fixed", "dfc-ssa-fixed")
BATCH = 128


def save(checkpoint: Path, out: Path) -> None:
    """Store the float64 forward updates of every DFC variant at ``checkpoint``."""
    import neurosim  # noqa: F401  (the code version on PYTHONPATH)
    from neurosim.data import load_dataset
    from neurosim.models import registry
    from neurosim.models.base import Task
    from neurosim.training.checkpoint import load_checkpoint
    from neurosim.training.config import default_config

    torch.set_num_threads(1)
    ds = load_dataset("mnist", download=False)
    x = torch.from_numpy(ds.train.X[:BATCH]).double()
    y = torch.from_numpy(ds.train.y[:BATCH])
    state = {
        k: v
        for k, v in load_checkpoint(checkpoint)["model"].items()
        if not k.endswith("_extra_state")
    }
    updates = {}
    for name in DFC_FAMILY:
        cfg = default_config(name, "mnist")
        model = registry.create(
            name, Task("classification", 784, 10), cfg.model_params(), dtype=torch.float64,
            seed=cfg.seed,
        )  # fmt: skip
        model.load_state_dict(state, strict=False)
        grads, _ = model.forward_gradients(x, y)
        updates[name] = [(w.clone(), b.clone()) for w, b in grads]
        print(f"{name}: saved", flush=True)
    torch.save(updates, out)
    print(f"wrote {out}")


def compare(old: Path, new: Path) -> dict[str, float]:
    """Largest relative difference of ``new``'s updates from ``old``'s, per model."""
    a, b = torch.load(old), torch.load(new)
    worst: dict[str, float] = {}
    for name in a:
        pairs = zip(a[name], b[name], strict=True)
        worst[name] = max(
            float((y - x).norm() / x.norm())
            for (gw, gb), (hw, hb) in pairs
            for x, y in ((gw, hw), (gb, hb))
        )
        print(f"{name:15s} max relative difference (new vs old, float64): {worst[name]:.2e}")
    return worst


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save", help="compute and store the float64 updates")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("out", type=Path)
    c = sub.add_parser("compare", help="relative difference of two saved sets")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "save":
        save(args.checkpoint, args.out)
    else:
        worst = compare(args.old, args.new)
        if args.json:
            args.json.write_text(json.dumps({"max_rel_difference": worst}, indent=2))
            print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
