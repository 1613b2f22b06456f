"""One prepared check of the CUDA path (issue 17 §3), written to run unattended.

On a machine with one NVIDIA GPU and this project on ``PYTHONPATH`` (no install step;
only torch, numpy, networkx, pyyaml, tqdm and matplotlib are assumed; pytest is used
when present), within ``--budget`` seconds (default 360):

1. the CUDA equivalence checks (:mod:`neurosim.backends.torch.checks`, as
   ``tests/backends/torch/test_torch_cuda.py``; through pytest when installed);
2. ``benchmarks/train_epoch.py --device cuda`` for every model, float32 and float64;
3. ``benchmarks/simulate.py --device cuda`` at batch 128, 1 024, 8 192 and 65 536
   (float32, fraction of the GPU's float32 matmul rate);
4. one real epoch of ``neurosim train --model dfc-ssa --device cuda`` (MNIST from
   ``$NEUROSIM_DATA`` or the user cache; synthetic data when neither has it);

and writes one JSON (``--out``, default ``gpu_check.json``) with every step's result,
its seconds, and the issue's targets (DFC <= 30 s and DFC-SSA <= 5 s per float32
epoch; simulation at batch 65 536 >= 40 % of the float32 matmul rate) marked met or
not. Each step gets what is left of the budget; one that runs out is recorded as
such and the next one starts.

``--device cpu`` runs the same steps with small sizes (2 timed rounds, batches 128
and 1 024, a 1 280-sample epoch): proof that the script executes end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {
    "dfc_float32_epoch_s": 30.0,
    "dfc-ssa_float32_epoch_s": 5.0,
    "simulate_65536_fraction_of_float32_peak": 0.40,
}


class Budget:
    """Seconds left of the whole check."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def run(cmd: list[str], budget: Budget, share: float = 1.0) -> dict:
    """``cmd`` as a subprocess with at most ``share`` of the budget left; its output
    tail, return code and seconds."""
    limit = max(1.0, budget.left() * share)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    t0 = time.monotonic()
    try:
        res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=limit)  # fmt: skip
        out = {"rc": res.returncode, "tail": (res.stdout + res.stderr)[-4000:]}
    except subprocess.TimeoutExpired as err:
        tail = (err.stdout or b"")[-4000:]
        out = {"rc": None, "timed_out_after_s": limit,
               "tail": tail.decode() if isinstance(tail, bytes) else tail}  # fmt: skip
    out["seconds"] = time.monotonic() - t0
    out["cmd"] = " ".join(cmd)
    print(f"[{out['seconds']:6.1f} s] rc={out['rc']} {out['cmd']}", flush=True)
    return out


def equivalence(device: str, budget: Budget) -> dict:
    """The CUDA tests: pytest on the test file when installed, else the same checks."""
    try:
        import pytest  # noqa: F401

        test = "tests/backends/torch/test_torch_cuda.py"
        return {"runner": "pytest", **run([sys.executable, "-m", "pytest", "-q", "-rs", test],
                                          budget, 0.3)}  # fmt: skip
    except ImportError:
        pass
    import torch

    from neurosim.backends.torch import checks

    results, t0 = {}, time.monotonic()
    for dtype in (torch.float32, torch.float64):
        tag = str(dtype).split(".")[-1]
        jobs = {f"simulator/{tag}": lambda d=dtype: checks.simulator_matches_cpu(device, d)}
        for name in checks.DFC_VARIANTS:
            jobs[f"{name}/{tag}"] = lambda n=name, d=dtype: checks.dfc_updates_match_cpu(
                n, device, d
            )
        for key, job in jobs.items():
            try:
                results[key] = {"ok": True, **job()}
            except Exception as err:  # noqa: BLE001 (record every failure)
                results[key] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    ok = all(r["ok"] for r in results.values())
    print(f"[{time.monotonic() - t0:6.1f} s] equivalence checks: {'ok' if ok else 'FAILED'}")
    return {"runner": "checks", "rc": 0 if ok else 1, "results": results,
            "seconds": time.monotonic() - t0}  # fmt: skip


