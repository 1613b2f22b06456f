"""Lowering structure: registry, scheduling order, placement, refusals."""

from __future__ import annotations

import re

import brian2 as b2
import numpy as np
import pytest
from b2_models import dfc_model, random_inputs

from neurosim.backends.brian2 import Brian2Simulator, lower
from neurosim.backends.brian2.network import build, check_schedule
from neurosim.backends.brian2.targets import device
from neurosim.ir import Integrate, Model, Op, Probe, Variable


def _scheduled(summary: str) -> list[tuple[str, int]]:
    """(object name, order) of the ``groups``-slot rows of a scheduling summary."""
    rows = []
    for line in summary.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and cells[3] == "groups" and cells[5] == "yes":
            rows.append((cells[0].split(" ")[0], int(cells[4])))
    return rows


def test_scheduling_summary_follows_ir_op_order() -> None:
    """brian2 runs one object per action, sorted by ``order`` = position in the plan,
    and the plan lists the step ops in IR order (then the init block)."""
    model = dfc_model()
    sim = Brian2Simulator(model, "numpy")
    sim.reset(random_inputs(model))
    sim.run(3, plasticity="online", lr=0.1)
    rows = _scheduled(sim.last_schedule)
    plan = sim.plan("online")
    assert [o for _, o in rows] == list(range(len(plan.actions)))
    # the op each scheduled object lowers, in schedule order
    ops = [plan.actions[o].op for _, o in rows]
    step_ops = [op for op, a in zip(ops, plan.actions, strict=True) if a.clock == "step"]
    step_ops = [op for op in dict.fromkeys(step_ops) if op != "input"]
    assert step_ops == [op.name for op in model.step_ops]
    # instantaneous transmission: h2's feedforward sum runs after h1's new rate
    names = [n for n, _ in rows]
    i_r1 = next(i for i, n in enumerate(names) if n.endswith("_h1_r"))
    i_ff2 = next(i for i, n in enumerate(names) if "summed_variable_h1_to_h2_basal__I__step" in n)
    assert i_r1 < i_ff2
    print(sim.last_schedule)


def test_init_block_runs_on_its_own_clock_after_the_step() -> None:
    plan = lower(dfc_model(), "accumulate")
    clocks = [a.clock for a in plan.actions]
    first_init = [a.op for a in plan.actions].index("zero")
    assert all(c == "init" for c in clocks[first_init:])
    # before it only the step ops, plus, on the init clock (once per sample), the hoisted
    # loop-invariant projection W1 x + b1 and the fold of the factorised W1 accumulation
    early = [a for a in plan.actions[:first_init] if a.clock == "init"]
    assert {a.name for a in early} == {
        "x_to_h1_basal_summed",
        "x_to_h1_basal_bias",
        "learn_x_to_h1_basal_fold",
    }
    assert plan.actions[0].name == "learn_x_to_h1_basal_fold"  # before the next inputs


def test_loop_invariant_projection_is_hoisted_unless_it_learns_online() -> None:
    model = dfc_model()
    hoisted = lower(model, "accumulate")
    online = lower(model, "online")
    clock = {a.name: a.clock for a in hoisted.actions}
    assert clock["x_to_h1_basal_summed"] == "init"  # W1 x computed once per sample
    assert {a.name: a.clock for a in online.actions}["x_to_h1_basal_summed"] == "step"


def test_cross_group_reads_become_linked_variables() -> None:
    plan = lower(dfc_model(), None)
    assert plan.groups["ctrl"].links["out__r"] == ("out", "out__r")
    assert "h1__v" in plan.groups["h1"].variables


def test_registry_refuses_unknown_op() -> None:
    class Mystery(Op):
        @property
        def reads(self) -> tuple[str, ...]:
            return ()

        @property
        def writes(self) -> tuple[str, ...]:
            return ()

    V = {"a.x": Variable("a.x", "state", (1, 2))}
    model = Model(V, [], [Mystery("m")], 0.1)
    with pytest.raises(NotImplementedError, match="Mystery"):
        lower(model)


