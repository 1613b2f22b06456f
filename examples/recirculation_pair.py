"""Recirculation learns the pseudoinverse: experiments E1, E1b and E1c of issue 13.

    python examples/recirculation_pair.py                    # 2e4 steps each, ~1 min
    python examples/recirculation_pair.py --steps 3000 --out runs/pair_quick

One :class:`~neurosim.circuits.ReciprocalPair` (``h = A x``, ``x̂ = B h``, ``ĥ = A x̂``,
``ΔA = η_A (h - ĥ) xᵀ``, ``ΔB = η_B (x - x̂) hᵀ``, both rules concurrent, batch 32)
simulated online on the torch backend; the Penrose residuals r1-r4 and
``d = ||B - pinv(A)|| / ||pinv(A)||`` are measured against the current ``A``
(recirculation_pinv.md §2.1, §3):

* E1  contracting pair (m = 20, n = 10), white-noise drive, A ~ N(0, 1/m), B_0 = 0:
      with ``η_B`` annealed (constant for ``t0`` steps, then 1/t) and without (the floor);
* E1b the same pair driven by correlated data ``x = L z`` (condition number of
      Sigma = L Lᵀ: 900): r1-r3 still vanish, r4 and d plateau, because B converges to
      the Sigma-weighted inverse ``Sigma Aᵀ (A Sigma Aᵀ)⁻¹`` (its distance ``d_Sigma``);
* E1c expanding pair (m = 10, n = 20): ``B P⊥`` stays at its initial value, so with a
      random B_0 r3 and d plateau at the frozen component, with B_0 = 0 everything
      vanishes;
* and Hinton & McClelland's original Recirculation (logistic, lambda = 0.75, rate 20,
      biases) on the 4-2-4 one-hot encoder: sweeps to learn it, ``--encoder-inits``
      initialisations (recirculation_pinv.md §2.2);
* E1d the rate ratio eta_A / eta_B in {0, 0.1, 1, 3, 10} at constant eta_B = 0.1: growth of
      ||A|| and the divergence of the B-LMS (a table, no figure).

Writes one figure (``recirculation_pair.png``) and the final numbers
(``recirculation_pair.json``) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from neurosim import Normal  # noqa: E402
from neurosim.circuits import ReciprocalPair  # noqa: E402
from neurosim.core.errors import SimulationDivergedError  # noqa: E402
from neurosim.models.rf.pair import Anneal, PairHistory, PairTrainer, encoder_sweeps  # noqa: E402

KEYS = ("r1", "r2", "r3", "r4", "pinv_dist")
LABELS = {"r1": "r1 ABA=A", "r2": "r2 BAB=B", "r3": "r3 (AB)ᵀ=AB", "r4": "r4 (BA)ᵀ=BA",
          "pinv_dist": "d = |B-A⁺|/|A⁺|", "d_sigma": "|B-B_Σ|/|B_Σ|",
          "frozen": "|BP⊥-B₀P⊥|/|B₀P⊥|"}  # fmt: skip


def e1(steps: int, seed: int, t0: float) -> dict[str, PairHistory]:
    """E1: white noise, with and without annealing of eta_B."""
    out = {}
    for tag, anneal in (("annealed", Anneal(t0)), ("constant", None)):
        pair = ReciprocalPair("pair", 20, hidden=10, eta_A=0.02, eta_B=0.1)
        out[tag] = PairTrainer(pair, batch=32, seed=seed).train(steps, 1000, anneal)
        out[tag].pinv_norm = float(torch.linalg.matrix_norm(torch.linalg.pinv(out[tag].A)))
    return out


def floor(hist: PairHistory, m: int = 20, n: int = 10, eta: float = 0.1, batch: int = 32) -> dict:
    """Measured floor of d at constant eta_B (rms over the second half of the run) and the
    derived one, ``sqrt(n (m - n) eta sigma² / (2 batch)) / ||A⁺||`` (§3 E1)."""
    a = hist.as_arrays()
    late = a["pinv_dist"][a["steps"] > a["steps"][-1] / 2]
    predicted = np.sqrt(n * (m - n) * eta / (2 * batch)) / hist.pinv_norm
    return {"measured_rms": float(np.sqrt(np.mean(late**2))), "predicted": float(predicted)}


def correlated(m: int, condition: float, seed: int) -> np.ndarray:
    """``L`` (m x m, random rotation) with singular values from 3 down to
    ``3/sqrt(condition)``: Sigma = L Lᵀ has eigenvalues 9 .. 9/condition."""
    rng = np.random.default_rng(seed)
    s = np.geomspace(3.0, 3.0 / np.sqrt(condition), m)
    return np.diag(s) @ np.linalg.qr(rng.normal(size=(m, m)))[0]


def e1b(steps: int, seed: int, t0: float) -> tuple[PairHistory, float]:
    """E1b: correlated data; eta_B scaled by 1/lambda_max(Sigma) to keep the LMS stable."""
    L = correlated(20, 900.0, seed + 1)
    S = L @ L.T

    def data(start: int, count: int, batch: int) -> np.ndarray:
        rng = np.random.default_rng([seed, start])
        return rng.normal(size=(count, batch, 20)) @ L.T

    def d_sigma(A: torch.Tensor, B: torch.Tensor) -> dict[str, float]:
        A_, B_ = A.numpy(), B.numpy()
        B_sigma = S @ A_.T @ np.linalg.inv(A_ @ S @ A_.T)
        return {"d_sigma": float(np.linalg.norm(B_ - B_sigma) / np.linalg.norm(B_sigma))}

    lam = float(np.linalg.eigvalsh(S).max())
    pair = ReciprocalPair("pair", 20, hidden=10, eta_A=0.02 / lam, eta_B=0.1 / lam,
                          drive="data", sigma=0.0)  # fmt: skip
    trainer = PairTrainer(pair, batch=32, seed=seed, data=data)
    return trainer.train(steps, 1000, Anneal(t0 * lam), extra=d_sigma), float(np.linalg.cond(S))


def e1c(steps: int, seed: int) -> dict[str, PairHistory]:
    """E1c: expanding pair, random B_0 vs B_0 = 0 (white noise, no annealing needed)."""
    out = {}
    for tag, init_B in (("random B0", Normal(std=10**-0.5)), ("B0 = 0", None)):
        kw = {"init_B": init_B} if init_B is not None else {}
        pair = ReciprocalPair("pair", 10, hidden=20, eta_A=0.02, eta_B=0.1, **kw)
        trainer = PairTrainer(pair, batch=32, seed=seed)
        B0 = trainer.B.clone()

        def frozen(A: torch.Tensor, B: torch.Tensor, B0: torch.Tensor = B0) -> dict[str, float]:
            P_perp = torch.eye(A.shape[0], dtype=A.dtype) - A @ torch.linalg.pinv(A)
            ref = torch.linalg.matrix_norm(B0 @ P_perp)
            moved = torch.linalg.matrix_norm((B - B0) @ P_perp)
            return {"frozen": float(moved / ref) if ref > 0 else float(moved)}

        out[tag] = trainer.train(steps, 1000, extra=frozen)
    return out


def e1d(steps: int, seed: int, ratios=(0.0, 0.1, 1.0, 3.0, 10.0), eta_B: float = 0.1) -> dict:
    """E1d: the rate ratio eta_A / eta_B (recirculation_pinv.md §3, §4 "Growth of A").

    The contracting white-noise pair of E1 at constant eta_B, run in chunks of 10 steps:
    the final ||A||_F, eta_B * lambda_max(A Aᵀ) (the LMS step is stable below 2), r1, r4
    and d; or, where the run diverges, the step and the last values before it."""
    out = {}
    for ratio in ratios:
        trainer = PairTrainer(
            ReciprocalPair("pair", 20, hidden=10, eta_A=ratio * eta_B, eta_B=eta_B), 32, seed
        )
        row: dict = {"eta_A": ratio * eta_B, "eta_B": eta_B, "diverged_at": None}
        while trainer.t < steps:
            lam = float(torch.linalg.matrix_norm(trainer.A, 2) ** 2)
            row.update(norm_A=float(torch.linalg.matrix_norm(trainer.A)), lms_gain=eta_B * lam)
            try:
                trainer.advance(min(10, steps - trainer.t))
            except SimulationDivergedError:
                row["diverged_at"] = f"{trainer.t + 1}-{trainer.t + 10}"
                break
        if row["diverged_at"] is None:
            res = trainer.residuals()
            lam = float(torch.linalg.matrix_norm(trainer.A, 2) ** 2)
            row.update(norm_A=res["norm_A"], lms_gain=eta_B * lam,
                       r1=res["r1"], r4=res["r4"], pinv_dist=res["pinv_dist"])  # fmt: skip
        out[f"eta_A/eta_B = {ratio:g}"] = row
    return out


def _panel(ax, hist: PairHistory, keys, title: str, style: str = "-") -> None:
    a = hist.as_arrays()
    for k in keys:
        ax.plot(a["steps"], np.maximum(a[k], 1e-17), style, label=LABELS[k])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title, fontsize=10)


def plot(res: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.4), sharey=True)
    _panel(axes[0], res["E1"]["annealed"], KEYS, "E1 white noise, η_B annealed")
    a = res["E1"]["constant"].as_arrays()
    for k in ("r4", "pinv_dist"):
        axes[0].plot(a["steps"], a[k], ":", color="gray")
    axes[0].plot([], [], ":", color="gray", label="r4, d without annealing")
    _panel(axes[1], res["E1b"], (*KEYS, "d_sigma"), "E1b correlated data (cond Σ = 900)")
    _panel(axes[2], res["E1c"]["random B0"], (*KEYS, "frozen"), "E1c expanding, random B₀")
    _panel(axes[3], res["E1c"]["B0 = 0"], KEYS, "E1c expanding, B₀ = 0")
    axes[0].set_ylabel("relative residual")
    for ax in axes:
        ax.axhline(1e-2, color="k", lw=0.5, ls="--")
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20000, help="online steps per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--t0", type=float, default=20.0, help="anneal: eta_B * min(1, t0/t)")
    p.add_argument("--encoder-inits", type=int, default=20, help="4-2-4 encoder runs (0: none)")
    p.add_argument("--out", type=Path, default=Path("runs/recirculation_pair"))
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    res = {"E1": e1(args.steps, args.seed, args.t0)}
    res["E1b"], cond = e1b(args.steps, args.seed, args.t0)
    res["E1c"] = e1c(args.steps, args.seed)
    rows = {
        "E1 annealed": res["E1"]["annealed"],
        "E1 constant eta_B (floor)": res["E1"]["constant"],
        f"E1b data, cond {cond:.0f}": res["E1b"],
        "E1c random B0": res["E1c"]["random B0"],
        "E1c B0 = 0": res["E1c"]["B0 = 0"],
    }
    extra = ("d_sigma", "frozen", "norm_A")
    print(
        f"{'after ' + str(args.steps) + ' steps':<28}" + "".join(f"{k:>10}" for k in KEYS + extra)
    )
    summary = {}
    for name, hist in rows.items():
        final = hist.final()
        summary[name] = final
        cells = "".join(f"{final[k]:>10.2e}" if k in final else f"{'':>10}" for k in KEYS + extra)
        print(f"{name:<28}{cells}")
    summary["E1 floor of d at constant eta_B"] = fl = floor(res["E1"]["constant"])
    print(f"E1 floor of d at constant eta_B: {fl['measured_rms']:.3g} (rms, 2nd half), derived "
          f"{fl['predicted']:.3g}")  # fmt: skip
    summary["E1d rate ratio"] = rates = e1d(min(args.steps, 5000), args.seed)
    print(f"E1d, eta_B = 0.1 constant, {min(args.steps, 5000)} steps: ||A||_F, "
          "eta_B lambda_max(AAᵀ) (last before divergence), r1, r4, d")  # fmt: skip
    for name, row in rates.items():
        tail = (
            f"diverged in steps {row['diverged_at']}"
            if row["diverged_at"]
            else f"r1 {row['r1']:.1e}  r4 {row['r4']:.2e}  d {row['pinv_dist']:.2e}"
        )
        print(f"  {name:<18} ||A|| {row['norm_A']:7.3g}  gain {row['lms_gain']:7.3g}  {tail}")
    if args.encoder_inits > 0:
        sweeps = [encoder_sweeps(seed) for seed in range(args.encoder_inits)]
        learned = [n for n in sweeps if n is not None]
        summary["original Recirculation, 4-2-4 encoder"] = enc = {
            "initialisations": len(sweeps),
            "learned": len(learned),
            "mean_sweeps": float(np.mean(learned)) if learned else None,
            "sweeps": sweeps,
        }
        print(f"original Recirculation, 4-2-4 encoder: learned by {enc['learned']} of "
              f"{enc['initialisations']} initialisations, {enc['mean_sweeps']:.1f} sweeps on "
              "average (every pattern within 0.1, at most 400 sweeps)")  # fmt: skip
    figure = args.out / "recirculation_pair.png"
    plot(res, figure)
    (args.out / "recirculation_pair.json").write_text(json.dumps(summary, indent=2))
    print(f"figure: {figure}")


if __name__ == "__main__":
    main()
