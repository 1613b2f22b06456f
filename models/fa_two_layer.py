"""Feedback alignment in an over-parameterised two-layer network (Song, Xu & Lafferty,
NeurIPS 2021, "Convergence and alignment of gradient descent with random
backpropagation weights"; fact sheet ``fa_two_layer_theory.md``).

The network and full-batch gradient descent on ``L = 1/2 ||e||^2``, ``e = f(X) - y``
(fact sheet §2.1; W is (p, d), beta and the fixed random feedback b are (p,))::

    f(X) = psi(X W^T) beta / sqrt(p)
    BP:  grad_beta = psi(H)^T e / sqrt(p),   grad_W = [(e beta^T) * psi'(H)]^T X / sqrt(p)
    FA:  grad_W uses b in place of beta;      beta <- beta - eta (grad_beta + lambda beta)

Only beta carries the L2 regularisation ``lambda`` (as the public code of the
experiment). To first order in eta the outputs move as ``f <- f - eta G e - eta lambda f``
with the (derived, §2.3) kernel::

    G = (1/p) [psi(H) psi(H)^T + (X X^T) * (psi'(H) diag(beta * c) psi'(H)^T)]

(``c = b`` for FA, ``beta`` for BP), so the log-loss falls per step by
``2 ln max_k |1 - eta lambda_k(G)|`` (:func:`predicted_log_slope`, derived; the
theorem's constants were not available). Alignment is ``cos(beta, b)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

DT = torch.float64

_ACT: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "relu": (torch.relu, lambda h: (h > 0).to(h.dtype)),
    "linear": (lambda h: h, torch.ones_like),
    "tanh": (torch.tanh, lambda h: 1.0 - torch.tanh(h) ** 2),
}
ACTIVATIONS = tuple(_ACT)
RULES = ("fa", "bp")


@dataclass(frozen=True)
class TwoLayerConfig:
    """One run: width ``p``, nonlinearity ``psi``, rule, step size ``eta``, L2 ``lam`` on
    beta, number of full-batch steps."""

    p: int
    activation: str = "relu"
    rule: str = "fa"
    eta: float = 0.05
    lam: float = 0.0
    steps: int = 2000

    def __post_init__(self) -> None:
        name = type(self).__name__
        if isinstance(self.p, bool) or not isinstance(self.p, int) or self.p < 1:
            raise ValueError(f"{name}: p must be a positive integer, got {self.p!r}")
        if self.activation not in _ACT:
            raise ValueError(f"{name}: activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.rule not in RULES:
            raise ValueError(f"{name}: rule {self.rule!r} is not one of {RULES}")
        if not self.eta > 0:
            raise ValueError(f"{name}: eta must be > 0, got {self.eta!r}")
        if not self.lam >= 0:
            raise ValueError(f"{name}: lam must be >= 0, got {self.lam!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"{name}: steps must be a positive integer, got {self.steps!r}")


@dataclass
class Params:
    """``W`` (p, d), ``beta`` (p,) and the fixed feedback ``b`` (p,)."""

    W: Tensor
    beta: Tensor
    b: Tensor

    def clone(self) -> Params:
        return Params(self.W.clone(), self.beta.clone(), self.b.clone())


@dataclass
class Trajectory:
    """What :func:`train` records: the loss at every step (index 0: before the first
    step), the other quantities at ``steps_recorded``."""

    loss: Tensor
    steps_recorded: Tensor
    cos_beta_b: Tensor
    w_move: Tensor  # ||W(t) - W(0)||_F / ||W(0)||_F
    angle_fa_bp: Tensor  # degrees between the FA and the BP update of W (nan for BP)
    predicted_slope: Tensor  # predicted_log_slope(G(t), eta)
    params: Params
    G0: Tensor
    GT: Tensor
    extra: dict[str, float] = field(default_factory=dict)

    def mean_predicted_slope(self, start: int, stop: int) -> float:
        """Mean of the recorded predicted slopes over steps ``[start, stop)``."""
        keep = (self.steps_recorded >= start) & (self.steps_recorded < stop)
        return float(self.predicted_slope[keep].mean())


def teacher_data(n: int, d: int, seed: int) -> tuple[Tensor, Tensor]:
    """``X ~ N(0, I/d)`` (n, d) and the teacher ``y = sin(3 x_1) + x_2`` (the fact
    sheet's suggested default, §2.4: generic data keeps the kernel Gram matrix positive
    definite)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=DT) / math.sqrt(d)
    return X, torch.sin(3.0 * X[:, 0]) + X[:, 1]