def with_json(cmd: list[str], budget: Budget, share: float, tmp: Path, tag: str) -> dict:
    """``cmd --json FILE`` and the JSON it wrote."""
    path = tmp / f"{tag}.json"
    out = run([*cmd, "--json", str(path)], budget, share)
    if path.exists():
        out["json"] = json.loads(path.read_text())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run)")
    ap.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    ap.add_argument("--budget", type=float, default=360.0, help="seconds for everything")
    args = ap.parse_args(argv)
    import torch

    cpu = args.device == "cpu"
    if not cpu and not torch.cuda.is_available():
        print(f"gpu_check: --device {args.device} but this torch ({torch.__version__}) sees "
              "no CUDA device; use --device cpu for a dry run", file=sys.stderr)  # fmt: skip
        return 2
    budget = Budget(args.budget)
    py, bench = sys.executable, str(ROOT / "benchmarks")
    report: dict = {
        "device": args.device,
        "gpu": None if cpu else torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "budget_s": args.budget,
        "targets": TARGETS,
        "steps": {},
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        steps = report["steps"]
        try:
            steps["equivalence"] = equivalence(args.device, budget)
        except Exception:  # noqa: BLE001
            steps["equivalence"] = {"rc": 1, "error": traceback.format_exc()[-2000:]}
        rounds = ["--quick"] if cpu else ["--batches", "6"]
        steps["train_epoch"] = with_json(
            [py, f"{bench}/train_epoch.py", "--device", args.device, "--dtypes", "float32",
             "float64", *rounds], budget, 0.45, tmp, "train_epoch")  # fmt: skip
        steps["simulate"] = {}
        batches = (128, 1024) if cpu else (128, 1024, 8192, 65536)
        for i, b in enumerate(batches):
            share = 1.0 / (len(batches) - i + 1)
            quick = ["--quick"] if cpu or b >= 8192 else []
            cmd = [py, f"{bench}/simulate.py", "--device", args.device, "--batch", str(b),
                   "--dtypes", "float32", "--no-plain", "--repeats", "3", *quick]  # fmt: skip
            steps["simulate"][str(b)] = with_json(cmd, budget, share, tmp, f"sim{b}")
        train = [py, "-m", "neurosim.cli.main", "train", "--model", "dfc-ssa", "--dataset",
                 "mnist", "--device", args.device, "--epochs", "1", "--dtype", "float32",
                 "--out", str(tmp / "run"), "--no-progress"]  # fmt: skip
        if cpu:
            train += ["--subset", "1280", "--threads", "1"]
        steps["train_dfc_ssa"] = run(train, budget, 1.0)
        summary = tmp / "run" / "summary.json"
        if summary.exists():
            steps["train_dfc_ssa"]["summary"] = json.loads(summary.read_text())
    report["targets_met"] = _targets(report)
    if cpu:  # a dry run: the targets are GPU targets
        report["targets_met"] = {k: {**v, "met": None, "note": "CPU dry run, not a GPU number"}
                                 for k, v in report["targets_met"].items()}  # fmt: skip
    report["seconds"] = args.budget - budget.left()
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"gpu_check: {report['seconds']:.0f} s; targets: {report['targets_met']}; "
          f"wrote {args.out}")  # fmt: skip
    return 0


def _targets(report: dict) -> dict:
    """Each target: the measured value and met / not met (None: not measured)."""
    out: dict = {}
    details = report["steps"].get("train_epoch", {}).get("json", {}).get("_meta", {})
    details = details.get("details", {})
    for name in ("dfc", "dfc-ssa"):
        s = details.get(name, {}).get("float32", {}).get("seconds_per_epoch")
        key = f"{name}_float32_epoch_s"
        out[key] = {"value": s, "met": None if s is None else s <= TARGETS[key]}
    sim = report["steps"].get("simulate", {}).get("65536", {}).get("json", {})
    frac = sim.get("float32", {}).get("fraction_of_matmul_peak_median")
    key = "simulate_65536_fraction_of_float32_peak"
    out[key] = {"value": frac, "met": None if frac is None else frac >= TARGETS[key]}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
