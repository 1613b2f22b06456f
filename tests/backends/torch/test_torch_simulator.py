"""TorchSimulator behaviour: batching, dtypes, devices, determinism, plasticity modes."""

from __future__ import annotations

import pytest
import torch
from torch_models import SIZES, dfc, dfc_inputs

import neurosim.backends.torch.runner as runmod
from neurosim.backends.torch import TorchSimulator
from neurosim.testing import assert_allclose

T = 60


def _run(model, inputs, dtype=torch.float64, device="cpu", steps=T, **kw):
    sim = TorchSimulator(model, device=device, dtype=dtype)
    sim.reset(inputs)
    return sim, sim.run(steps, record=["h1.v", "ctrl.u"], **kw)


def test_batch_invariance(device: str) -> None:
    """A batch of 6 equals each sample simulated alone (traces and per-sample updates)."""
    model = dfc(sigma=0.0)
    ins = dfc_inputs(6, device=device)
    _, full = _run(model, ins, device=device)
    dW = torch.zeros_like(full.updates["h1_to_h2_basal.W"])
    for b in range(6):
        _, one = _run(model, {k: v[b : b + 1] for k, v in ins.items()}, device=device)
        for var in ("h1.v", "ctrl.u", "h3.r"):
            assert_allclose(full.traces[var][:, b : b + 1], one.traces[var], msg=var)
        dW += one.updates["h1_to_h2_basal.W"] / 6
    assert_allclose(full.updates["h1_to_h2_basal.W"], dW)


def test_float32_agrees_with_float64(device: str) -> None:
    model = dfc()
    _, r64 = _run(model, dfc_inputs(4, torch.float64, device), torch.float64, device)
    _, r32 = _run(model, dfc_inputs(4, torch.float32, device), torch.float32, device)
    assert r32.traces["h1.v"].dtype == torch.float32
    for var in ("h1.v", "ctrl.u"):
        assert_allclose(r32.traces[var], r64.traces[var], dtype=torch.float32, msg=var)
    for p, u in r64.updates.items():
        assert_allclose(r32.updates[p], u, dtype=torch.float32, rtol_scale=4, msg=p)


def test_determinism_with_noise(device: str) -> None:
    model = dfc(sigma=0.1)
    a = _run(model, dfc_inputs(3, device=device), device=device)[1]
    b = _run(model, dfc_inputs(3, device=device), device=device)[1]
    c = _run(dfc(sigma=0.0), dfc_inputs(3, device=device), device=device)[1]
    assert torch.equal(a.traces["h1.v"], b.traces["h1.v"])
    assert not torch.allclose(a.traces["h1.v"], c.traces["h1.v"])  # noise does act


def test_manual_seed_changes_noise() -> None:
    model = dfc(sigma=0.1)
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(dfc_inputs(2))
    a = sim.run(10, record=["h1.v_apical"]).traces["h1.v_apical"]
    sim.manual_seed(7)
    sim.reset(dfc_inputs(2))
    b = sim.run(10, record=["h1.v_apical"]).traces["h1.v_apical"]
    assert not torch.allclose(a, b)


def test_hoisting_does_not_change_results() -> None:
    model = dfc()
    ins = dfc_inputs(3)
    sims = [TorchSimulator(model, dtype=torch.float64, hoist=h) for h in (True, False)]
    res = []
    for s in sims:
        s.reset(ins)
        res.append(s.run(T, record=["h2.v", "h1.v"]))
    assert "x_to_h1_basal.W @ x.r" in sims[0].describe_plan().split("step (")[0]
    assert "(none)" in sims[1].describe_plan()
    for k in ("h2.v", "h1.v"):
        assert_allclose(res[0].traces[k], res[1].traces[k])
    for p in res[1].updates:
        assert_allclose(res[0].updates[p], res[1].updates[p], msg=p)


def _naive_updates(model, inputs, steps):
    """Per-step outer products of the forward rule from a step-by-step recording."""
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(inputs)
    rec = [f"h{i}.{c}" for i in (1, 2, 3) for c in ("v", "v_basal", "r")]
    tr = sim.run(steps, record=rec, plasticity="off").traces
    B = inputs["x.r"].shape[0]
    out = {}
    for i, fn in zip((1, 2, 3), ("tanh", "tanh", "linear"), strict=True):
        f = torch.tanh if fn == "tanh" else (lambda z: z)
        pre_name = "x" if i == 1 else f"h{i - 1}"
        dW, db = 0.0, 0.0
        for k in range(steps + 1):
            delta = f(tr[f"h{i}.v"][k]) - f(tr[f"h{i}.v_basal"][k])
            if k == 0:  # v_basal row 0 of the hoisted layer is W x + b: use the init sweep
                delta = torch.zeros_like(delta)
            pre = inputs["x.r"] if i == 1 else tr[f"h{i - 1}.r"][k]
            for b in range(B):
                dW = dW + torch.outer(delta[b], pre[b])
                db = db + delta[b]
        out[f"{pre_name}_to_h{i}_basal.W"] = dW / (B * (steps + 1))
        out[f"{pre_name}_to_h{i}_basal.b"] = db / (B * (steps + 1))
    return out