def init_params(p: int, d: int, seed: int) -> Params:
    """All N(0, 1) and independent (Lemma A.2's i.i.d.); ``b`` from its own seeded
    generator, so it does not depend on the order of draws (fact sheet §4)."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(p, d, generator=g, dtype=DT)
    beta = torch.randn(p, generator=g, dtype=DT)
    gb = torch.Generator().manual_seed(seed + 1_000_003)
    return Params(W, beta, torch.randn(p, generator=gb, dtype=DT))


def output(params: Params, X: Tensor, activation: str) -> Tensor:
    """``f(X) = psi(X W^T) beta / sqrt(p)``."""
    psi, _ = _ACT[activation]
    return psi(X @ params.W.T) @ params.beta / math.sqrt(params.W.shape[0])


def gradients(
    params: Params, X: Tensor, y: Tensor, activation: str, rule: str
) -> tuple[Tensor, Tensor, Tensor]:
    """``(grad_W, grad_beta, e)`` of ``1/2 ||e||^2`` (BP) or its FA version (b for beta
    in grad_W); no regularisation."""
    psi, dpsi = _ACT[activation]
    H = X @ params.W.T
    P = psi(H)
    sp = math.sqrt(params.W.shape[0])
    e = P @ params.beta / sp - y
    back = params.b if rule == "fa" else params.beta
    grad_W = (torch.outer(e, back) * dpsi(H)).T @ X / sp
    return grad_W, P.T @ e / sp, e


def gram(params: Params, X: Tensor, activation: str, rule: str) -> Tensor:
    """The kernel ``G`` (n, n) of the module docstring."""
    psi, dpsi = _ACT[activation]
    H = X @ params.W.T
    p = params.W.shape[0]
    c = params.b if rule == "fa" else params.beta
    D = dpsi(H)
    return (psi(H) @ psi(H).T + (X @ X.T) * ((D * (params.beta * c)) @ D.T)) / p


def predicted_log_slope(G: Tensor, eta: float) -> float:
    """Per-step slope of ``log L`` on the slowest mode, ``2 ln max_k |1 - eta lambda_k(G)|``
    (eigenvalues of the symmetric part; derived, fact sheet §3 E1)."""
    lam = torch.linalg.eigvalsh(0.5 * (G + G.T))
    return 2.0 * math.log(float((1.0 - eta * lam).abs().max()))


def cosine(a: Tensor, b: Tensor) -> float:
    """``a^T b / (||a|| ||b||)`` (signed: FA should make it positive)."""
    return float(a @ b / (a.norm() * b.norm()))


def train(
    cfg: TwoLayerConfig, X: Tensor, y: Tensor, seed: int, record_every: int = 10
) -> Trajectory:
    """Full-batch gradient descent of ``cfg.steps`` steps from :func:`init_params`,
    recording the loss every step and the rest every ``record_every`` steps."""
    params = init_params(cfg.p, X.shape[1], seed)
    W0 = params.W.clone()
    W0_norm = W0.norm()
    G0 = gram(params, X, cfg.activation, cfg.rule)
    loss = torch.empty(cfg.steps + 1, dtype=DT)
    rec: dict[str, list[float]] = {k: [] for k in ("t", "cos", "move", "angle", "pred")}
    for t in range(cfg.steps + 1):
        gW, gbeta, e = gradients(params, X, y, cfg.activation, cfg.rule)
        loss[t] = 0.5 * float(e @ e)
        if t % record_every == 0 or t == cfg.steps:
            rec["t"].append(t)
            rec["cos"].append(cosine(params.beta, params.b))
            rec["move"].append(float((params.W - W0).norm() / W0_norm))
            rec["angle"].append(_update_angle(params, X, y, cfg, gW))
            rec["pred"].append(
                predicted_log_slope(gram(params, X, cfg.activation, cfg.rule), cfg.eta)
            )
        if t == cfg.steps:
            break
        params.W = params.W - cfg.eta * gW
        params.beta = params.beta - cfg.eta * (gbeta + cfg.lam * params.beta)
    GT = gram(params, X, cfg.activation, cfg.rule)
    lam_max = float(torch.linalg.eigvalsh(0.5 * (GT + GT.T)).max())
    extra = {
        "eta_lambda_max_final": cfg.eta * lam_max,
        "w_norm_ratio": float(params.W.norm() / W0_norm),
    }
    as_t = {k: torch.tensor(v, dtype=DT) for k, v in rec.items()}
    return Trajectory(
        loss, as_t["t"].long(), as_t["cos"], as_t["move"], as_t["angle"], as_t["pred"],
        params, G0, GT, extra,
    )  # fmt: skip


def _update_angle(params: Params, X: Tensor, y: Tensor, cfg: TwoLayerConfig, gW: Tensor) -> float:
    """Degrees between this rule's W-update and BP's (nan for BP itself)."""
    if cfg.rule != "fa":
        return math.nan
    gW_bp, _, _ = gradients(params, X, y, cfg.activation, "bp")
    c = cosine(gW.flatten(), gW_bp.flatten())
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def fit_log_slope(loss: Tensor, start: int, stop: int) -> tuple[float, float, float]:
    """Least-squares line through ``log loss[start:stop]`` against the step:
    ``(slope, intercept, r2)``."""
    t = torch.arange(start, stop, dtype=DT)
    ll = torch.log(loss[start:stop])
    A = torch.stack([t, torch.ones_like(t)], 1)
    coef = torch.linalg.lstsq(A, ll[:, None]).solution[:, 0]
    resid = ll - A @ coef
    r2 = 1.0 - float(resid @ resid) / float(((ll - ll.mean()) ** 2).sum())
    return float(coef[0]), float(coef[1]), r2


def linear_phase(loss: Tensor, floor: float = 1e-20) -> tuple[int, int]:
    """The window ``[start, stop)`` used for the slope: from the step where the loss has
    fallen by 1e-2 (past the fast modes) to where it reaches ``floor * loss[0]`` or the
    last step (before rounding takes over)."""
    rel = loss / loss[0]
    below = torch.nonzero(rel < 1e-2)
    start = int(below[0]) if len(below) else len(loss) // 2
    end = torch.nonzero(rel < floor)
    stop = int(end[0]) if len(end) else len(loss)
    if stop - start < 10:
        start = max(0, stop - max(10, (stop - 0) // 2))
    return start, stop
