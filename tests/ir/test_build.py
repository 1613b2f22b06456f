"""neurosim.build: exact op sequences (docs/design.md), registry, seeds, printing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import neurosim
from neurosim.circuits import PIController
from neurosim.core.population import Node
from neurosim.ir import Copy, LocalPlasticity

ROOT = Path(__file__).resolve().parents[2]


def _layer(i: int, pre: str, snapshot: bool = False) -> list[str]:
    head = [f"Copy:snapshot_l{i}"] if snapshot else []
    return head + [
        f"DenseProjection:W{i}",
        f"Integrate:l{i}_basal",
        f"DenseProjection:Q{i}",
        f"Integrate:l{i}_apical",
        f"Integrate:l{i}_soma",
        f"Nonlinearity:l{i}_rate",
    ]


def _seq(ops) -> list[str]:
    return [f"{type(op).__name__}:{op.name}" for op in ops]


INIT = [
    "DenseProjection:init_W1",
    "Integrate:init_l1_basal",
    "Integrate:init_l1_soma",
    "Nonlinearity:init_l1_rate",
    "DenseProjection:init_W2",
    "Integrate:init_l2_basal",
    "Integrate:init_l2_soma",
    "Nonlinearity:init_l2_rate",
    "OutputTarget:ctrl_target",
]
CTRL = ["Integrate:ctrl_integral", "Integrate:ctrl_output"]


def test_forward_phase_proactive_instantaneous_exact_sequence():
    net = neurosim.HierarchyBuilder([3, 4, 2], plasticity="forward").build()
    m = neurosim.build(net, dt=0.02)
    assert _seq(m.init_ops) == INIT
    assert _seq(m.step_ops) == (
        ["Integrate:ctrl_error"]
        + CTRL
        + _layer(1, "x")
        + _layer(2, "l1")
        + ["LocalPlasticity:learn_W1", "LocalPlasticity:learn_W2"]
    )
    learn = m.step_ops[-2]
    assert (learn.post, learn.post_baseline, learn.pre, learn.fn, learn.bias, learn.window) == (
        "l1.v",
        "l1.v_basal",
        "x.r",
        "tanh",
        "W1.b",
        "all",
    )
    assert m.step_ops[3].pre == "x.r" and m.step_ops[9].pre == "l1.r"


def test_sleep_phase_non_proactive_exact_sequence():
    ctrl = PIController(loss="given", target_from="output", proactive=False)
    net = neurosim.HierarchyBuilder(
        [3, 4, 2], controller=ctrl, plasticity="feedback", sigma=0.01, tau_apical=0.3, beta=0.1
    ).build()
    m = neurosim.build(net, dt=0.002)
    assert _seq(m.init_ops) == INIT
    assert m.init_ops[-1].loss == "given" and m.init_ops[-1].label == "l2.r"
    assert _seq(m.step_ops) == (
        ["Integrate:ctrl_error"]
        + _layer(1, "x", True)
        + _layer(2, "l1", True)
        + CTRL
        + ["LocalPlasticity:learn_Q1", "LocalPlasticity:learn_Q2"]
    )
    snap, rule = m.step_ops[1], m.step_ops[-2]
    assert isinstance(snap, Copy) and (snap.src, snap.dst) == ("l1.v_apical", "l1.v_apical_prev")
    assert isinstance(rule, LocalPlasticity)
    assert (rule.post, rule.pre, rule.scale, rule.decay, rule.window) == (
        "l1.v_apical_prev",
        "ctrl.u",
        -1.0,
        0.1,
        "steps",
    )
    assert all(op.noise_sigma == 0.01 for op in m.step_ops if op.name.endswith("_apical"))


def test_delayed_transmission_descending_layers():
    net = neurosim.HierarchyBuilder([3, 4, 4, 2], transmission="delayed").build()
    m = neurosim.build(net)
    rates = [op.name for op in m.step_ops if op.name.endswith("_rate")]
    assert rates == ["l3_rate", "l2_rate", "l1_rate"]
    assert m.meta["order"] == ("l3", "l2", "l1")
    assert [op.name for op in m.init_ops if op.name.endswith("_rate")] == [
        "init_l1_rate",
        "init_l2_rate",
        "init_l3_rate",
    ]


def test_loop_invariant_input_drive():
    m = neurosim.build(neurosim.HierarchyBuilder([3, 4, 2]).build())
    assert [op.name for op in m.loop_invariant_ops()] == ["W1", "l1_basal"]


def _static_input_model(step_ops: list, extra: dict | None = None) -> neurosim.ir.Model:
    from neurosim.ir import Variable

    variables = {
        "x": Variable("x", "input", (1, 3)),
        "W": Variable("W", "parameter", (2, 3), value=np.ones((2, 3))),
        "a": Variable("a", "current", (1, 2)),
        "s": Variable("s", "state", (1, 2)),
        **(extra or {}),
    }
    return neurosim.ir.Model(variables, [], step_ops, dt=0.1)


def test_loop_invariance_excludes_stateful_and_twice_written_ops():
    from neurosim.ir import DenseProjection, Integrate, SpikeSoma

    drive = DenseProjection("W", weight="W", pre="x", out="a")
    # a stateful op on static input (random spikes) still runs every step
    spikes = SpikeSoma("spk", src="a", dst="s", model="poisson", seed=1)
    assert [op.name for op in _static_input_model([drive, spikes]).loop_invariant_ops()] == ["W"]
    # an instantaneous compartment driven by a hoisted current is invariant ...
    inst = Integrate("inst", var="s", inputs=((1.0, "a"),))
    assert [op.name for op in _static_input_model([drive, inst]).loop_invariant_ops()] == [
        "W",
        "inst",
    ]
    # ... unless noisy, or another step op also writes its output
    noisy = Integrate("inst", var="s", inputs=((1.0, "a"),), tau=1.0, noise_sigma=0.1)
    assert noisy.stateful and not inst.stateful
    overwrite = DenseProjection("W2", weight="W", pre="x", out="s")
    m = _static_input_model([drive, inst, overwrite])
    assert [op.name for op in m.loop_invariant_ops()] == ["W"]


def test_unregistered_type_names_the_fix():
    @dataclass(frozen=True)
    class Blob(Node):
        @property
        def targets(self) -> tuple[str, ...]:
            return ("soma",)

    net = neurosim.Network("n")
    net.add(neurosim.Input("x", 2), Blob("b", 2), neurosim.Projection("x", "b"))
    with pytest.raises(TypeError, match="no lowering registered for Blob.*register"):
        neurosim.build(net)


def test_weights_deterministic_and_name_seeded():
    a = neurosim.build(neurosim.HierarchyBuilder([3, 4, 2], seed=9).build())
    b = neurosim.build(neurosim.HierarchyBuilder([3, 4, 2], seed=9).build())
    assert np.array_equal(a.variables["W1.W"].value, b.variables["W1.W"].value)
    assert not np.array_equal(a.variables["W1.W"].value[:2, :2], a.variables["Q1.W"].value[:2])


def test_model_prints_readably():
    m = neurosim.build(neurosim.HierarchyBuilder([3, 4, 2], probes=["l1.v", "l1"]).build())
    text = str(m)
    for line in (
        "ctrl.e <- (1*ctrl.target + -1*l2.r)",
        "W1.I <- W1.W @ x.r + W1.b",
        "l1.v <- l1.v + dt/0.2*(-1*l1.v + 1*l1.v_basal + 1*l1.v_apical)",
        "probes: l1.v/1, l1.r/1",
    ):
        assert line in text


def test_frontend_imports_without_torch_and_brian2():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None
        sys.modules["brian2"] = None
        import neurosim.core, neurosim.ir, neurosim.graph, circuits, neurosim
        net = neurosim.HierarchyBuilder([3, 4, 2], feedback="multilayer").build()
        print(len(neurosim.build(net).step_ops))
        assert "torch" not in [m.split(".")[0] for m in sys.modules if sys.modules[m]]
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 10


@pytest.mark.parametrize(
    "first",
    [
        "from neurosim.circuits import PIController",
        "import neurosim.circuits.autapse",
        "import neurosim.models.registry",
        "import neurosim.core",
    ],
)
def test_packages_import_in_any_order(first):
    """``neurosim.circuits`` needs ``neurosim.core`` and ``neurosim`` re-exports circuits:
    whichever a script imports first, both end up complete."""
    code = (
        f"{first}\nimport neurosim, neurosim.circuits as c\nprint(c.PIController, neurosim.build)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


@pytest.mark.example
def test_example_build_hierarchy(tmp_path):
    png, yml = tmp_path / "figures" / "g.png", tmp_path / "c.yaml"  # out dir is created
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "build_hierarchy.py"),
            "--out",
            str(png),
            "--sizes",
            "6",
            "5",
            "3",
            "--feedback",
            "layerwise",
            "--sleep",
            "--yaml",
            str(yml),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "snapshot" not in out.stdout or "l1.v_apical_prev <- l1.v_apical" in out.stdout
    assert "dQ1.W += -1 * <l1.v_apical_prev l2.r^T>_steps" in out.stdout
    assert png.stat().st_size > 1000
    assert neurosim.load_circuit(yml)[1] == {"dt": 0.02}
