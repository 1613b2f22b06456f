"""Packaging: circuits/ and models/ are imported only as neurosim.circuits / neurosim.models.

A user's own project very often has ``models/`` or ``circuits/`` packages; with the
script's folder first on ``sys.path`` they must not shadow neurosim's.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

USER_SCRIPT = textwrap.dedent("""
    import models, circuits                      # the user's own packages
    assert models.OWNER == circuits.OWNER == "user", (models, circuits)

    import neurosim
    from neurosim.circuits import PIController
    from neurosim.cli.main import main
    from neurosim.models import registry

    net = neurosim.HierarchyBuilder(
        layer_sizes=[3, 2], nonlinearities=["linear"], controller=PIController(k_p=1.0)
    ).build()
    neurosim.build(net, dt=0.1)
    assert "bp" in registry.available()
    rc = main(["train", "--model", "bp", "--dataset", "student-teacher", "--epochs", "1",
               "--out", "run", "--subset", "64", "--no-progress"])
    assert rc in (0, None), rc
    assert models.OWNER == "user"
    print("ok")
""")


def test_user_folder_with_own_models_and_circuits(tmp_path: Path) -> None:
    """A script in a folder with its own ``models/`` and ``circuits/`` uses neurosim fully."""
    for name in ("models", "circuits"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text('OWNER = "user"\n')
        (tmp_path / name / "base.py").write_text("")
    script = tmp_path / "my_experiment.py"
    script.write_text(USER_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("ok")


def test_no_top_level_circuits_or_models_imports() -> None:
    """No module of the project imports ``circuits`` or ``models`` as top-level names."""
    offenders = []
    for folder in ("neurosim", "circuits", "models", "examples", "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                words = line.split()
                if (
                    len(words) >= 2
                    and words[0] in ("import", "from")
                    and words[1].split(".")[0] in ("circuits", "models")
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.slow
def test_wheel_layout(tmp_path: Path) -> None:
    """The built wheel holds neurosim/circuits and neurosim/models (with the shipped
    configs) and no top-level circuits/ or models/."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("neurosim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"neurosim", wheel.name.split("-py")[0] + ".dist-info"}, tops
    assert "neurosim/circuits/pyramidal.py" in names
    assert "neurosim/models/registry.py" in names
    assert any(n.startswith("neurosim/models/configs/mnist/") for n in names)
