"""Accumulation of :class:`~neurosim.ir.ops.LocalPlasticity` updates.

A rule samples ``delta[k] = f(post[k]) - f(post_baseline[k])`` and ``pre[k]`` at its
place in the step; the update it hands back is (DFC eq. 5 / eq. 13, App. E)

.. math::
    \\Delta W = \\frac{\\text{scale}}{B N} \\sum_{k} \\sum_b \\delta_b[k]\\,
                \\text{pre}_b[k]^T - \\text{decay}\\, W, \\qquad
    \\Delta b = \\frac{\\text{scale}}{B N} \\sum_k \\sum_b \\delta_b[k]

with ``N = T`` (window ``all``, initial state included), ``N = steps``
(window ``steps``) or ``N = 1`` (window ``last``). Strategies, chosen per rule:

``sum``     ``pre`` is constant over the run (e.g. the image ``x``): keep the running
            sum ``S = sum_k delta[k]`` (two in-place ops per step); at the end
            ``Delta W = S^T pre`` is one matmul.
``buffer``  ``pre`` varies: write ``delta[k]``, ``pre[k]`` into (K, B, n) chunk buffers;
            each full chunk becomes one ``(n_post, K*B) @ (K*B, n_pre)`` matmul.
``final``   window ``last`` and nothing after the rule changes what it reads: evaluate
            once on the final state (no per-step work).
``online``  ``plasticity="online"``: ``W <- W + lr*dt*Delta W_k`` every step (``addmm_``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from neurosim.backends.torch.codegen import Emitter, sanitize
from neurosim.backends.torch.difference import phi_difference
from neurosim.backends.torch.kernels import check_fn, phi, phi_into
from neurosim.ir.ops import LocalPlasticity

Known = Mapping[tuple[str, str], str]


class RulePlan:
    """How one plasticity op is sampled, accumulated and finalised."""

    def __init__(
        self, op: LocalPlasticity, em: Emitter, invariant: set[str], safe_last: bool, mode: str
    ) -> None:
        check_fn(op.fn, f"LocalPlasticity '{op.name}'")
        if op.window not in ("all", "last", "steps"):
            raise ValueError(f"LocalPlasticity '{op.name}': unknown window {op.window!r}")
        self.op, self.em = op, em
        self.key = sanitize(op.name)
        self.n_post, self.n_pre = em.size(op.post), em.size(op.pre)
        self.base_invariant = op.post_baseline is not None and op.post_baseline in invariant
        pre_invariant = op.pre in invariant and (op.pre_at is None or op.pre_at in invariant)
        if mode == "online" and op.window != "last":
            self.strategy = "online"
        elif op.window == "last":
            self.strategy = "final" if safe_last else "buffer"
        else:
            self.strategy = "sum" if pre_invariant else "buffer"
        self.samples_initial = op.window == "all"

    def slot_args(self) -> tuple[str, ...]:
        """Arguments of the generated step: this step's slot of the chunk buffers."""
        if self.strategy != "buffer":
            return ()
        return (f"P_{self.key}_j", f"R_{self.key}_j")

    def slot_views(self, ns: dict, j: int) -> tuple[torch.Tensor, ...]:
        """The tensors passed for :meth:`slot_args` at chunk slot ``j``."""
        if self.strategy != "buffer":
            return ()
        j = 0 if self.op.window == "last" else j
        return (ns[f"Pbuf_{self.key}"][j], ns[f"Rbuf_{self.key}"][j])

    # -- generated source -------------------------------------------------------------
    def _phi(self, var: str, known: Known, tag: str) -> tuple[list[str], str]:
        """Lines and the expression of ``f(var)``, reusing a known ``dst = f(var)``."""
        fn = self.op.fn
        if fn == "linear":
            return [], self.em.v(var)
        if (fn, var) in known:
            return [], self.em.v(known[(fn, var)])
        tmp = self.em.scratch(f"{tag}_{self.key}", self.em.size(var))
        return [phi_into(fn, self.em.v(var), tmp, self.em.fast_tanh)], tmp

    def _difference(
        self, var: str, known: Known, tag: str, initial: bool = False
    ) -> tuple[list[str], str]:
        """Lines and the expression of ``f(at + var) - f(at)``, reusing a known one
        (``initial``: before ``prepare()``, so without its prepared constants)."""
        key = (f"{self.op.fn}@{self.op.at}", var)
        if key in known:
            return [], self.em.v(known[key])
        tmp = self.em.scratch(f"{tag}_{self.key}", self.em.size(var))
        tag = f"{tag}_{self.key}"
        return self.em.difference_lines(self.op.fn, self.op.at, var, tmp, tag,
                                        prepared=not initial), tmp  # fmt: skip

    def _factor(
        self, var: str, known: Known, tag: str, initial: bool = False
    ) -> tuple[list[str], str]:
        """``f(var)``, or ``f(at + var) - f(at)`` with an operating point."""
        if self.op.at and self.op.fn != "linear":
            return self._difference(var, known, tag, initial)
        return self._phi(var, known, tag)

    def _fbase(self, known: Known, initial: bool = False) -> tuple[list[str], str | None]:
        base = self.op.post_baseline
        if base is None:
            return [], None
        if self.base_invariant and not initial:  # prepare() has computed f(base)
            if self.op.fn == "linear":
                return [], self.em.v(base)
            return [], self.em.scratch(f"fb_{self.key}", self.n_post)
        return self._factor(base, known, "fbase", initial)

    def prepare_lines(self) -> list[str]:
        """Once per run, after hoisting: ``f(post_baseline)`` (with ``at``:
        ``f(at + post_baseline) - f(at)``) if it is constant."""
        if self.base_invariant and self.op.fn != "linear" and self.strategy != "final":
            fb = self.em.scratch(f"fb_{self.key}", self.n_post)
            base = self.em.v(self.op.post_baseline)
            if self.op.at:
                self.em.functions["PHI_DIFF"] = phi_difference
                return [f"{fb}.copy_(PHI_DIFF({self.op.fn!r}, {self.em.v(self.op.at)}, {base}))"]
            return [phi_into(self.op.fn, base, fb, self.em.fast_tanh)]
        return []

    def _delta(self, dst: str, known: Known, initial: bool = False) -> tuple[list[str], str]:
        """Lines and the tensor holding ``f(post) - f(post_baseline)`` (``dst`` unless
        the factor is already held elsewhere). With ``at`` it is the difference of the
        two one-sided differences ``[f(at + post) - f(at)] - [f(at + base) - f(at)]``,
        each accurate to a few ulp (:mod:`~neurosim.backends.torch.difference`): the
        result's error is a few ulp of ``f'(at) (|post| + |base|)``, the order of the
        rounding already in the deviations ``post`` and ``base``."""
        lines, fpost = self._factor(self.op.post, known, "fpost", initial)
        blines, fbase = self._fbase(known, initial)
        if fbase is None:
            return lines, fpost
        return lines + blines + [f"torch.sub({fpost}, {fbase}, out={dst})"], dst

    def _delta_into(self, dst: str, known: Known, initial: bool = False) -> list[str]:
        lines, held = self._delta(dst, known, initial)
        return lines if held == dst else lines + [f"{dst}.copy_({held})"]

    def sample_lines(self, known: Known, initial: set[str] | None = None) -> list[str]:
        """Lines run at the rule's place in the step (buffers: into the slot arguments).

        ``initial``: the lines sampling the initial state instead (``sample0``). They
        run before ``hoist()``/``prepare()``, so ``f(baseline)`` is computed here, and a
        ``sum`` rule whose ``pre`` is among these hoisted outputs folds its first sample
        at once (``pre`` changes from its initial value to the hoisted constant)."""
        head = [f"# {self.op.name} [{self.strategy}]: {self.op.describe()}"]
        if self.strategy == "final":
            return []
        first = initial is not None
        if first and self.strategy == "sum" and self.op.pre in initial:
            tmp = self.em.scratch(f"delta_{self.key}", self.n_post)
            lines = self._delta_into(tmp, {}, initial=True)
            pre = self.em.v(self.op.pre)
            if self.op.pre_at:
                pre = self.em.scratch(f"pre_{self.key}", self.n_pre)
                lines.append(self._pre_into(pre))
            return (
                head
                + lines
                + [
                    f"accW_{self.key}.addmm_({tmp}.t(), {pre})",
                    f"accb_{self.key}.add_({tmp}.sum(0))",
                ]
            )
        if self.strategy == "sum":
            # delta first, then the sum: keeps float32 precision (delta << f(post))
            tmp = self.em.scratch(f"delta_{self.key}", self.n_post)
            lines, held = self._delta(tmp, known, first)
            return head + lines + [f"S_{self.key}.add_({held})"]
        if self.strategy == "buffer":
            P, R = self.slot_args()
            return head + self._delta_into(P, known, first) + [self._pre_into(R)]
        tmp = self.em.scratch(f"delta_{self.key}", self.n_post)
        W = self.em.v(self.op.weight)
        lines, held = self._delta(tmp, known, first)
        pre = self.em.v(self.op.pre)
        if self.op.pre_at:
            pre = self.em.scratch(f"pre_{self.key}", self.n_pre)
            lines.append(self._pre_into(pre))
        lines.append(f"{W}.addmm_({held}.t(), {pre}, beta=ob_{self.key}, alpha=oa_{self.key})")
        if self.op.bias:
            lines.append(f"{self.em.v(self.op.bias)}.add_({held}.sum(0), alpha=oa_{self.key})")
        return head + lines

    def _pre_into(self, dst: str) -> str:
        """``dst = pre`` (``pre_at + pre`` with an operating point)."""
        pre = self.em.v(self.op.pre)
        if self.op.pre_at:
            return f"torch.add({self.em.v(self.op.pre_at)}, {pre}, out={dst})"
        return f"{dst}.copy_({pre})"

    def _pre_value(self, ns: dict) -> torch.Tensor:
        pre = ns[self.em.v(self.op.pre)]
        return pre if self.op.pre_at is None else ns[self.em.v(self.op.pre_at)] + pre

    # -- runtime ----------------------------------------------------------------------
    def allocate(self, ns: dict, batch: int, chunk: int, like: torch.Tensor) -> None:
        """(Re)create this rule's accumulators in the namespace ``ns``."""
        k = self.key
        opts = {"dtype": like.dtype, "device": like.device}
        ns[f"accW_{k}"] = torch.zeros(self.n_post, self.n_pre, **opts)
        ns[f"accb_{k}"] = torch.zeros(self.n_post, **opts)
        if self.strategy == "sum":
            ns[f"S_{k}"] = torch.zeros(batch, self.n_post, **opts)
        if self.strategy == "buffer":
            slots = 1 if self.op.window == "last" else chunk
            for name, n in ((f"Pbuf_{k}", self.n_post), (f"Rbuf_{k}", self.n_pre)):
                buf = ns.get(name)
                if buf is None or buf.shape != (slots, batch, n) or buf.dtype != like.dtype:
                    buf = torch.empty(slots, batch, n, **opts)
                ns[name] = buf

    def set_online(self, ns: dict, lr: float, dt: float, batch: int) -> None:
        """Constants of the online update ``W <- (1 - lr dt decay) W + lr dt scale/B ...``."""
        ns[f"ob_{self.key}"] = 1.0 - lr * dt * self.op.decay
        ns[f"oa_{self.key}"] = lr * dt * self.op.scale / batch

    def flush(self, ns: dict, lo: int, hi: int) -> None:
        """Fold buffered slots ``lo:hi`` into the accumulators (one matmul)."""
        if self.strategy != "buffer" or hi <= lo:
            return
        k = self.key
        P = ns[f"Pbuf_{k}"][lo:hi].reshape(-1, self.n_post)
        R = ns[f"Rbuf_{k}"][lo:hi].reshape(-1, self.n_pre)
        ns[f"accW_{k}"].addmm_(P.t(), R)
        if self.op.bias:
            ns[f"accb_{k}"].add_(P.sum(0))

    def fold(self, ns: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """This namespace's (shard's) sums ``(sum delta pre^T, sum delta)``, with the
        running sum (``sum``) or the final state (``final``) folded in."""
        k = self.key
        accW, accb = ns[f"accW_{k}"], ns[f"accb_{k}"]
        if self.strategy == "sum":
            S = ns[f"S_{k}"]
            accW.addmm_(S.t(), self._pre_value(ns))
            accb.add_(S.sum(0))
        elif self.strategy == "final":
            delta = self._final_delta(ns)
            accW.addmm_(delta.t(), self._pre_value(ns))
            accb.add_(delta.sum(0))
        return accW, accb

    def _final_delta(self, ns: dict) -> torch.Tensor:
        """``f(post) - f(post_baseline)`` on the final state (with ``at``: the
        two-sided :func:`~neurosim.backends.torch.difference.phi_difference`)."""
        op, v = self.op, self.em.v
        post = ns[v(op.post)]
        base = ns[v(op.post_baseline)] if op.post_baseline is not None else None
        if op.at:
            return phi_difference(op.fn, ns[v(op.at)], post, base)
        delta = phi(op.fn, post, self.em.fast_tanh)
        return delta if base is None else delta - phi(op.fn, base, self.em.fast_tanh)

    def result(
        self, accW: torch.Tensor, accb: torch.Tensor, W: torch.Tensor, n_samples: int, batch: int
    ) -> dict[str, torch.Tensor]:
        """The update ``{weight: Delta W, bias: Delta b}`` from the sums of all shards,
        averaged over batch and window (``W``: the current weight, for ``decay``)."""
        op = self.op
        c = op.scale / (batch * n_samples)
        out = {op.weight: accW * c - op.decay * W if op.decay else accW * c}
        if op.bias:
            out[op.bias] = accb * c
        return out

    def finalize(self, ns: dict, n_samples: int, batch: int) -> dict[str, torch.Tensor]:
        """:meth:`fold` and :meth:`result` of one namespace holding the whole batch."""
        accW, accb = self.fold(ns)
        return self.result(accW, accb, ns[self.em.v(self.op.weight)], n_samples, batch)
