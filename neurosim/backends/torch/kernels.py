"""Source templates of the elementwise kernels the code generator inlines.

Every template writes into a preallocated tensor (``out=`` or an in-place method),
so a generated step allocates nothing for the nonlinearities of
:data:`neurosim.ir.ops.NONLINEARITIES`:

=============  ==========================================
``linear``     ``phi(v) = v``
``tanh``       ``phi(v) = tanh(v)``
``relu``       ``phi(v) = max(v, 0)``
``logistic``   ``phi(v) = 1 / (1 + exp(-v))``
``softplus``   ``phi(v) = log(1 + exp(v))``
``leaky_relu`` ``phi(v) = max(v, LEAKY_SLOPE * v)``
=============  ==========================================
"""

from __future__ import annotations

import zlib

import torch

from neurosim.ir.ops import NONLINEARITIES

#: negative-side slope of ``leaky_relu`` (torch's default).
LEAKY_SLOPE = 0.01

_INTO = {
    "linear": "{dst}.copy_({src})",
    "tanh": "torch.tanh({src}, out={dst})",
    "relu": "torch.clamp({src}, min=0.0, out={dst})",
    "logistic": "torch.sigmoid({src}, out={dst})",
    "softplus": "{dst}.copy_(F.softplus({src}))",
    "leaky_relu": "{dst}.copy_(F.leaky_relu({src}, " + repr(LEAKY_SLOPE) + "))",
}

#: ``(offset, span)`` mapping ``phi`` to a spike probability in [0, 1] (SpikeSoma).
RATE_RANGE = {"tanh": (1.0, 2.0), "logistic": (0.0, 1.0)}


def check_fn(fn: str, where: str) -> None:
    """Raise a ValueError naming ``where`` if ``fn`` is not a known nonlinearity."""
    if fn not in NONLINEARITIES:
        raise ValueError(f"{where}: unknown nonlinearity {fn!r}; use one of {NONLINEARITIES}")


#: ``tanh(x) = 2 sigmoid(2x) - 1``: on the CPU builds measured here torch's sigmoid is
#: ~8x faster than its tanh (128x256 float32, 1 thread: 16 us for these in-place ops vs
#: 123 us; float64 48 vs 239 us) at an absolute error below 2 ulp of 1. The last op is
#: ``-1 + 2 s`` in one kernel (``NEG_ONE``: a 0-dim tensor, see :data:`NAMESPACE`),
#: bit for bit ``(2 s) - 1`` since ``2 s`` is exact.
_FAST_TANH = (
    "torch.mul({src}, 2.0, out={dst}); torch.sigmoid({dst}, out={dst}); "
    "torch.add(NEG_ONE, {dst}, alpha=2.0, out={dst})"
)

#: globals every generated function (and :func:`phi`) runs with.
NAMESPACE = {
    "torch": torch,
    "F": torch.nn.functional,
    "NEG_ONE": torch.tensor(-1.0, dtype=torch.float64),
    "ONE": torch.tensor(1.0, dtype=torch.float64),
}


def phi_into(fn: str, src: str, dst: str, fast_tanh: bool = False) -> str:
    """One source line computing ``dst = phi(src)`` in place into ``dst``."""
    if fn == "linear" and src == dst:
        return "pass"
    if fn == "tanh" and fast_tanh:
        return _FAST_TANH.format(src=src, dst=dst)
    return _INTO[fn].format(src=src, dst=dst)


def phi(fn: str, x: torch.Tensor, fast_tanh: bool = False) -> torch.Tensor:
    """``phi(x)`` as a new tensor, computed exactly as the generated code does."""
    out = torch.empty_like(x)
    ns = {**NAMESPACE, "x": x, "out": out}
    exec(phi_into(fn, "x", "out", fast_tanh), ns)
    return out


def default_seed(op_name: str) -> int:
    """Stable seed for an op without ``noise_seed`` (CRC32 of its name)."""
    return zlib.crc32(op_name.encode())


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) % (2**63))
    return g
