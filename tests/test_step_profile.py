"""benchmarks/step_profile.py: every line of the generated step is timed and classified."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import step_profile  # noqa: E402


@pytest.mark.parametrize("phase", ["forward", "sleep"])
@pytest.mark.parametrize("eager", [True, False])
def test_step_profile_times_every_line(tmp_path: Path, phase: str, eager: bool) -> None:
    out = tmp_path / "profile.json"
    args = ["--phase", phase, "--rows", "8", "--quick", "--repeats", "1", "--json", str(out)]
    assert step_profile.main(args + (["--eager"] if eager else [])) == 0
    data = json.loads(out.read_text())
    lines = [x["line"] for x in data["lines"]]
    # deviation form: W_2..W_4 times the rate deviations (no bias; W_1 x never moves)
    assert sum("torch.mm(v_l" in x for x in lines) == 3
    if eager:  # and the Q_i u of the four layers
        assert sum("torch.mm(v_ctrl__u" in x for x in lines) == 4
        assert data["elementwise_us"] > 0 and data["fused_kernels"] == 0
    elif data["fused_kernels"]:  # Q_i u inside the kernels (a C compiler was found)
        assert sum("torch.mm(v_ctrl__u" in x for x in lines) == 0
        assert data["fused_us"] > 0
    assert data["matmul_us"] > 0
    assert data["lines_us"] == pytest.approx(sum(x["us"] for x in data["lines"]))
    assert len(data["step_us_side_by_side"]) == 2


def test_step_profile_refuses_a_phase_the_model_lacks() -> None:
    with pytest.raises(SystemExit):
        step_profile.main(["--model", "dfc-ss-fixed", "--phase", "sleep", "--quick"])
