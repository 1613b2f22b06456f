"""Lowering of each op type: nonlinearities, output targets, spikes, time-varying inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_models import dfc, dfc_inputs

from neurosim.backends.torch import TorchSimulator
from neurosim.backends.torch.kernels import LEAKY_SLOPE
from neurosim.ir import (
    NONLINEARITIES,
    Integrate,
    LocalPlasticity,
    Model,
    Nonlinearity,
    OutputTarget,
    SpikeSoma,
    Variable,
)
from neurosim.testing import assert_allclose

F = torch.nn.functional
REF = {
    "linear": lambda v: v,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "logistic": torch.sigmoid,
    "softplus": F.softplus,
    "leaky_relu": lambda v: F.leaky_relu(v, LEAKY_SLOPE),
}


def _vars(n: int, **kinds: str) -> dict[str, Variable]:
    return {k.replace("_", "."): Variable(k.replace("_", "."), v, (1, n)) for k, v in kinds.items()}


@pytest.mark.parametrize("fn", NONLINEARITIES)
@pytest.mark.parametrize("fast_tanh", [True, False])
def test_nonlinearities(fn: str, fast_tanh: bool, dtype: torch.dtype) -> None:
    V = _vars(5, p_v="input", p_r="state")
    model = Model(V, [Nonlinearity("phi", src="p.v", dst="p.r", fn=fn)], [], dt=0.1)
    sim = TorchSimulator(model, dtype=dtype, fast_tanh=fast_tanh)
    v = torch.linspace(-3, 3, 20, dtype=dtype).reshape(4, 5)
    sim.reset({"p.v": v})
    assert_allclose(sim.state["p.r"], REF[fn](v.double()), dtype=dtype, msg=fn)


@pytest.mark.parametrize("inputs", [((1.0, "p.y"),), ((1.0, "p.y"), (0.5, "p.z"))])
def test_leaky_integration_step(inputs: tuple) -> None:
    """``x <- x + dt/tau (y - x)`` is torch's lerp toward the drive; a single input of
    gain 1 is lerped toward directly (one call, no copy into a scratch increment)."""
    V = _vars(5, p_x="state", p_y="input", p_z="input")
    op = Integrate("leaky", var="p.x", tau=0.5, leak=1.0, inputs=inputs)
    sim = TorchSimulator(Model(V, [], [op], dt=0.1), dtype=torch.float64, fused=False)
    g = torch.Generator().manual_seed(0)
    x0, y, z = (torch.randn(3, 5, generator=g, dtype=torch.float64) for _ in range(3))
    sim.reset({"p.y": y, "p.z": z})
    sim.state["p.x"] = x0.clone()
    sim.run(1)
    drive = y if len(inputs) == 1 else y + 0.5 * z
    assert torch.equal(sim.state["p.x"], torch.lerp(x0, drive, 0.1 / 0.5))
    assert sim._program("accumulate").calls["leaky"] == len(inputs)


def test_fast_tanh_flag_changes_the_kernel_only() -> None:
    src = {f: TorchSimulator(dfc(), fast_tanh=f).step_source for f in (True, False)}
    assert "torch.sigmoid" in src[True] and "torch.tanh" not in src[True]
    assert "torch.tanh" in src[False]


@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "given"])
def test_output_target(loss: str) -> None:
    """DFC eq. 3: r* = r - lam dL/dr (mse: 2(r-y)/n; cross-entropy: softmax(r) - y)."""
    V = _vars(4, o_r="input", o_y="input", o_t="state")
    op = OutputTarget("tgt", output="o.r", label="o.y", out="o.t", loss=loss, lam=0.3)
    sim = TorchSimulator(Model(V, [op], [], dt=0.1), dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    r, y = (torch.randn(3, 4, generator=g, dtype=torch.float64) for _ in range(2))
    sim.reset({"o.r": r, "o.y": y})
    want = {
        "mse": r - 0.3 * 2 * (r - y) / 4,
        "cross_entropy": r - 0.3 * (torch.softmax(r, -1) - y),
        "given": y,
    }[loss]
    assert_allclose(sim.state["o.t"], want)


def test_time_varying_input_rows() -> None:
    """Step s of a run reads row s of a time-varying input; the init ops read row 0."""
    V = {
        "p.I": Variable("p.I", "input", (1, 2), time_varying=True),
        "p.x": Variable("p.x", "state", (1, 2)),
    }
    copy = Integrate("cp", var="p.x", tau=None, inputs=((1.0, "p.I"),))
    model = Model(
        V, [copy], [Integrate("cp_step", var="p.x", tau=None, inputs=((1.0, "p.I"),))], dt=0.1
    )
    I = torch.arange(24, dtype=torch.float64).reshape(6, 2, 2)
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset({"p.I": I})
    tr = sim.run(3, record=["p.x"]).traces["p.x"]
    assert_allclose(tr, torch.cat([I[:1], I[0:3]]))
    tr2 = sim.run(2, record=["p.x"]).traces["p.x"]  # continues at row 3
    assert_allclose(tr2[1:], I[3:5])
    with pytest.raises(IndexError, match="rows"):
        sim.run(5)


def test_poisson_spikes_track_the_rate() -> None:
    """Mean of the filtered Poisson train equals phi(v) (logistic: rate in [0, 1])."""
    V = _vars(50, s_v="input", s_r="state")
    op = SpikeSoma("sp", src="s.v", dst="s.r", fn="logistic", max_rate=20.0, tau_syn=0.5, seed=1)
    sim = TorchSimulator(Model(V, [], [op], dt=0.01), dtype=torch.float64)
    v = torch.linspace(-2, 2, 50, dtype=torch.float64).expand(8, 50)
    sim.reset({"s.v": v})
    tr = sim.run(4000, record=["s.r"], progress=False).traces["s.r"][1000:]
    mean = tr.mean((0, 1))
    assert float((mean - torch.sigmoid(v[0])).abs().max()) < 0.05
    with pytest.raises(NotImplementedError, match="brian2"):
        TorchSimulator(Model(V, [], [SpikeSoma("lif", src="s.v", dst="s.r", model="lif")], dt=0.1))


@pytest.mark.parametrize("init", ["rate", "spiking"])
def test_poisson_trace_starts_at_the_init_rate(init: str) -> None:
    """The trace continues from the init state (brian2 does the same): an init
    ``r = phi(v)`` (rate sweep) or an init spiking soma (no spikes, mean rate) leaves
    ``r = phi(v)``, and the first steps' mean stays there (no burn-in from 0)."""
    V = _vars(50, s_v="input", s_r="state")
    kw = dict(src="s.v", dst="s.r", fn="logistic", max_rate=20.0, tau_syn=0.5)
    init_op = (
        Nonlinearity("init_r", src="s.v", dst="s.r", fn="logistic")
        if init == "rate"
        else SpikeSoma("init_sp", seed=2, **kw)
    )
    sim = TorchSimulator(
        Model(V, [init_op], [SpikeSoma("sp", seed=1, **kw)], dt=0.01), dtype=torch.float64
    )
    v = torch.linspace(-2, 2, 50, dtype=torch.float64).expand(4000, 50)
    sim.reset({"s.v": v})
    assert_allclose(sim.state["s.r"], torch.sigmoid(v))
    tr = sim.run(5, record=["s.r"], progress=False).traces["s.r"]
    assert float((tr[1:].mean((0, 1)) - torch.sigmoid(v[0])).abs().max()) < 0.02


