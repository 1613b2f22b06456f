"""Hyperparameters of the BP, FA and DFA baselines, validated once at construction.

Field names follow the reference implementation's arguments (DFC App. F) so the
published cells (DFC.md §2) are copied verbatim into ``models/configs/**/{bp,fa,dfa}.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.models.activations import ACTIVATIONS, hidden_activations
from neurosim.models.config_checks import check_field_types, check_range
from neurosim.models.config_params import ParamsConfig

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class BaselineConfig(ParamsConfig):
    """Architecture and optimiser of a feedforward baseline.

    ``lr`` and ``target_stepsize`` (lambda) are the reference config values; with
    ``normalize_lr`` the optimiser's learning rate is ``lr_eff = lr / lambda``
    (DFC.md §1.1, §2). For DFA, lambda also sets the hidden targets (DFC.md §1.7);
    for BP and FA it only enters ``lr_eff``. ``clip_grad_norm`` (per-tensor norm
    clipping) is used by DFA only: the reference's ``train_bp`` never clips
    (DFC.md §1.7, §5), and neither do BP and FA here; ``None`` disables clipping.
    """

    LIST_FIELDS = ("size_hidden", "hidden_activation")

    size_hidden: tuple[int, ...] = (256, 256, 256)
    hidden_activation: str | tuple[str, ...] = "tanh"
    output_activation: str = "linear"
    lr: float = 2.978e-07
    target_stepsize: float = 0.001
    normalize_lr: bool = True
    optimizer: str = "adam"
    adam_beta1: float = 0.99
    adam_beta2: float = 0.99
    adam_epsilon: float = 5.77e-08
    forward_wd: float = 0.0
    clip_grad_norm: float | None = None

    def __post_init__(self) -> None:
        check_field_types(self)
        sizes = tuple(self.size_hidden)
        if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError(
                f"{type(self).__name__}: size_hidden must be a non-empty list of positive "
                f"integers, got {self.size_hidden!r}"
            )
        acts = hidden_activations(type(self).__name__, self.hidden_activation, len(sizes))
        for a in (*acts, self.output_activation):
            _check_choice(self, "activation", a, ACTIVATIONS)
        _check_choice(self, "optimizer", self.optimizer, OPTIMIZERS)
        for name in ("lr", "target_stepsize", "adam_epsilon"):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"{type(self).__name__}: {name} must be > 0, got {getattr(self, name)!r}"
                )
        for name in ("adam_beta1", "adam_beta2"):
            check_range(self, name, 0.0, inclusive=True)
            if not getattr(self, name) < 1:
                raise ValueError(
                    f"{type(self).__name__}: params.{name}={getattr(self, name)!r}; expected "
                    "a number in [0, 1) (Adam's moment decay)"
                )
        check_range(self, "forward_wd", 0.0, inclusive=True, why="weight decay")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ValueError(
                f"{type(self).__name__}: clip_grad_norm must be > 0 or null (no clipping), "
                f"got {self.clip_grad_norm!r}"
            )
        object.__setattr__(self, "size_hidden", sizes)
        object.__setattr__(self, "hidden_activation", acts)

    @property
    def activations(self) -> tuple[str, ...]:
        """phi_i for i = 1..L (hidden activations, then the output activation)."""
        return (*self.hidden_activation, self.output_activation)

    @property
    def lr_eff(self) -> float:
        """Learning rate of the optimiser, ``lr / target_stepsize`` if normalised."""
        return self.lr / self.target_stepsize if self.normalize_lr else self.lr

    def divergence_hint(self, phase: str = "forward") -> str:
        """Likely cause of a diverged run (:mod:`neurosim.training.divergence`): these
        baselines have no dynamics, so the step size."""
        step = f"lr/target_stepsize = {self.lr_eff:.3g}" if self.normalize_lr else f"{self.lr:.3g}"
        return (
            f"the learning rate is probably too high: lower params.lr (now {self.lr:g}; the "
            f"{self.optimizer} step size is {step})"
        )


def _check_choice(cfg: object, what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{type(cfg).__name__}: {what} {value!r} is not one of {choices}")
