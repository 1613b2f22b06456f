"""``phi(a + x) - phi(a + y)`` without subtracting two rates (torch kernels).

The rate op of a model in deviation variables (:class:`~neurosim.ir.ops.NonlinearityDifference`,
:func:`neurosim.ir.deviation.deviation_form`) and the post factor of its local rules.
Forming ``phi(a + x)`` and ``phi(a + y)`` and subtracting them keeps only the digits of
``phi(a)`` that the deviations ``x, y`` reach: nothing in float32 once they are ~1e-7
of ``a``. Every formula here is a product of factors that are each accurate to a few
ulp, with ``d = x - y`` the only difference taken (of the deviations themselves):

==============  ============================================================================
``tanh``        ``2 sign(d) s(2 hi) s(-2 lo) (1 - exp(-2|d|))``
``logistic``    ``sign(d) s(hi) s(-lo) (1 - exp(-|d|))``
``softplus``    ``sign(d) log1p(s(lo) expm1(|d|))``
``relu``        ``d`` where both ``a + x, a + y > 0``, else ``relu(a+x) - relu(a+y)``
``leaky_relu``  ``d`` / ``slope d`` on a common piece, else the rates' difference
``linear``      ``d``
==============  ============================================================================

(``s`` the logistic function, ``hi``/``lo`` the larger/smaller of ``a + x, a + y``;
where the two arguments are on different linear pieces the rates are far apart and
their difference loses nothing.) Every factor is bounded, so nothing overflows.

The generated step uses a cheaper one-sided form for ``tanh`` (and ``logistic`` as
``tanh`` of half the argument) when ``a`` is constant over the run, from the addition
theorem with ``T = tanh(a)`` and ``S = 1 - T^2 = 1/cosh(a)^2`` computed once:

.. math::
    \\tanh(a + x) - \\tanh(a) = \\frac{S \\tanh x}{1 + T \\tanh x}

(one ``tanh`` per element and step, as the absolute form's rate). It is exact while
``|a| <`` :data:`TANH_LIMIT` (then ``|T| < 1`` and the denominator cannot round to 0);
a run whose operating point goes beyond falls back to :func:`phi_difference`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neurosim.backends.torch.kernels import LEAKY_SLOPE

#: largest ``|a|`` (after the argument scale) for which ``tanh(a)`` rounds below 1
#: with a margin, so ``1 + tanh(a) tanh(x) > 0`` in that dtype.
TANH_LIMIT = {torch.float32: 8.0, torch.float64: 18.0, torch.float16: 3.0, torch.bfloat16: 3.0}

#: (scale of the argument, scale of the result) reducing ``fn`` to ``tanh``
#: (``s(z) = (1 + tanh(z/2)) / 2``).
VIA_TANH = {"tanh": (1.0, 1.0), "logistic": (0.5, 0.5)}


def _bounded_logistic_difference(b: Tensor, c: Tensor, d: Tensor, k: float) -> Tensor:
    """``s(k b) - s(k c)`` with ``d = b - c`` given: ``sign(d) s(k hi) s(-k lo)
    (1 - exp(-k|d|))``, every factor in [0, 1]."""
    up = d >= 0
    hi, lo = torch.where(up, b, c), torch.where(up, c, b)
    mag = torch.sigmoid(k * hi) * torch.sigmoid(-k * lo) * -torch.expm1(-k * d.abs())
    return torch.where(up, mag, -mag)


def phi_difference(
    fn: str, a: Tensor, x: Tensor, y: Tensor | None = None, compiled: bool = True
) -> Tensor:
    """``phi(a + x) - phi(a + y)`` (``y=None``: ``phi(a + x) - phi(a)``) as a new tensor,
    by the exact identities of the module docstring.

    On the CPU (float32/float64 tensors of one shape) the compiled kernel of
    :func:`~neurosim.backends.torch.fused.difference_kernel` evaluates the same
    formulas in one pass (``compiled=False``: torch ops, ~15 calls)."""
    if compiled and _compiled_ok(a, x, y):
        from neurosim.backends.torch import fused

        kernel = fused.difference_kernel(a.dtype)
        if kernel is not None:
            a, x = a.contiguous(), x.contiguous()
            yc = None if y is None else y.contiguous()
            out = torch.empty_like(x)
            kernel(x.numel(), fused.DIFFERENCE_FNS.index(fn), a.data_ptr(), x.data_ptr(),
                   None if yc is None else yc.data_ptr(), out.data_ptr())  # fmt: skip
            return out
    d = x if y is None else x - y
    if fn == "linear":
        return d.clone() if y is None else d
    b = a + x
    c = a if y is None else a + y
    if fn == "tanh":
        return 2.0 * _bounded_logistic_difference(b, c, d, 2.0)
    if fn == "logistic":
        return _bounded_logistic_difference(b, c, d, 1.0)
    if fn in ("relu", "leaky_relu"):
        slope = 0.0 if fn == "relu" else LEAKY_SLOPE
        pos_b, pos_c = b > 0, c > 0
        rate_b = torch.where(pos_b, b, slope * b)
        rate_c = torch.where(pos_c, c, slope * c)
        same = torch.where(pos_b & pos_c, d, slope * d)
        return torch.where(pos_b == pos_c, same, rate_b - rate_c)
    if fn == "softplus":
        up = d >= 0
        lo = torch.where(up, c, b)
        ad = d.abs()
        near = torch.log1p(torch.sigmoid(lo) * torch.expm1(ad.clamp(max=20.0)))
        far = torch.nn.functional.softplus(b) - torch.nn.functional.softplus(c)
        mag = torch.where(ad <= 20.0, near, far.abs())
        return torch.where(up, mag, -mag)
    raise ValueError(f"phi_difference: unknown nonlinearity {fn!r}")


def _compiled_ok(a: Tensor, x: Tensor, y: Tensor | None) -> bool:
    return (
        a.device.type == "cpu"
        and a.dtype in (torch.float32, torch.float64)
        and a.shape == x.shape
        and x.dtype == a.dtype
        and (y is None or (y.shape == x.shape and y.dtype == a.dtype))
        and not (a.requires_grad or x.requires_grad)
    )


def tanh_point(a: Tensor, scale: float) -> tuple[Tensor, Tensor, bool]:
    """``(T, S, ok)`` of the one-sided form at ``a``: ``T = tanh(scale a)``,
    ``S = 1/cosh(scale a)^2`` and whether every ``|scale a| <`` :data:`TANH_LIMIT`."""
    z = a * scale
    ok = bool((z.abs() < TANH_LIMIT[a.dtype]).all()) if z.numel() else True
    return torch.tanh(z), torch.cosh(z).pow_(-2), ok


def one_sided_lines(
    fn: str, at: str, x: str, dst: str, T: str, S: str, ok: str, tmp: str
) -> list[str]:
    """Generated lines of ``dst = phi(at + x) - phi(at)`` for ``fn`` in :data:`VIA_TANH`
    with ``T``, ``S``, ``ok`` prepared by :func:`tanh_point` (``tmp``: a scratch).

    ``S t / (1 + T t)`` with ``t = tanh(scale x)``: 4 torch calls (6 for logistic)."""
    c, out = VIA_TANH[fn]
    arg = x if c == 1.0 else tmp
    fast = [] if c == 1.0 else [f"    torch.mul({x}, {c!r}, out={tmp})"]
    fast += [
        f"    torch.tanh({arg}, out={tmp})",
        f"    torch.addcmul(ONE, {tmp}, {T}, out={dst})",
        f"    {tmp}.mul_({S})",
        f"    torch.div({tmp}, {dst}, out={dst})",
    ]
    if out != 1.0:
        fast.append(f"    {dst}.mul_({out!r})")
    slow = [f"    {dst}.copy_(PHI_DIFF({fn!r}, {at}, {x}))"]
    return [f"if {ok}:", *fast, "else:", *slow]