def test_online_last_window_applies_once_at_the_end() -> None:
    model = dfc(window="last")
    ins = dfc_inputs(3)
    acc = TorchSimulator(model, dtype=torch.float64)
    acc.reset(ins)
    dW = acc.run(30).updates
    on = TorchSimulator(model, dtype=torch.float64)
    w0 = {p: t.clone() for p, t in on.params.items()}
    on.reset(ins)
    on.run(30, plasticity="online", lr={p: 0.5 for p in w0})
    for p, d in dW.items():
        assert_allclose(on.params[p] - w0[p], 0.5 * model.dt * d, msg=p)


def test_unsafe_last_window_samples_at_its_place() -> None:
    """A 'last' rule followed by an op that changes its post: sampled in the step."""
    V = _vars(3, a_x="state", a_y="state", a_I="input")
    V["a.W"] = Variable("a.W", "parameter", (3, 3), value=np.eye(3))
    steps = [
        Integrate("x", var="a.x", tau=1.0, inputs=((1.0, "a.I"),)),
        LocalPlasticity("rule", weight="a.W", post="a.x", pre="a.I", window="last"),
        Integrate("x2", var="a.x", tau=None, inputs=((0.0, "a.I"),)),  # zeroes x afterwards
    ]
    sim = TorchSimulator(Model(V, [], steps, dt=0.1), dtype=torch.float64)
    I = torch.ones(2, 3, dtype=torch.float64)
    sim.reset({"a.I": I})
    assert "[buffer]" in sim.describe_plan()
    up = sim.run(5).updates["a.W"]
    assert_allclose(up, 0.1 * torch.ones(3, 3, dtype=torch.float64))  # x = dt*I before zeroing
