"""Where is float32 safe? The same weight update computed in float32 and float64.

For each model (the paper config of ``--dataset``), one float64 model and one float32
copy with the same weights compute the forward-weight update of the same batch (128
training samples, no optimiser step). Reported per model: the largest relative error
``|g32 - g64| / |g64|`` and the largest angle between ``g32`` and ``g64`` over the
layers' weight updates. Run at initialisation, and with ``--checkpoint RUN/checkpoint.pt``
(one or more) also at the weights of (late) training runs: a DFC-family checkpoint
is loaded into every DFC variant, any other into the model of its own name. Late in
training DFC's update is tiny next to the rates (the controller's target moves the
output by ``lambda/B`` times the loss gradient): computed from absolute voltages and
rates it drowned in float32 rounding (53-94 degrees off), which is why the paper ran
in float64 (App. F.2); the deviation form (``neurosim.ir.deviation``) keeps it.

    python benchmarks/precision.py [--json PATH] [--checkpoint CKPT ...] [--dataset mnist]
        [--models ...] [--device cpu] [--longdouble] [--quick]

``--longdouble`` also computes DFC-SSA's update at each checkpoint in the absolute form
in numpy ``longdouble`` (64-bit mantissa) and reports the float64 and float32 updates'
relative error against it (the deviation form's float64 is ~1e-11 off there, the
absolute form's float64 ~1e-7: it lost 8 digits too).

writes ``{point: {model: {"max_rel_error": .., "max_angle_deg": ..}}}``.

Run time (one thread, on the shared 2-core CPU of development at the load average given;
longer on a busier machine): full (6 models, initial weights) 57 s at load 15; --quick
(DFC-SSA and BP) 19 s at load 5; each --checkpoint point adds about as much again.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

# neurosim first: importing it sets OpenMP's passive wait policy before torch loads
# (neurosim/_threads.py), as the `neurosim` command does
import neurosim  # noqa: F401  isort: skip
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import add_device_argument, check_device, machine, progress  # noqa: E402
from benchmarks.train_epoch import BATCH, mnist_or_synthetic  # noqa: E402
from neurosim.models import registry  # noqa: E402
from neurosim.models.base import Task  # noqa: E402
from neurosim.training.checkpoint import load_checkpoint  # noqa: E402
from neurosim.training.config import default_config  # noqa: E402
from neurosim.training.tasks import get_task_spec  # noqa: E402

DFC_FAMILY = ("dfc", "dfc-ss", "dfc-ssa", "dfc-fixed", "dfc-ss-fixed", "dfc-ssa-fixed")
MODELS = (*DFC_FAMILY, "bp", "fa", "dfa")


def _updates(model: Any, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The forward weight updates ``grad W_i`` of one batch (no optimiser step)."""
    if hasattr(model, "forward_gradients"):
        grads, _ = model.forward_gradients(x, y)
    else:
        grads, _ = model.gradients(x, y)
    return [g_w.detach().to("cpu", torch.float64) for g_w, _ in grads]


def compare(
    name: str,
    x: torch.Tensor,
    y: torch.Tensor,
    state: dict | None,
    dataset: str = "mnist",
    device: str = "cpu",
) -> dict:
    """Relative error and angle of the float32 update against the float64 one."""
    cfg = default_config(name, dataset)
    spec = get_task_spec(dataset)
    task = Task(spec.kind, x.shape[1], x.shape[1] if spec.autoencoder else 10)
    make = {
        dt: registry.create(
            name, task, cfg.model_params(), device=device, dtype=dt, seed=cfg.seed
        )  # fmt: skip
        for dt in (torch.float64, torch.float32)
    }
    if state is not None:
        # weights only (a run's noise-generator state plays no part in one update)
        weights = {k: v for k, v in state.items() if not k.endswith("_extra_state")}
        make[torch.float64].load_state_dict(weights, strict=False)
    make[torch.float32].load_state_dict(make[torch.float64].state_dict())  # same weights
    y = x if spec.autoencoder else y
    g64 = _updates(make[torch.float64], x.to(device, torch.float64), y.to(device))
    g32 = _updates(make[torch.float32], x.to(device, torch.float32), y.to(device))
    rel, ang = [], []
    for a, b in zip(g32, g64, strict=True):
        rel.append(float((a - b).norm() / b.norm()))
        cos = float((a * b).sum() / (a.norm() * b.norm()))
        ang.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))
    return {
        "max_rel_error": max(rel),
        "max_angle_deg": max(ang),
        "update_norm": float(sum(b.norm() ** 2 for b in g64) ** 0.5),
    }


