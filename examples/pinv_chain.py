"""The product of layer-wise pseudoinverses of a chain: experiment E2 of issue 13 (C4).

    python examples/pinv_chain.py                    # ~1 min (the learned factors)
    python examples/pinv_chain.py --out runs/pinv_chain

For a chain ``J_l = W_L ⋯ W_{l+1}`` and the layer-wise feedback
``P_l = B_{l+1} ⋯ B_L`` (recirculation_pinv.md §2.3), the poster claims that the
recursion on B "preserves Moore-Penrose properties 1, 2 and 3 for a full-rank,
contracting architecture" (C4), although ``pinv(J_l) != P_l`` in general. Measured here:

* contracting chain 784-512-256-128-64-10 (Xavier weights), exact factors
  ``B_i = pinv(W_i)``: r1-r3 of ``(J_l, P_l)`` at rounding, r4 and
  ``d = ||P_l - pinv(J_l)|| / ||pinv(J_l)||`` of order 1 (telescoping ``J_l P_l = I``);
* the same chain (scaled down to 64-32-16-8-4) with factors *learned* by noise-driven
  Recirculation pairs (``A = W_i`` frozen, 4000 annealed steps each): r1-r3 stay at the
  level of the factors' own residuals;
* an expanding chain 64-128-32-16-4 (one layer expands): r1-r3 of order 1 below it.

Writes ``pinv_chain.png`` (residuals per depth l) and ``pinv_chain.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from neurosim import Given  # noqa: E402
from neurosim.circuits import ReciprocalPair  # noqa: E402
from neurosim.models.rf import chain_product, feedback_product, penrose_residuals  # noqa: E402
from neurosim.models.rf.pair import Anneal, PairTrainer  # noqa: E402

KEYS = ("r1", "r2", "r3", "r4", "pinv_dist")


def xavier_chain(sizes: list[int], seed: int) -> list[torch.Tensor]:
    """``[W_1, .., W_L]`` with ``W_i ~ N(0, 2/(n_{i-1} + n_i))`` (n_i x n_{i-1})."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(n, m, generator=g, dtype=torch.float64) * (2.0 / (n + m)) ** 0.5
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def learned_factors(Ws: list[torch.Tensor], steps: int, seed: int) -> list[torch.Tensor]:
    """``B_i`` learned by a pair with frozen ``A = W_i`` (white noise, annealed eta_B)."""
    out = []
    for i, W in enumerate(Ws):
        pair = ReciprocalPair(f"layer{i + 1}", W.shape[1], hidden=W.shape[0], eta_A=0.0,
                              eta_B=0.1, init_A=Given(W.numpy()))  # fmt: skip
        trainer = PairTrainer(pair, batch=64, seed=seed + i)
        trainer.train(steps, steps, Anneal(200))
        out.append(trainer.B.clone())
    return out


def by_depth(Ws: list[torch.Tensor], Bs: list[torch.Tensor]) -> dict[int, dict[str, float]]:
    """Residuals of ``(J_l, P_l)`` for l = 0 .. L-1 (the chain above layer l)."""
    L = len(Ws)
    return {l: penrose_residuals(chain_product(Ws[l:]), feedback_product(Bs[l:])) for l in range(L)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=4000, help="noise steps per learned factor")
    p.add_argument("--out", type=Path, default=Path("runs/pinv_chain"))
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    cases = {}
    Ws = xavier_chain([784, 512, 256, 128, 64, 10], args.seed)
    cases["contracting, exact pinv"] = by_depth(Ws, [torch.linalg.pinv(W) for W in Ws])
    small = xavier_chain([64, 32, 16, 8, 4], args.seed)
    learned = learned_factors(small, args.steps, args.seed)
    cases["contracting, learned"] = by_depth(small, learned)
    factors = {
        f"B_{i}": penrose_residuals(W, B)
        for i, (W, B) in enumerate(zip(small, learned, strict=True), 1)
    }
    expanding = xavier_chain([64, 128, 32, 16, 4], args.seed)
    cases["expanding, exact pinv"] = by_depth(expanding, [torch.linalg.pinv(W) for W in expanding])

    print(f"{'case':<26}{'l':>3}" + "".join(f"{k:>11}" for k in KEYS))
    for name, rows in cases.items():
        for l, res in rows.items():
            print(f"{name:<26}{l:>3}" + "".join(f"{res[k]:>11.2e}" for k in KEYS))
    for name, res in factors.items():  # the learned factors themselves, against their W_i
        print(f"{'learned factor ' + name:<29}" + "".join(f"{res[k]:>11.2e}" for k in KEYS))
    fig, axes = plt.subplots(1, len(cases), figsize=(5 * len(cases), 4), sharey=True)
    for ax, (name, rows) in zip(axes, cases.items(), strict=True):
        ls = list(rows)
        for k in KEYS:
            ax.semilogy(ls, [max(rows[l][k], 1e-17) for l in ls], marker="o", label=k)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("l  (chain W_L ⋯ W_{l+1} above layer l)")
        ax.set_xticks(ls)
    axes[0].set_ylabel("relative Penrose residual of (J_l, P_l)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    figure = args.out / "pinv_chain.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    table = {name: {str(l): res for l, res in rows.items()} for name, rows in cases.items()}
    table["learned factors"] = factors
    (args.out / "pinv_chain.json").write_text(json.dumps(table, indent=2))
    print(f"figure: {figure}")


if __name__ == "__main__":
    main()
