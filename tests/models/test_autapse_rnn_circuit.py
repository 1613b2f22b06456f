"""The autapse-rule RNN as a circuit: the trace is eq. 8's filter, the online rule is
eqs. 9-10, and torch, brian2 (numpy target) and the numpy reference interpreter of the
IR agree on a noise-free run with online learning (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurosim
from neurosim.backends.brian2 import Brian2Simulator
from neurosim.backends.torch import TorchSimulator
from neurosim.circuits import AutapseIntegrator, AutapseRNNBuilder
from neurosim.core.errors import ValidationError
from neurosim.core.init import Given, Normal
from neurosim.ir import ErrorSignal, reference
from neurosim.testing import assert_allclose

RECORD = ["h.r", "k.x", "e.r", "e.v_prediction"]


def small_circuit(**kwargs) -> neurosim.ir.Model:
    """N = 3 hidden units, random U and V, everything learning, with a gate."""
    opts = dict(
        hidden_size=3,
        tau=4.0,
        eta=0.2,
        input_init=Normal(std=0.8),
        readout_init=Normal(std=0.8),
        recurrent_init=Normal(std=0.5),
        recurrent_bias=True,
        readout_eta=0.1,
        gate=True,
        seed=3,
    )
    return neurosim.build(AutapseRNNBuilder(**{**opts, **kwargs}).build(), dt=1.0)


def sequence(steps: int, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (steps + 1, batch, 2))
    gate = (rng.uniform(size=(steps, batch, 2)) > 0.2).astype(float)
    return {"x.r": x[:-1], "y.r": x[1:], "g.r": gate}


def test_step_order_and_ops():
    model = small_circuit()
    names = [op.name for op in model.step_ops]
    # the trace reads o(t-1) (before the layer), the rule comes after the error
    assert names.index("k_x") < names.index("h_rate") < names.index("e_error")
    assert names.index("e_error") < names.index("fb_soma") < names.index("learn_R")
    err = next(op for op in model.step_ops if isinstance(op, ErrorSignal))
    assert err.reads == ("e.v_prediction", "e.v_target", "e.v_gate")
    rule = next(op for op in model.plasticity_ops if op.weight == "R.W")
    assert (rule.post, rule.pre, rule.scale, rule.bias) == ("fb.r", "k.x", -0.2, "R.b")


def test_trace_is_the_discrete_low_pass_filter_of_eq_8(one_thread):
    """k(t) = sum_{s<t} (1/tau) (1 - 1/tau)^(t-1-s) o(s): eq. 8 with dt = 1."""
    tau, steps = 6.0, 80
    model = small_circuit(tau=tau, eta=None, recurrent_bias=False, readout_eta=None)
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(sequence(steps, batch=2))
    res = sim.run(steps, record=["h.r", "k.x"], plasticity="off")
    o, k = res.traces["h.r"].numpy(), res.traces["k.x"].numpy()
    decay = 1.0 - 1.0 / tau
    expected = np.zeros_like(k)
    for t in range(1, steps + 1):
        s = np.arange(t)
        expected[t] = np.einsum("s,sbn->bn", decay ** (t - 1 - s) / tau, o[:t])
    assert np.abs(k).max() > 0.1
    assert_allclose(k, expected, rtol_scale=4.0)
    # and the autapse integrator alone relaxes to its input with time constant tau
    node = AutapseIntegrator("k", 2, w=1.0 - 1.0 / tau, tau=1.0)
    assert node.leak == pytest.approx(1.0 / tau)


def test_online_learning_agrees_on_torch_brian2_and_reference():
    """Online autapse rule (+ bias, readout delta rule, gate) over 200 steps."""
    model = small_circuit()
    steps = 200
    inputs = sequence(steps)
    ref, updates, params = reference.simulate(model, inputs, steps, "online", 1.0)
    sim = TorchSimulator(model, dtype=torch.float64, threads=1)
    sim.reset(inputs)
    res = sim.run(steps, record=RECORD, plasticity="online", lr=1.0)
    b2 = Brian2Simulator(model, "numpy")
    b2.reset(inputs)
    res2 = b2.run(steps, record=RECORD, plasticity="online", lr=1.0)
    learnt = ("R.W", "R.b", "V.W", "V.b")
    for p in learnt:
        assert np.abs(updates[p]).max() > 1e-3, p  # the run really learnt
        assert_allclose(res.updates[p], updates[p], msg=f"torch {p}")
        assert_allclose(res2.updates[p], updates[p], msg=f"brian2 {p}")
        assert_allclose(sim.params[p], params[p], msg=f"torch final {p}")
        assert_allclose(b2.parameters[p], params[p], msg=f"brian2 final {p}")
    for var in RECORD:
        assert_allclose(res.traces[var], ref[var], msg=f"torch {var}")
        assert_allclose(res2.traces[var], ref[var], msg=f"brian2 {var}")


def test_bad_input_names_the_object():
    with pytest.raises(ValidationError, match=r"AutapseRNNBuilder.*tau=0"):
        AutapseRNNBuilder(tau=0)
    with pytest.raises(ValidationError, match=r"AutapseRNNBuilder.*tau=-2"):
        AutapseRNNBuilder(tau=-2.0)
    with pytest.raises(ValidationError, match=r"Projection 'B'.*wrong shape.*\(2, 2\)"):
        AutapseRNNBuilder(feedback_init=Given(np.ones((3, 2)))).build()
    with pytest.raises(ValidationError, match=r"AutapseIntegrator 'k'.*tau"):
        AutapseIntegrator("k", 2, tau=0.0)


def test_error_driven_rule_checks_its_nodes():
    from neurosim.core.rules import ErrorDrivenRule

    net = neurosim.RecurrentLayerBuilder(
        input_size=2, hidden_size=3, recurrent_rule=ErrorDrivenRule(error="nowhere", eta=0.1)
    ).build()
    with pytest.raises(ValidationError, match=r"Projection 'R'.*rule.error='nowhere'"):
        neurosim.build(net, dt=1.0)
    net = neurosim.RecurrentLayerBuilder(
        input_size=2, hidden_size=3, recurrent_rule=ErrorDrivenRule(error="x", eta=0.1)
    ).build()
    with pytest.raises(ValidationError, match=r"rule.error='x'.*2 units.*post side has 3"):
        neurosim.build(net, dt=1.0)
    with pytest.raises(ValidationError, match=r"ErrorDrivenRule.*eta"):
        ErrorDrivenRule(error="e", eta=0.0)


def test_circuit_file_round_trip(tmp_path):
    net = AutapseRNNBuilder(
        hidden_size=3, recurrent_bias=True, readout_eta=0.1, gate=True, input_init=Normal(std=0.5)
    ).build()
    neurosim.save_circuit(net, tmp_path / "autapse_rnn.yaml")
    loaded = neurosim.load_circuit(tmp_path / "autapse_rnn.yaml")
    loaded = loaded[0] if isinstance(loaded, tuple) else loaded
    a, b = neurosim.build(net, dt=1.0), neurosim.build(loaded, dt=1.0)
    assert str(a) == str(b)
    for var in a.of_kind("parameter"):
        np.testing.assert_array_equal(var.value, b.variables[var.name].value)
