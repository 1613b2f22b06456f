"""Build a DFC hierarchy, print its IR and save a drawing of its graph.

    python examples/build_hierarchy.py --out hierarchy.png [--feedback direct|layerwise|multilayer]
        [--sizes 15 10 10 5] [--sleep] [--yaml circuit.yaml]

``--sleep`` builds the feedback-learning (sleep) phase network instead of the forward
phase: non-proactive controller, target = feedforward output, apical noise and the
anti-Hebbian feedback rule (DFC App. E.2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import neurosim
from neurosim.circuits import PIController


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="graph figure (png/pdf/svg)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[15, 10, 10, 5])
    parser.add_argument(
        "--feedback", default="direct", choices=("direct", "layerwise", "multilayer")
    )
    parser.add_argument("--sleep", action="store_true", help="build the sleep phase network")
    parser.add_argument("--dt", type=float, default=0.02)
    parser.add_argument("--yaml", type=Path, default=None, help="also save the circuit file")
    args = parser.parse_args(argv)

    if args.sleep:  # MNIST DFC feedback-phase values (DFC.md §2)
        ctrl = PIController(
            k_p=0.1565, alpha=0.6134, loss="given", target_from="output", proactive=False
        )
        builder = neurosim.HierarchyBuilder(
            args.sizes,
            controller=ctrl,
            feedback=args.feedback,
            tau_v=6.303e-3,
            tau_apical=0.3247,
            sigma=1.524e-3,
            plasticity="feedback",
        )
    else:  # MNIST DFC forward-phase values
        ctrl = PIController(k_p=2.0, alpha=1.389e-3, loss="cross_entropy", lam=0.07794)
        builder = neurosim.HierarchyBuilder(
            args.sizes, controller=ctrl, feedback=args.feedback, plasticity="forward"
        )
    net = builder.build()
    model = neurosim.build(net, dt=args.dt)
    print(model)
    fig = neurosim.draw_network(net)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120, bbox_inches="tight")
    print(
        f"graph: {net.graph.number_of_nodes()} nodes, {net.graph.number_of_edges()} edges "
        f"-> {args.out}"
    )
    if args.yaml:
        neurosim.save_circuit(net, args.yaml, {"dt": args.dt})
        print(f"circuit -> {args.yaml}")


if __name__ == "__main__":
    main()