LD = np.longdouble
_PHI_LD = {"tanh": np.tanh, "linear": lambda v: v}


def _solve_ld(A: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched Gaussian elimination with partial pivoting (numpy has no longdouble
    ``solve``): ``A`` (B, n, n), ``rhs`` (B, n)."""
    A, rhs = A.copy(), rhs.copy()
    B, n = rhs.shape
    rows = np.arange(B)
    for k in range(n):
        piv = np.argmax(np.abs(A[:, k:, k]), axis=1) + k
        A[rows, k], A[rows, piv] = A[rows, piv].copy(), A[rows, k].copy()
        rhs[rows, k], rhs[rows, piv] = rhs[rows, piv].copy(), rhs[rows, k].copy()
        f = A[:, k + 1 :, k] / A[:, k : k + 1, k]
        A[:, k + 1 :, k:] -= f[:, :, None] * A[:, k : k + 1, k:]
        rhs[:, k + 1 :] -= f * rhs[:, k : k + 1]
    u = np.zeros_like(rhs)
    for i in range(n - 1, -1, -1):
        u[:, i] = (rhs[:, i] - np.einsum("bj,bj->b", A[:, i, i + 1 :], u[:, i + 1 :])) / A[:, i, i]
    return u


def ssa_longdouble(model: Any, x: torch.Tensor, y: torch.Tensor) -> list[np.ndarray]:
    """The DFC-SSA weight update (``grad W_i``) of ``model``'s weights, computed in the
    absolute form of DFC.md §1.4 in numpy ``longdouble`` (x86: 64-bit mantissa, eps
    1.1e-19), as a reference for both float64 and float32 (tanh/linear layers)."""
    cfg = model.cfg
    W = [w.detach().cpu().numpy().astype(LD) for w in model.weights]
    b = [v.detach().cpu().numpy().astype(LD) for v in model.biases]
    Q = np.concatenate([q.detach().cpu().numpy().astype(LD) for q in model.feedback], 0)
    phi = [_PHI_LD[f] for f in cfg.activations]
    B, r = x.shape[0], x.cpu().numpy().astype(LD)
    xs, vs, rs = r, [], []
    for Wi, bi, f in zip(W, b, phi, strict=True):
        vs.append(r @ Wi.T + bi)
        r = f(vs[-1])
        rs.append(r)
    p = np.exp(rs[-1] - rs[-1].max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(p.shape[1], dtype=LD)[y.cpu().numpy()]
    delta = -cfg.target_stepsize * (p - onehot) / B  # exact enough in longdouble
    d = [np.ones_like(v) if fn == "linear" else 1 - rr**2
         for v, rr, fn in zip(vs, rs, cfg.activations, strict=True)]  # fmt: skip
    J = [np.einsum("bi,ij->bij", d[-1], np.eye(d[-1].shape[1], dtype=LD))]
    for i in range(len(W) - 2, -1, -1):
        J.insert(0, np.einsum("bij,jk->bik", J[0], W[i + 1]) * d[i][:, None, :])
    A = np.einsum("bij,jk->bik", np.concatenate(J, 2), Q) + cfg.alpha_di * np.eye(Q.shape[1])
    dv = np.split(_solve_ld(A, delta) @ Q.T, np.cumsum([w.shape[0] for w in W])[:-1], axis=1)
    grads, prev = [], xs
    for Wi, bi, f, dvi in zip(W, b, phi, dv, strict=True):
        vb = prev @ Wi.T + bi
        post = f(vb + dvi)
        grads.append(-(2.0 / B) * (post - f(vb)).T @ prev)
        prev = post
    return grads


def versus_longdouble(name: str, x, y, state: dict, dataset: str, device: str) -> dict:
    """Relative error of the float64 and float32 DFC-SSA updates against
    :func:`ssa_longdouble` at the weights ``state``."""
    cfg = default_config(name, dataset)
    task = Task("classification", x.shape[1], 10)
    out = {}
    for dt in (torch.float64, torch.float32):
        m = registry.create(name, task, cfg.model_params(), device=device, dtype=dt,
                            seed=cfg.seed)  # fmt: skip
        weights = {k: v for k, v in state.items() if not k.endswith("_extra_state")}
        m.load_state_dict(weights, strict=False)
        got = _updates(m, x.to(device, dt), y.to(device))
        if dt == torch.float64:
            ref = ssa_longdouble(m, x, y)
        rel = [float(np.linalg.norm(g.numpy() - r.astype(np.float64)) / np.linalg.norm(
               r.astype(np.float64))) for g, r in zip(got, ref, strict=True)]  # fmt: skip
        out[str(dt).split(".")[-1]] = max(rel)
    return out


def _family(name: str) -> str:
    return "dfc" if name in DFC_FAMILY else name


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=registry.available())
    ap.add_argument("--checkpoint", type=Path, nargs="+", default=[], help="runs' weights")
    ap.add_argument("--dataset", default="mnist", help="task of the configs and data")
    ap.add_argument("--quick", action="store_true", help="DFC-SSA and BP only (about 20 s)")
    ap.add_argument("--longdouble", action="store_true",
                    help="also DFC-SSA's float64/float32 updates against a longdouble "
                         "computation of the absolute form")  # fmt: skip
    add_device_argument(ap)
    args = ap.parse_args(argv)
    device = check_device(args.device)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    models = ["dfc-ssa", "bp"] if args.quick else args.models
    spec = get_task_spec(args.dataset)
    X, y, source = mnist_or_synthetic(BATCH, spec.source)
    points: dict[str, tuple[str | None, dict | None]] = {"init": (None, None)}
    for path in args.checkpoint:
        ckpt = load_checkpoint(path)
        epoch = ckpt.get("position", {})
        label = f"checkpoint ({ckpt['model_name']}, {epoch})"
        points[label] = (_family(ckpt["model_name"]), ckpt["model"])
    results: dict[str, Any] = {
        "_meta": {"data": source, "dataset": args.dataset, "batch": BATCH, **machine(device)}
    }
    print(f"data: {source} ({args.dataset} configs); one batch of {BATCH}; float32 update "
          "against float64")  # fmt: skip
    print(f"{'point':40s} {'model':15s} {'max rel err':>12s} {'max angle':>10s}")
    for point, (family, state) in points.items():
        row = results.setdefault(point, {})
        for name in models:
            if family is not None and _family(name) != family:
                continue  # a checkpoint holds the weights of its own family only
            progress(f"{point}: {name} in float32 and float64")
            r = row[name] = compare(name, X, y, state, args.dataset, device)
            print(f"{point:40s} {name:15s} {r['max_rel_error']:12.2e} "
                  f"{r['max_angle_deg']:9.3f}°")  # fmt: skip
            if args.longdouble and name in ("dfc-ssa", "dfc-ssa-fixed") and state is not None:
                ld = r["vs_longdouble"] = versus_longdouble(name, X, y, state, args.dataset,
                                                            device)  # fmt: skip
                print(f"{'':40s} {name:15s} vs longdouble: float64 {ld['float64']:.2e}, "
                      f"float32 {ld['float32']:.2e}")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
