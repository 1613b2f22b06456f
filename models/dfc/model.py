"""The DFC family as one trainable model (DFC, DFC-SS, DFC-SSA; trained or fixed Q).

* ``variant="ssa"``: closed-form linearised steady state (DFC.md §1.4), no forward
  simulation.
* ``variant="ss"``: forward phase simulated on the torch backend, steady-state rule
  from the last time step (window ``"last"``).
* ``variant="dfc"``: forward phase simulated, time-integrated rule eq. 5 (window
  ``"all"``).

Feedback weights are trained by the noisy sleep phase (eq. 12–13, App. E.2) unless
``fixed`` (Q = weight product, Q_L = I, App. F eq. 221–222; no feedback phase).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from neurosim.models import diagnostics as diag
from neurosim.models.base import Task, TrainableModel
from neurosim.models.dfc.config import DFCConfig
from neurosim.models.dfc.network import feedforward, full_jacobian, weight_product_feedback
from neurosim.models.dfc.steady_state import (
    clip_jointly,
    clip_per_tensor,
    ssa_gradients,
    ssa_steady_state,
    steady_state_gradients,
    target_shift,
)

VARIANTS = ("dfc", "ss", "ssa")
Grads = list[tuple[Tensor, Tensor]]


class DFCModel(TrainableModel):
    """Deep Feedback Control (Meulemans et al. 2021) with forward weights ``W_i, b_i``
    and direct feedback weights ``Q_i`` (n_i x n_L) from the controller to every layer.

    Parameters
    ----------
    task : what is learned (sizes, loss).
    cfg : hyperparameters (:class:`~neurosim.models.dfc.config.DFCConfig`).
    variant : "dfc", "ss" or "ssa" (see module docstring).
    fixed : freeze Q at the weight-product initialisation (the "-fixed" variants).
    device, dtype, seed : where the tensors live, their precision (float64 as the
        paper) and the seed of the initialisation and of the sleep-phase noise.
    """

    def __init__(
        self,
        task: Task,
        cfg: DFCConfig,
        *,
        variant: str = "ssa",
        fixed: bool = False,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
        seed: int = 42,
    ) -> None:
        super().__init__(task)
        if variant not in VARIANTS:
            raise ValueError(f"DFCModel: variant {variant!r} is not one of {VARIANTS}")
        if fixed:
            cfg = cfg.replace(freeze_fb_weights=True, initialization_K="weight_product")
        self.cfg, self.variant = cfg, variant
        self.name = {"dfc": "dfc", "ss": "dfc-ss", "ssa": "dfc-ssa"}[variant] + (
            "-fixed" if cfg.freeze_fb_weights else ""
        )
        self.has_feedback_phase = not cfg.freeze_fb_weights
        self.seed = seed
        sizes = [task.n_in, *cfg.size_hidden, task.n_out]
        gen = torch.Generator(device="cpu").manual_seed(seed)
        fk = {"device": device, "dtype": dtype}
        self.weights = nn.ParameterList(
            [_xavier_normal(sizes[i + 1], sizes[i], gen, **fk) for i in range(len(sizes) - 1)]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(n, **fk), requires_grad=False) for n in sizes[1:]]
        )
        self.feedback = nn.ParameterList(
            [nn.Parameter(q, requires_grad=False) for q in self._init_feedback(sizes, gen, fk)]
        )
        self.register_buffer("forward_batches", torch.zeros((), dtype=torch.long, device=device))
        self.register_buffer("feedback_calls", torch.zeros((), dtype=torch.long, device=device))
        self._optimizers = self._make_optimizers()

    # -- construction ------------------------------------------------------------------
    def _init_feedback(self, sizes: list[int], gen: torch.Generator, fk: dict) -> list[Tensor]:
        """Q init (DFC.md §1.6): weight product, or xavier_normal hidden Q_i and Q_L = I."""
        n_L = sizes[-1]
        if self.cfg.initialization_K == "weight_product":
            qs = weight_product_feedback([w.data for w in self.weights])
            if self.cfg.noise_K > 0:
                qs[:-1] = [q + self.cfg.noise_K * _randn(q.shape, gen, **fk) for q in qs[:-1]]
            return qs
        hidden = [_xavier_normal(n, n_L, gen, **fk).data for n in sizes[1:-1]]
        return [*hidden, torch.eye(n_L, **fk)]

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        cfg = self.cfg
        fwd = [*self.weights, *self.biases]
        opts = {"forward": self._optimizer(fwd, cfg.lr_forward, cfg.adam_epsilon, cfg.forward_wd)}
        if self.has_feedback_phase:
            for key, lr in (("feedback_init", cfg.lr_fb_init), ("feedback", cfg.lr_fb)):
                opts[key] = self._optimizer(
                    self.trained_feedback, lr, cfg.epsilon_fb, cfg.feedback_wd
                )
        return opts

    def _optimizer(self, params: list, lr: float, eps: float, wd: float) -> torch.optim.Optimizer:
        if self.cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, weight_decay=wd)
        betas = (self.cfg.adam_beta1, self.cfg.adam_beta2)
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)

    # -- views -------------------------------------------------------------------------
    @property
    def trained_feedback(self) -> list[nn.Parameter]:
        """The Q_i the sleep phase trains (Q_L excluded if ``freeze_fb_weights_output``)."""
        qs = list(self.feedback)
        return qs[:-1] if self.cfg.freeze_fb_weights_output else qs

    @property
    def Q(self) -> Tensor:
        """All Q_i stacked, shape (sum_i n_i, n_L)."""
        return torch.cat(list(self.feedback), dim=0)

    def sim_params(self) -> dict[str, Tensor]:
        """Parameters under their IR names (``W{i}.W``, ``W{i}.b``, ``Q{i}.W``), the very
        tensors of this module, so a simulator reads the current weights."""
        out: dict[str, Tensor] = {}
        for i, (w, b, q) in enumerate(
            zip(self.weights, self.biases, self.feedback, strict=True), 1
        ):
            out[f"W{i}.W"], out[f"W{i}.b"], out[f"Q{i}.W"] = w.data, b.data, q.data
        return out

    def _tensors(self) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        return (
            [w.data for w in self.weights],
            [b.data for b in self.biases],
            [q.data for q in self.feedback],
        )

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def extra_repr(self) -> str:
        sizes = [self.task.n_in, *self.cfg.size_hidden, self.task.n_out]
        return f"name={self.name!r}, sizes={sizes}, activations={self.cfg.activations}"

    # -- forward pass ------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        W, b, _ = self._tensors()
        return feedforward(x.to(W[0].dtype), W, b, self.cfg.activations)[1][-1]

    # -- learning ----------------------------------------------------------------------
    @torch.no_grad()
    def forward_gradients(self, x: Tensor, y: Tensor) -> tuple[Grads, dict[str, float]]:
        """This batch's forward-weight gradients (``.grad`` convention, unclipped) and
        metrics: DFC.md §1.4 for the three variants."""
        W, b, Q = self._tensors()
        x = x.to(W[0].dtype)
        vs, rs = feedforward(x, W, b, self.cfg.activations)
        metrics = {"loss": float(self.task.loss(rs[-1], y))}
        lam = self.cfg.target_stepsize * self.shard_fraction  # lambda / B of the whole batch
        delta_L = target_shift(rs[-1], y, self.task.kind, lam)
        if self.variant == "ssa":
            grads = ssa_gradients(
                x, vs, rs, delta_L, W, b, Q, self.cfg.activations, self.cfg.alpha_di
            )
            return grads, metrics
        from neurosim.models.dfc.simulation import forward_phase_gradients

        grads, sim_metrics = forward_phase_gradients(self, x, vs, rs, delta_L)
        metrics.update(sim_metrics)
        return grads, metrics

    def train_batch(self, x: Tensor, y: Tensor, phase: str) -> dict[str, float]:
        if phase == "forward":
            return self._train_forward(x, y)
        if phase == "feedback":
            return self._train_feedback(x) if self.has_feedback_phase else {}
        raise ValueError(f"{self.name}: phase must be 'forward' or 'feedback', got {phase!r}")

    def _train_forward(self, x: Tensor, y: Tensor) -> dict[str, float]:
        grads, metrics = self.forward_gradients(x, y)
        flat = [g for pair in grads for g in pair]
        self.reduce_updates(flat)
        clip_per_tensor(flat, self.cfg.clip_grad_norm)
        for (gw, gb), w, b in zip(grads, self.weights, self.biases, strict=True):
            w.grad, b.grad = gw, gb
        self._optimizers["forward"].step()
        self._optimizers["forward"].zero_grad(set_to_none=True)
        self.forward_batches += 1
        return metrics

    def _train_feedback(self, x: Tensor) -> dict[str, float]:
        """One sleep-phase step (DFC.md §1.5): simulate, joint clip, Adam with
        ``lr_fb_init`` before the first forward batch (pre-training), ``lr_fb`` after."""
        from neurosim.models.dfc.simulation import sleep_phase_gradients

        self.feedback_calls += 1
        if (int(self.feedback_calls) - 1) % self.cfg.sleep_every:
            return {}
        grads, metrics = sleep_phase_gradients(self, x.to(self.weights[0].dtype))
        params = self.trained_feedback
        grads = grads[: len(params)]
        self.reduce_updates(grads)
        clip_jointly(grads, self.cfg.clip_grad_norm)
        for q, g in zip(params, grads, strict=True):
            q.grad = g
        key = "feedback_init" if int(self.forward_batches) == 0 else "feedback"
        self._optimizers[key].step()
        self._optimizers[key].zero_grad(set_to_none=True)
        return metrics

    def divergence_hint(self, phase: str = "forward") -> str:
        """Likely cause of a diverged run (``DFCConfig.divergence_hint``)."""
        return self.cfg.divergence_hint(phase, simulated=self.variant != "ssa")

    # -- random state (exact resume) ---------------------------------------------------
    def get_extra_state(self) -> Tensor:
        """The sleep phase's noise-generator states (``state_dict`` key
        ``_extra_state``), so that a checkpoint continues the noise exactly: one uint8
        row per noisy op in name order; empty without a feedback phase."""
        if not self.has_feedback_phase:
            return torch.zeros(0, dtype=torch.uint8)
        states = self._sleep_simulator().rng_state()
        if not states:  # a noise-free sleep phase (sigma_fb = sigma_output_fb = 0)
            return torch.zeros(0, 0, dtype=torch.uint8)
        return torch.stack([states[k] for k in sorted(states)])

    def set_extra_state(self, state: Tensor) -> None:
        """Restore :meth:`get_extra_state` (builds the sleep-phase simulator if needed)."""
        if not self.has_feedback_phase:
            if state.numel():
                raise ValueError(f"{self.name}: has no sleep phase but got noise states")
            return
        sim = self._sleep_simulator()
        names = sorted(sim.rng_state())
        if state.dim() != 2 or state.shape[0] != len(names):
            raise ValueError(
                f"{self.name}: extra state of shape {tuple(state.shape)} does not hold the "
                f"{len(names)} sleep-phase noise generators {names}"
            )
        sim.set_rng_state(dict(zip(names, state.cpu(), strict=True)))

    def set_noise_stream(self, stream: int) -> None:
        """Re-seed the sleep phase's apical noise (drawn per sample, DFC.md §1.2) with
        ``op seed + stream`` (data-parallel training: one stream per process)."""
        if self.has_feedback_phase:
            self._sleep_simulator().manual_seed(stream)

    def _sleep_simulator(self):  # noqa: ANN202 (TorchSimulator; avoids an import cycle)
        from neurosim.models.dfc.simulation import phase_circuit

        return phase_circuit(self, "sleep").sim

    # -- diagnostics -------------------------------------------------------------------
    @torch.no_grad()
    def diagnostics(self, x: Tensor, y: Tensor, n_stability: int = 8) -> dict[str, Any]:
        """App. F.1 on a probe batch: conditions 1 and 2, closed-loop stability at the
        feedforward point (first ``n_stability`` samples) and per-layer angles (degrees)
        between this model's update and BP, GN, damped min-norm and DFC-SSA updates."""
        cfg = self.cfg
        W, b, Q = self._tensors()
        x = x.to(W[0].dtype)
        vs, rs = feedforward(x, W, b, cfg.activations)
        Qbar = torch.cat(Q, dim=0)
        out: dict[str, Any] = {
            "condition_1": diag.condition_one(x, rs),
            "condition_2": diag.condition_two(full_jacobian(vs, W, cfg.activations), Qbar),
        }
        k = min(n_stability, x.shape[0])
        A = diag.system_matrix(
            [v[:k] for v in vs], W, Qbar, cfg.activations, cfg.alpha_di, cfg.k_p, cfg.tau_v
        )
        out["max_eig_real"] = float(diag.max_real_eigenvalue(A).max())
        delta_L = target_shift(rs[-1], y, self.task.kind, cfg.target_stepsize)
        own = [(-gw, -gb) for gw, gb in self.forward_gradients(x, y)[0]]
        dv, r_ss, _ = ssa_steady_state(x, vs, rs, delta_L, W, b, Q, cfg.activations, cfg.alpha_di)
        references = {
            "bp": diag.bp_update(x, y, W, b, cfg.activations, self.task.loss),
            "gn": diag.gauss_newton_update(x, vs, rs, delta_L, W, cfg.activations),
            "min_norm": diag.min_norm_update(
                x, vs, rs, delta_L, W, cfg.activations, damping=cfg.alpha_di
            ),
            "ssa": [
                (-gw, -gb) for gw, gb in steady_state_gradients(x, dv, r_ss, W, b, cfg.activations)
            ],
        }
        for ref, upd in references.items():
            for i, a in enumerate(diag.layer_angles(own, upd), 1):
                out[f"angle_{ref}/layer{i}"] = a
        return out


def _randn(shape: tuple[int, ...], gen: torch.Generator, **fk: Any) -> Tensor:
    return torch.randn(shape, generator=gen, dtype=fk["dtype"]).to(fk["device"])


def _xavier_normal(
    n_out: int, n_in: int, gen: torch.Generator, *, device: Any, dtype: torch.dtype
) -> nn.Parameter:
    """``xavier_normal_`` (DFC.md §1.6): N(0, 2 / (n_in + n_out))."""
    std = (2.0 / (n_in + n_out)) ** 0.5
    w = std * _randn((n_out, n_in), gen, device=device, dtype=dtype)
    return nn.Parameter(w, requires_grad=False)
