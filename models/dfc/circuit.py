"""The DFC circuit of one phase, built to the IR and bound to a TorchSimulator.

This module is the only place that knows how the circuit is described; the rest of
the model talks to it through :class:`PhaseNames` (which IR variable is what).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from neurosim import HierarchyBuilder, build
from neurosim.backends.torch.simulator import TorchSimulator
from neurosim.ir import Model
from neurosim.ir.deviation import deviation_form, op_point

if TYPE_CHECKING:
    from neurosim.models.dfc.model import DFCModel


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
    """A built phase: IR model (in deviation variables), simulator sharing the model's
    tensors, names."""

    ir: Model
    sim: TorchSimulator
    names: PhaseNames

    def absolute(self, var: str) -> torch.Tensor:
        """The simulator's current value of ``var`` itself: its operating value plus its
        deviation (either is absent from the state when it is identically 0,
        :func:`~neurosim.ir.deviation.deviation_form`; a variable with neither is an
        error)."""
        state = self.sim.state
        point, dev = state.get(op_point(var)), state.get(var)
        if point is None and dev is None:
            raise KeyError(f"PhaseCircuit: '{var}' is not simulated in this phase")
        if point is None:
            return dev.clone()
        return point.clone() if dev is None else point + dev


def describe(model: DFCModel, phase: str) -> HierarchyBuilder:
    """The circuit of ``phase`` ("forward" or "sleep") as a :class:`HierarchyBuilder`:
    pyramidal layers ``l1..lL`` (soma, basal, apical), direct feedback ``Q{i}`` from a
    :class:`neurosim.circuits.PIController` ``ctrl``.

    * forward (DFC.md §1.2): target given as the label input (``r*`` computed with the
      batch-mean loss), ``proactive_controller``, tau_A = ``cfg.tau_A`` (``dt_di``:
      instantaneous), :class:`DendriticPredictionRule` window ``all`` (DFC) or ``last``
      (DFC-SS), no noise (``noisy_dynamics=False``).
    * sleep (DFC.md §1.5): :meth:`HierarchyBuilder.sleep_phase` with the ``*_fb``
      values: non-proactive, target = feedforward output, apical noise, feedback rule.
    """
    from neurosim.circuits import PIController  # after neurosim: circuits imports it (cycle)

    cfg = model.cfg
    sizes = [model.task.n_in, *cfg.size_hidden, model.task.n_out]
    ctrl = PIController(
        k_p=cfg.k_p, alpha=cfg.alpha_di, loss="given", proactive=cfg.proactive_controller
    )
    forward = HierarchyBuilder(
        layer_sizes=sizes,
        nonlinearities=list(cfg.activations),
        controller=ctrl,
        tau_v=cfg.tau_v,
        tau_apical=cfg.tau_A,
        seed=model.seed,
        transmission="instantaneous",
        plasticity="forward",
        window="all" if model.variant == "dfc" else "last",
        name=f"{model.name}-forward",
    )
    if phase == "forward":
        return forward
    return forward.sleep_phase(
        k_p=cfg.k_p_fb,
        alpha=cfg.alpha_fb,
        tau_v=cfg.tau_v_fb,
        tau_apical=cfg.tau_A_fb,
        sigma=cfg.sigma_hidden_fb,
        sigma_output=cfg.sigma_out_fb,
        beta=0.0,
        transmission="instantaneous" if cfg.inst_transmission_fb else "delayed",
    )


def _names(L: int) -> PhaseNames:
    """Names of the HierarchyBuilder circuit (docs/design.md)."""
    return PhaseNames(
        input="x.r",
        label="ctrl.label",
        output=f"l{L}.r",
        control="ctrl.u",
        forward_params=tuple((f"W{i}.W", f"W{i}.b") for i in range(1, L + 1)),
        feedback_params=tuple(f"Q{i}.W" for i in range(1, L + 1)),
        layers=tuple(f"l{i}" for i in range(1, L + 1)),
    )


def _built(model: DFCModel, phase: str) -> tuple[Model, PhaseNames]:
    """The phase's IR in deviation variables about the feedforward point: at rest the
    controller's target is the network's own output, so the label input becomes the
    target shift ``r_L* - r_L^-`` (0 in the sleep phase) and every state variable its
    deviation (:func:`neurosim.ir.deviation.deviation_form`)."""
    cfg = model.cfg
    dt = cfg.dt_di if phase == "forward" else cfg.dt_di_fb
    names = _names(len(cfg.size_hidden) + 1)
    ir = build(describe(model, phase).build(), dt=dt)
    return deviation_form(ir, {names.label: names.output}), names


def _bind(model: DFCModel, ir: Model, names: PhaseNames, device, dtype) -> PhaseCircuit:
    params = {}
    for (w, b), W, bb in zip(names.forward_params, model.weights, model.biases, strict=True):
        params[w], params[b] = W.data, bb.data
    for q, Q in zip(names.feedback_params, model.feedback, strict=True):
        params[q] = Q.data
    # check_finite=False: a diverging sample is DFC's convergence filter's business
    # (DFC.md §1.3), and the training loop's divergence check names the cause
    sim = TorchSimulator(
        ir, device=device, dtype=dtype, params=params, progress=False, check_finite=False
    )
    return PhaseCircuit(ir, sim, names)


def build_forward_phase(model: DFCModel, device: torch.device, dtype: torch.dtype) -> PhaseCircuit:
    """Forward phase (DFC.md §1.2) of ``model``: proactive or not, tau_A = ``cfg.tau_A``,
    target given, forward rule window ``all`` (DFC) or ``last`` (DFC-SS)."""
    ir, names = _built(model, "forward")
    return _bind(model, ir, names, device, dtype)


def build_sleep_phase(model: DFCModel, device: torch.device, dtype: torch.dtype) -> PhaseCircuit:
    """Sleep phase (DFC.md §1.5): non-proactive, noisy apical compartments with
    ``tau_A_fb``, target = feedforward output, feedback rule on every Q_i."""
    ir, names = _built(model, "sleep")
    return _bind(model, ir, names, device, dtype)
