"""The DFC circuit of one phase, built to the IR and bound to a TorchSimulator.

This module is the only place that knows how the circuit is described; the rest of
the model talks to it through :class:`PhaseNames` (which IR variable is what).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from neurosim.backends.torch.simulator import TorchSimulator
from neurosim.ir import Integrate, Model

if TYPE_CHECKING:
    from models.dfc.model import DFCModel


@dataclass(frozen=True)
class PhaseNames:
    """IR names the DFC model reads and writes."""

    input: str
    label: str
    output: str
    control: str
    forward_params: tuple[tuple[str, str], ...]
    feedback_params: tuple[str, ...]
    layers: tuple[str, ...] = ()

    def compartment(self, layer: int, name: str) -> str:
        """IR variable of compartment ``name`` (``v``, ``v_basal``, ``v_apical``, ``r``)
        of layer ``layer`` (1..L)."""
        return f"{self.layers[layer - 1]}.{name}"


@dataclass
class PhaseCircuit:
    """A built phase: IR model, simulator sharing the model's tensors, names."""

    ir: Model
    sim: TorchSimulator
    names: PhaseNames


def _hand_assembled(model: DFCModel, phase: str) -> tuple[Model, PhaseNames]:
    from neurosim.testing import dfc_model

    cfg = model.cfg
    sizes = [model.task.n_in, *cfg.size_hidden, model.task.n_out]
    L = len(sizes) - 1
    if phase == "forward":
        ir = dfc_model(
            sizes,
            dt=cfg.dt_di,
            tau_v=cfg.tau_v,
            tau_a=cfg.tau_A,
            alpha=cfg.alpha_di,
            k_p=cfg.k_p,
            activations=cfg.activations,
            proactive=cfg.proactive_controller,
            window="all" if model.variant == "dfc" else "last",
            loss="given",
            seed=model.seed,
        )
    else:
        ir = dfc_model(
            sizes,
            dt=cfg.dt_di_fb,
            tau_v=cfg.tau_v_fb,
            tau_a=cfg.tau_A_fb,
            alpha=cfg.alpha_fb,
            k_p=cfg.k_p_fb,
            activations=cfg.activations,
            proactive=False,
            loss="given",
            sigma=cfg.sigma_hidden_fb,
            seed=model.seed + 1,
            feedback_rule=True,
        )
        ir = _set_output_noise(ir, f"apical_h{L}", cfg.sigma_out_fb, model.seed)
    pre = ["x"] + [f"h{i}" for i in range(1, L)]
    names = PhaseNames(
        input="x.r",
        label="ctrl.label",
        output=f"h{L}.r",
        control="ctrl.u",
        forward_params=tuple(
            (f"{p}_to_h{i}_basal.W", f"{p}_to_h{i}_basal.b") for i, p in enumerate(pre, 1)
        ),
        feedback_params=tuple(f"ctrl_to_h{i}_apical.W" for i in range(1, L + 1)),
        layers=tuple(f"h{i}" for i in range(1, L + 1)),
    )
    return ir, names


def _set_output_noise(ir: Model, op_name: str, sigma: float, seed: int) -> Model:
    steps = [
        dataclasses.replace(
            op, noise_sigma=sigma, noise_seed=(seed * 1000 + 999) if sigma else None
        )
        if isinstance(op, Integrate) and op.name == op_name
        else op
        for op in ir.step_ops
    ]
    return Model(ir.variables, ir.init_ops, steps, dt=ir.dt, probes=[], meta=ir.meta)


def _bind(model: DFCModel, ir: Model, names: PhaseNames, device, dtype) -> PhaseCircuit:
    params = {}
    for (w, b), W, bb in zip(names.forward_params, model.weights, model.biases, strict=True):
        params[w], params[b] = W.data, bb.data
    for q, Q in zip(names.feedback_params, model.feedback, strict=True):
        params[q] = Q.data
    sim = TorchSimulator(ir, device=device, dtype=dtype, params=params, progress=False)
    return PhaseCircuit(ir, sim, names)


def build_forward_phase(model: DFCModel, device: torch.device, dtype: torch.dtype) -> PhaseCircuit:
    """Forward phase (DFC.md §1.2) of ``model``: proactive or not, tau_A = ``cfg.tau_A``,
    target given, forward rule window ``all`` (DFC) or ``last`` (DFC-SS)."""
    ir, names = _hand_assembled(model, "forward")
    return _bind(model, ir, names, device, dtype)


def build_sleep_phase(model: DFCModel, device: torch.device, dtype: torch.dtype) -> PhaseCircuit:
    """Sleep phase (DFC.md §1.5): non-proactive, noisy apical compartments with
    ``tau_A_fb``, target = feedforward output, feedback rule on every Q_i."""
    ir, names = _hand_assembled(model, "sleep")
    return _bind(model, ir, names, device, dtype)
