"""Hyperparameters of the DFC family, validated once at construction.

Field names follow the reference implementation's command-line arguments (DFC
App. F, ``utils/args.py``) so that the published configurations (DFC.md §2) can be
copied verbatim into ``models/configs/**/dfc*.yaml``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from neurosim.models.activations import ACTIVATIONS, hidden_activations
from neurosim.models.config_checks import check_field_types, check_range
from neurosim.models.config_params import ParamsConfig

K_INITS = ("xavier_normal", "weight_product")
OPTIMIZERS = ("adam", "sgd")
#: fields that must be > 0 (rates, time constants, step sizes, tolerances)
POSITIVE = (
    "lr", "target_stepsize", "adam_epsilon", "clip_grad_norm", "dt_di", "tmax_di",
    "time_constant_ratio", "epsilon_di", "lr_fb", "lr_fb_init", "epsilon_fb", "dt_di_fb",
    "tmax_di_fb", "time_constant_ratio_fb",
)  # fmt: skip
#: fields that must be >= 0 (gains, leaks, noise, weight decay)
NON_NEGATIVE = (
    "forward_wd", "alpha_di", "k_p", "sigma", "noise_K", "feedback_wd", "alpha_fb", "k_p_fb",
)  # fmt: skip


class ClippedTimeConstantWarning(UserWarning):
    """A somatic time constant below the Euler step was raised to the step (DFC.md §1.2)."""


@dataclass(frozen=True)
class DFCConfig(ParamsConfig):
    """All DFC hyperparameters (DFC.md §1–2; App. F Table S-configs).

    Forward phase (eq. 1–5, App. E.1): ``alpha_di``, ``k_p``, ``dt_di``, ``tmax_di``,
    ``time_constant_ratio`` (tau_v), ``apical_time_constant`` (tau_A, ``-1`` means
    ``dt_di``: instantaneous apical compartment), ``proactive_controller``,
    ``inst_transmission``, ``epsilon_di`` and ``include_non_converged_samples``
    (convergence filter, DFC.md §1.3).

    Feedback (sleep) phase (eq. 12–13, App. E.2): the ``*_fb`` fields; ``sigma_fb`` and
    ``sigma_output_fb`` default to ``sigma`` (``None``), ``apical_time_constant_fb=-1``
    defaults to ``dt_di`` (not ``dt_di_fb``: the reference's quirk, DFC.md §1.2).

    Optimisation: ``lr`` and ``target_stepsize`` (lambda) as in the configs; with
    ``normalize_lr`` the forward Adam learning rate is ``lr / target_stepsize``.

    Validation: every value is checked for its type (``check_field_types``) and range
    (:data:`POSITIVE`, :data:`NON_NEGATIVE`; ``apical_time_constant*`` are ``-1`` or
    > 0). A ``time_constant_ratio`` (``_fb``) in ``(0, dt_di)`` is raised to ``dt_di``
    as the reference does (its stability guard, DFC.md §1.2); the factories say so with
    a :class:`ClippedTimeConstantWarning` when the phase is simulated
    (:meth:`warn_if_clipped`; DFC-SSA's configs keep an unused 0.005). Zero or
    negative is an error.
    """

    LIST_FIELDS = ("size_hidden", "hidden_activation")

    size_hidden: tuple[int, ...] = (256, 256, 256)
    hidden_activation: str | tuple[str, ...] = "tanh"
    output_activation: str = "linear"
    # forward learning
    lr: float = 9.266e-05
    target_stepsize: float = 0.07794
    normalize_lr: bool = True
    optimizer: str = "adam"
    adam_beta1: float = 0.99
    adam_beta2: float = 0.99
    adam_epsilon: float = 9.446e-08
    forward_wd: float = 0.0
    clip_grad_norm: float = 1.0
    # forward-phase controller and dynamics
    alpha_di: float = 1.389e-3
    k_p: float = 2.0
    dt_di: float = 0.02
    tmax_di: int = 1000
    time_constant_ratio: float = 0.2
    apical_time_constant: float = -1.0
    proactive_controller: bool = True
    inst_transmission: bool = True
    epsilon_di: float = 0.5
    include_non_converged_samples: bool = False
    sigma: float = 1.524e-3
    # feedback weights
    initialization_K: str = "xavier_normal"  # noqa: N815 (reference argument name)
    noise_K: float = 0.0  # noqa: N815
    freeze_fb_weights: bool = False
    freeze_fb_weights_output: bool = False
    lr_fb: float = 5.265e-4
    lr_fb_init: float = 3.17e-4
    epsilon_fb: float = 1.561e-06
    feedback_wd: float = 0.001
    alpha_fb: float = 0.6134
    k_p_fb: float = 0.1565
    dt_di_fb: float = 2.03e-3
    tmax_di_fb: int = 48
    time_constant_ratio_fb: float = 6.303e-3
    apical_time_constant_fb: float = 0.3247
    inst_transmission_fb: bool = True
    sigma_fb: float | None = None
    sigma_output_fb: float | None = None
    # neurosim extension (not in the reference): run the sleep phase on every k-th
    # feedback batch only (1 = every batch, as the paper); for quick demos
    sleep_every: int = 1

    def __post_init__(self) -> None:
        check_field_types(self)
        if not self.size_hidden or any(n < 1 for n in self.size_hidden):
            raise ValueError(
                f"DFCConfig: params.size_hidden={self.size_hidden!r}; expected a non-empty "
                "list of positive layer sizes such as [256, 256, 256]"
            )
        acts = hidden_activations("DFCConfig", self.hidden_activation, len(self.size_hidden))
        for a in (*acts, self.output_activation):
            _check_choice("activation", a, ACTIVATIONS)
        _check_choice("initialization_K", self.initialization_K, K_INITS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in POSITIVE:
            check_range(self, name, 0.0)
        for name in NON_NEGATIVE:
            check_range(self, name, 0.0, inclusive=True)
        for name in ("sigma_fb", "sigma_output_fb"):
            if getattr(self, name) is not None:
                check_range(self, name, 0.0, inclusive=True)
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(
                    f"DFCConfig: params.{name}={getattr(self, name)!r}; expected a number in "
                    "[0, 1) (Adam's moment decay)"
                )
        for name in ("apical_time_constant", "apical_time_constant_fb"):
            if getattr(self, name) != -1 and not getattr(self, name) > 0:
                raise ValueError(
                    f"DFCConfig: params.{name}={getattr(self, name)!r}; expected a time "
                    "constant > 0, or -1 for dt_di (an instantaneous apical compartment)"
                )
        if self.tmax_di < 2 or self.tmax_di_fb < 2:
            raise ValueError(
                "DFCConfig: tmax_di and tmax_di_fb count time samples including k=0 and "
                f"must be >= 2, got {self.tmax_di} and {self.tmax_di_fb}"
            )
        if not isinstance(self.sleep_every, int) or self.sleep_every < 1:
            raise ValueError(
                f"DFCConfig: sleep_every must be an integer >= 1, got {self.sleep_every!r}"
            )
        if not self.inst_transmission:
            raise ValueError(
                "DFCConfig: inst_transmission=False (delayed, descending-order layers) is "
                "not supported by the DFC models; every published DFC config uses True"
            )
        object.__setattr__(self, "hidden_activation", acts)

    def warn_if_clipped(self, forward: bool = True, feedback: bool = True) -> None:
        """Warn (:class:`ClippedTimeConstantWarning`) for each somatic time constant
        raised to its Euler step, in the phases that simulate (``forward``: DFC and
        DFC-SS, not DFC-SSA; ``feedback``: variants with a sleep phase)."""
        if forward:
            self._warn_if_clipped("time_constant_ratio", "dt_di")
        if feedback:
            self._warn_if_clipped("time_constant_ratio_fb", "dt_di_fb")

    def _warn_if_clipped(self, tau: str, dt: str) -> None:
        if getattr(self, tau) < getattr(self, dt):
            warnings.warn(
                f"DFCConfig: params.{tau}={getattr(self, tau)!r} is below "
                f"{dt}={getattr(self, dt)!r}; the somatic time constant is raised to {dt} "
                "(the reference's stability guard for the explicit Euler step, DFC.md §1.2). "
                f"Set {tau} >= {dt} to silence this",
                ClippedTimeConstantWarning,
                stacklevel=5,
            )

    # -- derived quantities (DFC.md §1.2, §1.5) -------------------------------------
    @property
    def activations(self) -> tuple[str, ...]:
        """phi_i for i = 1..L (hidden activations, then the output activation)."""
        return (*self.hidden_activation, self.output_activation)

    @property
    def lr_forward(self) -> float:
        """Adam learning rate of the forward weights, ``lr / lambda`` if normalised."""
        return self.lr / self.target_stepsize if self.normalize_lr else self.lr

    @property
    def tau_v(self) -> float:
        """Somatic time constant, raised to ``dt_di`` if smaller (stability guard)."""
        return max(self.time_constant_ratio, self.dt_di)

    @property
    def tau_v_fb(self) -> float:
        """Somatic time constant of the sleep phase, raised to ``dt_di_fb`` if smaller."""
        return max(self.time_constant_ratio_fb, self.dt_di_fb)

    @property
    def tau_A(self) -> float:
        """Forward-phase apical time constant; ``-1`` means ``dt_di`` (instantaneous)."""
        return self.dt_di if self.apical_time_constant == -1 else self.apical_time_constant

    @property
    def tau_A_fb(self) -> float:
        """Sleep-phase apical time constant; ``-1`` means ``dt_di`` (reference quirk)."""
        return self.dt_di if self.apical_time_constant_fb == -1 else self.apical_time_constant_fb

    @property
    def sigma_hidden_fb(self) -> float:
        """Apical noise of the hidden layers in the sleep phase (default ``sigma``)."""
        return self.sigma if self.sigma_fb is None else self.sigma_fb

    @property
    def sigma_out_fb(self) -> float:
        """Apical noise of the output layer in the sleep phase (default ``sigma``)."""
        return self.sigma if self.sigma_output_fb is None else self.sigma_output_fb

    @property
    def fb_scale(self) -> float:
        """Feedback-rule scale ``s = 1 / max(sigma_fb, 0.01)^2`` (DFC.md §1.5 step 3)."""
        return 1.0 / max(self.sigma_hidden_fb, 0.01) ** 2

    # -- diagnosis ------------------------------------------------------------------
    def divergence_hint(self, phase: str = "forward", simulated: bool = True) -> str:
        """The parameters most likely at fault when training diverged in ``phase``
        ("forward" or "feedback"); ``simulated``: the forward phase is simulated (DFC,
        DFC-SS), not solved in closed form (DFC-SSA).

        Linearised at the output with ``J Q ~ I``, an explicit Euler step of the
        controlled layer multiplies a deviation by ``1 - (dt/tau_v) (1 + k_p)``, stable
        while ``(dt/tau_v) (1 + k_p) < 2``; the leak of the integral path is stable while
        ``alpha dt < 2`` and the apical compartment while ``dt / tau_A < 2``. Violated
        bounds are named first (with the values), then the learning rates.
        """
        causes = []
        if phase == "feedback":
            causes += _euler_causes(
                "k_p_fb", self.k_p_fb, "alpha_fb", self.alpha_fb, "dt_di_fb", self.dt_di_fb,
                self.tau_v_fb, ("apical_time_constant_fb", self.tau_A_fb),
            )  # fmt: skip
            rates = (
                f"lower params.lr_fb (now {self.lr_fb:g}) or params.lr_fb_init (now "
                f"{self.lr_fb_init:g})"
            )
            return _with_rates(causes, "feedback learning rates", rates)
        if simulated:
            causes += _euler_causes(
                "k_p", self.k_p, "alpha_di", self.alpha_di, "dt_di", self.dt_di, self.tau_v, None
            )
        elif self.alpha_di < 1e-6:
            causes.append(
                f"alpha_di={self.alpha_di:g} barely damps the steady-state solve "
                "u = (J Q + alpha_di I)^-1 delta: raise params.alpha_di (the paper: 1.389e-3)"
            )
        rate = (
            f"lower params.lr (now {self.lr:g}; the optimiser step is lr/target_stepsize = "
            f"{self.lr_forward:.3g})"
        )
        return _with_rates(causes, "forward learning rate", rate)

    # -- construction ---------------------------------------------------------------


def _euler_causes(
    gain: str, k_p: float, leak: str, alpha: float, step: str, dt: float, tau_v: float,
    apical: tuple[str, float] | None,
) -> list[str]:  # fmt: skip
    """Violated explicit-Euler stability bounds (see :meth:`DFCConfig.divergence_hint`)."""
    causes = []
    loop = dt / tau_v * (1 + k_p)
    if loop >= 2:
        causes.append(
            f"the controlled dynamics are unstable: (dt/tau_v)(1 + {gain}) = {loop:.3g} >= 2 "
            f"with {gain}={k_p:g}, {step}={dt:g}, tau_v={tau_v:g}: lower params.{gain} or "
            f"params.{step}"
        )
    if alpha * dt >= 2:
        causes.append(
            f"the controller's leak is unstable: {leak}*{step} = {alpha * dt:.3g} >= 2: lower "
            f"params.{leak} or params.{step}"
        )
    if apical is not None and dt / apical[1] >= 2:
        causes.append(
            f"the apical compartment is unstable: {step}/{apical[0]} = {dt / apical[1]:.3g} "
            f">= 2: raise params.{apical[0]} or lower params.{step}"
        )
    return causes


def _with_rates(causes: list[str], what: str, fix: str) -> str:
    if causes:
        return "; ".join(causes) + f"; if those are intended, {fix}"
    return f"the {what} is probably too high: {fix}"


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"DFCConfig: {what} {value!r} is not one of {choices}")