def test_refusals_name_the_fix() -> None:
    model = dfc_model()
    with pytest.raises(ValueError, match="target='gpu'"):
        Brian2Simulator(model, "gpu")
    sim = Brian2Simulator(model, "numpy", batch_size=2)
    sim.reset(random_inputs(model, batch=2))
    with pytest.raises(ValueError, match="batch_size=1"):
        sim.run(5, plasticity="online", lr=0.1)
    sim1 = Brian2Simulator(model, "numpy")
    with pytest.raises(RuntimeError, match="reset"):
        sim1.run(5)
    sim1.reset({"x.r": np.zeros((1, 15))})
    with pytest.raises(ValueError, match="ctrl.label"):
        sim1.run(5)
    sim1.reset(random_inputs(model))
    with pytest.raises(ValueError, match="record='nope' is not a recordable variable"):
        sim1.run(5, record=["nope"])
    with pytest.raises(ValueError, match="time_unit"):
        Brian2Simulator(model, params={"time_unit": 3.0})
    noisy_inst = Model(
        {"a.x": Variable("a.x", "state", (1, 1))},
        [],
        [Integrate("i", var="a.x", noise_sigma=0.1)],
        0.1,
        [Probe("a.x")],
    )
    with pytest.raises(ValueError, match="instantaneous"):
        lower(noisy_inst)


def test_plan_describe_is_readable() -> None:
    text = lower(dfc_model(), "online").describe()
    assert re.search(r"\[step\] h1\.h1_v: h1__v = h1__v \+ ", text)
    assert "lr_dt" in text


def _built(plasticity: str | None):
    model = dfc_model()
    plan = lower(model, plasticity)
    params = {v.name: v.value for v in model.of_kind("parameter")}
    inputs = {k: v[None] for k, v in random_inputs(model).items()}
    kwargs = dict(dt=model.dt, batch=1, T=4, n_samples=1, inputs=inputs, time_varying=set(),
                  params=params, record={}, lr=0.1, time_unit=b2.second)  # fmt: skip
    built = build(plan, **kwargs)
    built.net.run(0 * b2.second, namespace=built.namespace)  # marks the objects as used
    return plan, built


def test_check_schedule_catches_an_object_out_of_order() -> None:
    with device("numpy"):
        plan, built = _built("online")
        check_schedule(built)  # as built: every action at its plan position
        assert len(built.schedule) == len(plan.actions)
        moved = next(o for o in built.net.sorted_objects if o.name == built.schedule[5])
        moved.order = len(plan.actions) + 1
        with pytest.raises(RuntimeError, match=r"position 5.*order = its plan position"):
            check_schedule(built)


def test_online_learning_is_a_clock_driven_synaptic_ode() -> None:
    """DFC eq. 5 online: ``dw/dt = lr*(d_post*r_pre - decay*w) (clock-driven)`` on the
    Synapses, its state updater scheduled at the rule's position; accumulating runs
    keep ``w`` constant (a parameter, no state updater)."""
    with device("numpy"):
        plan, built = _built("online")
        syn = built.synapses["syn_x_to_h1_basal__W"]
        eq = syn.equations["w"]
        assert eq.type == "differential equation" and "clock-driven" in eq.flags
        assert "lp_learn_x_to_h1_basal_post" in str(eq.expr)
        pos = [a.name for a in plan.actions].index("learn_x_to_h1_basal_w_ode")
        assert syn.state_updater.active and syn.state_updater.order == pos
        assert built.groups["h1"].equations["x_to_h1_basal__b"].type == "differential equation"
        plan, built = _built("accumulate")
        syn = built.synapses["syn_x_to_h1_basal__W"]
        assert syn.equations["w"].type == "parameter" and syn.state_updater is None