@pytest.mark.parametrize("chunk_bytes", [runmod.CHUNK_BYTES, 3000])
def test_updates_match_naive_outer_products(
    monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    """Chunked matmul accumulation (also with chunks of a few steps) equals the sum of
    per-step, per-sample outer products."""
    monkeypatch.setattr(runmod, "CHUNK_BYTES", chunk_bytes)
    model, ins = dfc(), dfc_inputs(3)
    _, res = _run(model, ins, steps=25)
    for p, u in _naive_updates(model, ins, 25).items():
        assert_allclose(res.updates[p], u, msg=p)


def test_online_matches_accumulate_for_small_lr() -> None:
    """Online W += lr dt dW_k over N samples ~= lr dt N * accumulated mean (first order)."""
    model, ins, lr = dfc(), dfc_inputs(4), 1e-4
    sim_a, acc = _run(model, ins)
    sim_o = TorchSimulator(model, dtype=torch.float64)
    w0 = {p: t.clone() for p, t in sim_o.params.items()}
    sim_o.reset(ins)
    on = sim_o.run(T, plasticity="online", lr=lr)
    assert "[online]" in sim_o.describe_plan()
    for p, dW in acc.updates.items():
        expected = lr * model.dt * (T + 1) * dW
        change = sim_o.params[p] - w0[p]
        assert_allclose(on.updates[p], change)
        err = (change - expected).norm() / expected.norm()
        assert err < 1e-3, (p, float(err))


def test_online_shares_external_parameters() -> None:
    model = dfc()
    W = torch.nn.Parameter(torch.as_tensor(model.variables["x_to_h1_basal.W"].value))
    sim = TorchSimulator(model, dtype=torch.float64, params={"x_to_h1_basal.W": W})
    sim.reset(dfc_inputs(2))
    before = W.detach().clone()
    sim.run(10, plasticity="online", lr=0.1)
    assert sim.params["x_to_h1_basal.W"] is W
    assert not torch.equal(W.detach(), before)


def test_traces_probes_and_steps() -> None:
    sim, res = _run(dfc(), dfc_inputs(2), steps=10)
    assert res.steps == 10
    assert res.traces["h1.v"].shape == (11, 2, SIZES[1])
    assert "h3.r" in res.traces  # the model's probe
    assert "torch.addmm" in sim.step_source


def test_run_continues_and_step() -> None:
    model, ins = dfc(), dfc_inputs(2)
    _, whole = _run(model, ins, steps=20, plasticity="off")
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(ins)
    sim.run(10, plasticity="off")
    for _ in range(5):
        sim.step()
    rest = sim.run(5, record=["h1.v"], plasticity="off")
    assert_allclose(rest.traces["h1.v"][-1], whole.traces["h1.v"][-1])


def test_state_is_writable() -> None:
    sim = TorchSimulator(dfc(), dtype=torch.float64)
    sim.reset(dfc_inputs(2))
    sim.state["h1.v_apical"] = torch.ones(2, SIZES[1], dtype=torch.float64)
    res = sim.run(0, record=["h1.v_apical"], plasticity="off")
    assert torch.equal(res.traces["h1.v_apical"][0], torch.ones(2, SIZES[1], dtype=torch.float64))
    with pytest.raises(ValueError, match="h1.v"):
        sim.state["h1.v"] = torch.zeros(3, SIZES[1])


def test_run_until_steady_reports_per_sample_steps() -> None:
    sim = TorchSimulator(dfc(alpha=0.1, k_p=1.0), dtype=torch.float64)
    sim.reset(dfc_inputs(3))
    res = sim.run_until_steady(tol=1e-9, max_steps=20000, check_every=50, plasticity="off")
    assert res.converged_at is not None and (res.converged_at > 0).all()
    assert res.steps == int(res.converged_at.max()) < 20000
    tail = sim.run(1, record=["h1.v"], plasticity="off").traces["h1.v"]
    assert (tail[1] - tail[0]).abs().max() < 1e-9


def test_errors_name_the_problem() -> None:
    model = dfc()
    with pytest.raises(KeyError, match="nope"):
        TorchSimulator(model, params={"nope": torch.zeros(1)})
    with pytest.raises(ValueError, match="float32"):
        TorchSimulator(
            model, params={"x_to_h1_basal.W": torch.zeros(SIZES[1], SIZES[0])}, dtype=torch.float64
        )
    sim = TorchSimulator(model)
    with pytest.raises(RuntimeError, match="reset"):
        sim.run(3)
    with pytest.raises(ValueError, match="x.r"):
        sim.reset({"x.r": torch.zeros(2, 5), "ctrl.label": torch.zeros(2, SIZES[-1])})
    sim.reset(dfc_inputs(2, torch.float32))
    with pytest.raises(ValueError, match="plasticity"):
        sim.run(3, plasticity="sometimes")


def test_threads_option_restores_setting() -> None:
    model, ins = dfc(), dfc_inputs(2)
    before = torch.get_num_threads()
    sim = TorchSimulator(model, dtype=torch.float64, threads=1)
    sim.reset(ins)
    a = sim.run(10, record=["h1.v"]).traces["h1.v"]
    assert torch.get_num_threads() == before
    _, b = _run(model, ins, steps=10)
    assert_allclose(a, b.traces["h1.v"])


def test_shard_workers_use_one_intra_op_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker thread starts with the process default OpenMP/MKL thread count (all
    cores), whatever the calling thread set: every shard must set one thread itself,
    on its own thread, or the shards' matmuls oversubscribe the CPU."""
    import threading

    calls: list[tuple[str, int]] = []
    real = torch.set_num_threads

    def spy(n: int) -> None:
        calls.append((threading.current_thread().name, n))
        real(n)

    monkeypatch.setattr(runmod, "MIN_SHARD_ROWS", 2)
    before = torch.get_num_threads()
    sim = TorchSimulator(dfc(), dtype=torch.float64, threads=2)
    sim.reset(dfc_inputs(4))
    monkeypatch.setattr(torch, "set_num_threads", spy)
    assert sim.run(5).shards == 2
    on_workers = [n for name, n in calls if name.startswith("neurosim-shard")]
    assert len(on_workers) >= 2 and set(on_workers) == {1}
    assert torch.get_num_threads() == before


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    sim = TorchSimulator(dfc(), dtype=torch.float64)
    sim.reset(dfc_inputs(2))
    sim.run(400, progress=True)
    assert "step" in capsys.readouterr().err
    sim.run(400, progress=False)
    assert capsys.readouterr().err == ""


def test_simulators_copy_the_ir_initial_weights() -> None:
    """Online plasticity changes the simulator's parameters, never ``Variable.value``:
    a second simulator built from the same IR model starts from the same weights."""
    model, ins = dfc(), dfc_inputs(2)
    w = "h1_to_h2_basal.W"
    initial = model.variables[w].value.copy()
    first = TorchSimulator(model, dtype=torch.float64)
    first.reset(ins)
    first.run(10, plasticity="online", lr=0.5)
    assert not torch.equal(first.params[w], torch.as_tensor(initial))
    assert (model.variables[w].value == initial).all()
    second = TorchSimulator(model, dtype=torch.float64)
    assert torch.equal(second.params[w], torch.as_tensor(initial))


def test_rng_state_round_trip_continues_the_noise() -> None:
    sim = TorchSimulator(dfc(sigma=0.1), dtype=torch.float64)
    sim.reset(dfc_inputs(2))
    sim.run(5)
    saved = sim.rng_state()
    assert all(t.dtype == torch.uint8 for t in saved.values()) and saved
    runs = []
    for _ in range(2):
        sim.set_rng_state(saved)
        sim.reset(dfc_inputs(2))
        runs.append(sim.run(7, record=["h1.v_apical"]).traces["h1.v_apical"])
    assert torch.equal(runs[0], runs[1])
    with pytest.raises(KeyError, match="generators"):
        sim.set_rng_state({})


@pytest.mark.parametrize("sigma", [0.0, 0.1])
def test_shards_and_noise_segments_do_not_change_results(
    monkeypatch: pytest.MonkeyPatch, sigma: float
) -> None:
    """Shards on worker threads, noise drawn ahead in segments of a few steps and small
    plasticity chunks give the run of one program drawing its noise step by step
    (rows bit for bit here; updates up to the order of the sums over shards)."""
    model, ins = dfc(sigma=sigma), dfc_inputs(6)
    rec = ["h1.v", "h3.r", "ctrl.u"]
    ref_sim = TorchSimulator(model, dtype=torch.float64, threads=1)
    ref_sim.reset(ins)
    ref = ref_sim.run(T, record=rec)
    monkeypatch.setattr(runmod, "MIN_SHARD_ROWS", 2)
    monkeypatch.setattr(runmod, "NOISE_BYTES", 3 * 6 * 10 * 8)  # 3-step segments
    monkeypatch.setattr(runmod, "CHUNK_BYTES", 3000)
    sim = TorchSimulator(model, dtype=torch.float64, threads=3)
    sim.reset(ins)
    res = sim.run(T, record=rec)
    assert res.shards == 3 and ref.shards == 1
    for v in rec:
        assert_allclose(res.traces[v], ref.traces[v], msg=v)
        assert res.traces[v].shape == ref.traces[v].shape
    for p, u in ref.updates.items():
        assert_allclose(res.updates[p], u, msg=p)
    for v in ("h2.v", "ctrl.u"):  # the simulator's state is the shards' state
        assert_allclose(sim.state[v], ref_sim.state[v], msg=v)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bulk_normals_are_the_stream_of_per_step_draws(dtype: torch.dtype) -> None:
    """runner.Noise draws a segment of steps in one call when batch * n is a multiple
    of 16: torch fills normals 16 at a time from consecutive uniforms, so the numbers
    equal those of one call per step (the stream, exact resume and the reference-loop
    tests rely on it)."""
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    bulk = torch.randn((7, 4, 12), generator=g1, dtype=dtype)
    steps = torch.stack([torch.randn((4, 12), generator=g2, dtype=dtype) for _ in range(7)])
    assert torch.equal(bulk, steps)


def test_fused_kernels_read_float32_normals_as_drawn() -> None:
    """A float64 fast-noise run of the fused step gives the eager step's result (which
    widens the same float32 normals) to rounding."""
    model, ins = dfc(sigma=0.1), dfc_inputs(8)
    runs = {}
    for fused in (False, True):
        sim = TorchSimulator(model, dtype=torch.float64, fused=fused, threads=1)
        sim.reset(ins)
        runs[fused] = sim.run(12, record=["h1.v_apical", "ctrl.u"])
    if not TorchSimulator(model, dtype=torch.float64).fused:
        pytest.skip("no C compiler: the fused kernels are not built")
    for v in ("h1.v_apical", "ctrl.u"):
        assert_allclose(runs[True].traces[v], runs[False].traces[v], msg=v)
    for p, u in runs[False].updates.items():
        assert_allclose(runs[True].updates[p], u, msg=p)


@pytest.mark.parametrize("sigma", [0.0, 0.1])
def test_graph_segments_replay_the_step_by_step_run(
    monkeypatch: pytest.MonkeyPatch, sigma: float
) -> None:
    """graphs=True (CUDA graphs on a GPU; on the CPU the same segment logic with plain
    replays): segments of GRAPH_STEPS steps, noise by buffer parity, the plasticity
    chunk as the segment, the first segment eager, the tail step by step, give the
    updates of the ordinary run."""
    monkeypatch.setattr(runmod, "GRAPH_STEPS", 4)
    model, ins = dfc(sigma=sigma, window="all"), dfc_inputs(6)
    model.probes = []  # a recorded trace keeps a run step by step
    res = {}
    for graphs in (False, True):
        sim = TorchSimulator(model, dtype=torch.float64, threads=1, graphs=graphs)
        sim.reset(ins)
        res[graphs] = sim.run(T)
        res[graphs].state = {v: sim.state[v].clone() for v in ("h2.v", "ctrl.u")}
    assert res[True].replays == T // 4 - 1 and res[False].replays == 0
    for p, u in res[False].updates.items():
        assert_allclose(res[True].updates[p], u, msg=p)
    for v, x in res[False].state.items():
        assert_allclose(res[True].state[v], x, msg=v)


def test_default_threads_bound_the_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """threads=None shards over set_default_threads(n) cores (neurosim train --threads),
    else over every core available to the process."""
    from neurosim.backends.torch import set_default_threads, simulator

    monkeypatch.setattr(simulator, "available_cores", lambda: 3)
    model, ins = dfc(), dfc_inputs(96)
    sim = TorchSimulator(model, dtype=torch.float64)
    sim.reset(ins)
    assert sim.run(3).shards == 3
    set_default_threads(1)
    try:
        sim.reset(ins)
        assert sim.run(3).shards == 1
    finally:
        set_default_threads(None)
    with pytest.raises(ValueError, match="integer >= 1"):
        set_default_threads(0)
