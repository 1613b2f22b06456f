"""The simulator's per-sample state: a dict that checks what is written into it."""

from __future__ import annotations

import torch


class StateDict(dict):
    """Variable name -> ``(batch, n)`` tensor (time-varying inputs ``(T, batch, n)``).

    Assigning to an existing variable converts the value to the simulator's dtype and
    device and checks its shape, so that ``sim.state["h1.v"] = v0`` sets an initial
    condition safely; the next ``run`` uses the new tensor.
    """

    def __init__(self, dtype: torch.dtype, device: torch.device) -> None:
        super().__init__()
        self.dtype, self.device = dtype, device

    def __setitem__(self, name: str, value: object) -> None:
        t = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        if name in self and tuple(t.shape) != tuple(self[name].shape):
            raise ValueError(
                f"TorchSimulator.state['{name}']: got shape {tuple(t.shape)}, the variable "
                f"has shape {tuple(self[name].shape)}; call reset() to change the batch"
            )
        super().__setitem__(name, t)
