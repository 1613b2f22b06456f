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
        if mode == "online" and op.window != "last":
            self.strategy = "online"
        elif op.window == "last":
            self.strategy = "final" if safe_last else "buffer"
        else:
            self.strategy = "sum" if op.pre in invariant else "buffer"
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

    def _fbase(self, known: Known, initial: bool = False) -> tuple[list[str], str | None]:
        base = self.op.post_baseline
        if base is None:
            return [], None
        if self.base_invariant and not initial:  # prepare() has computed f(base)
            if self.op.fn == "linear":
                return [], self.em.v(base)
            return [], self.em.scratch(f"fb_{self.key}", self.n_post)
        return self._phi(base, known, "fbase")

    def prepare_lines(self) -> list[str]:
        """Once per run, after hoisting: ``f(post_baseline)`` if it is constant."""
        if self.base_invariant and self.op.fn != "linear" and self.strategy != "final":
            fb = self.em.scratch(f"fb_{self.key}", self.n_post)
            base = self.em.v(self.op.post_baseline)
            return [phi_into(self.op.fn, base, fb, self.em.fast_tanh)]
        return []

    def _delta_into(self, dst: str, known: Known, initial: bool = False) -> list[str]:
        lines, fpost = self._phi(self.op.post, known, "fpost")
        blines, fbase = self._fbase(known, initial)
        lines += blines
        if fbase is None:
            return lines + [f"{dst}.copy_({fpost})"]
        return lines + [f"torch.sub({fpost}, {fbase}, out={dst})"]

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
        pre = self.em.v(self.op.pre)
        if first and self.strategy == "sum" and self.op.pre in initial:
            tmp = self.em.scratch(f"delta_{self.key}", self.n_post)
            return (
                head
                + self._delta_into(tmp, {}, initial=True)
                + [
                    f"accW_{self.key}.addmm_({tmp}.t(), {pre})",
                    f"accb_{self.key}.add_({tmp}.sum(0))",
                ]
            )
        if self.strategy == "sum":
            if self.op.post_baseline is None:
                lines, fpost = self._phi(self.op.post, known, "fpost")
                return head + lines + [f"S_{self.key}.add_({fpost})"]
            # delta first, then the sum: keeps float32 precision (delta << f(post))
            tmp = self.em.scratch(f"delta_{self.key}", self.n_post)
            return head + self._delta_into(tmp, known, first) + [f"S_{self.key}.add_({tmp})"]
        if self.strategy == "buffer":
            P, R = self.slot_args()
            return head + self._delta_into(P, known, first) + [f"{R}.copy_({pre})"]
        tmp = self.em.scratch(f"delta_{self.key}", self.n_post)
        W = self.em.v(self.op.weight)
        lines = self._delta_into(tmp, known, first)
        lines.append(f"{W}.addmm_({tmp}.t(), {pre}, beta=ob_{self.key}, alpha=oa_{self.key})")
        if self.op.bias:
            lines.append(f"{self.em.v(self.op.bias)}.add_({tmp}.sum(0), alpha=oa_{self.key})")
        return head + lines

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
        k, op = self.key, self.op
        accW, accb = ns[f"accW_{k}"], ns[f"accb_{k}"]
        if self.strategy == "sum":
            S = ns[f"S_{k}"]
            accW.addmm_(S.t(), ns[self.em.v(op.pre)])
            accb.add_(S.sum(0))
        elif self.strategy == "final":
            fast = self.em.fast_tanh
            delta = phi(op.fn, ns[self.em.v(op.post)], fast)
            if op.post_baseline is not None:
                delta = delta - phi(op.fn, ns[self.em.v(op.post_baseline)], fast)
            accW.addmm_(delta.t(), ns[self.em.v(op.pre)])
            accb.add_(delta.sum(0))
        return accW, accb

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
