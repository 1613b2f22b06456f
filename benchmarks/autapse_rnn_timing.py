"""Seconds per epoch of the autapse rule vs BPTT as N and the sequence length grow.

The source's claim C8 (autapse_rnn_fa.md §1): the modified rule "computes faster"
because it needs no BPTT. Measured here on the bouncing ball: one epoch = one online
pass over ``--sequences`` trajectories (batch size 1, the configs' timing: the autapse
rule updates at every step, BPTT once per trajectory), same network, same data,
float64, one thread. Each rule's epoch is timed in interleaved rounds (autapse, BPTT,
... per round), so that load changes on a shared machine hit both alike; the table
gives the minimum and the median over ``--repeats`` rounds and the ratio
``t_BPTT / t_autapse`` of the medians and of the minima (> 1: the autapse rule is
faster). ``--rules`` adds FA, DFA through time and RFLO.

The autapse rule runs as its circuit (IR -> generated torch step, online plasticity);
BPTT unrolls the network and calls autograd (``models/rnn/through_time.py``).

Usage::

    python benchmarks/autapse_rnn_timing.py [--json out.json] [--sizes 2 10 50 200]
        [--lengths 25 100 400] [--repeats 5] [--sequences 20] [--quick]

``--quick``: N in {2, 10}, T in {25, 100}, 5 sequences, 3 rounds.

Run time (one thread, on the shared 2-core CPU of development at the load average given;
longer on a busier machine): full 37 s at load 12; --quick 10 s at load 8.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import interleaved, machine, stats, table, write_json  # noqa: E402
from neurosim.models import registry  # noqa: E402
from neurosim.models.base import Task  # noqa: E402
from neurosim.models.rnn.experiment import load_data  # noqa: E402


def epoch_callable(rule: str, N: int, X: torch.Tensor, Y: torch.Tensor):
    """One epoch (every trajectory once, batch size 1) of ``rule`` at size ``N``."""
    params = {"hidden_size": N, "io_weights": "identity" if N == 2 else "random", "lr": 1e-3}
    model = registry.create(rule, Task("regression", 2, 2), params, dtype=X.dtype, seed=0)

    def run() -> None:
        for i in range(X.shape[0]):
            model.train_batch(X[i : i + 1], Y[i : i + 1], "forward")

    return run


def measure(rules: list[str], N: int, T: int, sequences: int, repeats: int) -> dict:
    """Interleaved timings of one epoch per rule at size N and length T."""
    data = load_data({"n_train": sequences, "n_test": 1, "n_steps": T + 1}, val_size=0)
    X, Y = data.train.X, data.train.Y
    times = interleaved({r: epoch_callable(r, N, X, Y) for r in rules}, repeats)
    return {r: stats(t) | {"all": t} for r, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2, 10, 50, 200])
    p.add_argument("--lengths", type=int, nargs="+", default=[25, 100, 400])
    p.add_argument("--base-size", type=int, default=10, help="N of the length sweep")
    p.add_argument("--base-length", type=int, default=100, help="T of the size sweep")
    p.add_argument("--sequences", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rules", nargs="+", default=["autapse-rnn", "bptt"])
    p.add_argument("--quick", action="store_true", help="small sizes, 3 rounds")
    p.add_argument("--json", type=Path, default=Path("benchmarks/results/autapse_rnn_timing.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.lengths, args.sequences, args.repeats = [2, 10], [25, 100], 5, 3
    torch.set_num_threads(1)
    if args.rules[:2] != ["autapse-rnn", "bptt"]:
        p.error("--rules must start with autapse-rnn bptt (the ratio's terms)")
    cases = [(N, args.base_length) for N in args.sizes]
    cases += [(args.base_size, n) for n in args.lengths if n != args.base_length]
    before = machine()
    results = []
    for N, T in cases:
        res = measure(args.rules, N, T, args.sequences, args.repeats)
        a, b = res["autapse-rnn"], res["bptt"]
        row = {"N": N, "T": T, "seconds": res,
               "ratio_bptt_over_autapse_median": b["median"] / a["median"],
               "ratio_bptt_over_autapse_min": b["min"] / a["min"]}  # fmt: skip
        results.append(row)
        print(f"N={N:<4} T={T:<4} " + "  ".join(
            f"{r}: {v['median']:.3f} s (min {v['min']:.3f})" for r, v in res.items()
        ) + f"  ratio {row['ratio_bptt_over_autapse_median']:.2f}", flush=True)  # fmt: skip
    header = ("N", "T", *[f"{r} s/epoch median (min)" for r in args.rules],
              "BPTT/autapse median", "BPTT/autapse min")  # fmt: skip
    rows = [header]
    for row in results:
        cells = [f"{row['seconds'][r]['median']:.3f} ({row['seconds'][r]['min']:.3f})"
                 for r in args.rules]  # fmt: skip
        rows.append((str(row["N"]), str(row["T"]), *cells,
                     f"{row['ratio_bptt_over_autapse_median']:.2f}",
                     f"{row['ratio_bptt_over_autapse_min']:.2f}"))  # fmt: skip
    print()
    print(table(rows))
    meta = {"machine_before": before, "machine_after": machine(), "sequences": args.sequences,
            "repeats": args.repeats, "dtype": "float64", "batch_size": 1}  # fmt: skip
    write_json(args.json, {"meta": meta, "results": results})
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
