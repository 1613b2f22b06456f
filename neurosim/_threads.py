"""A passive OpenMP wait policy by default (issue 11 §3), set before torch is imported.

torch's intra-op parallel ops (matmuls, elementwise kernels on large tensors) run on
OpenMP threads that, by default, *spin* while they wait for each other. On a machine
whose cores other jobs hold, a spinning thread burns the time slice its partner
needs: every parallel region then lasts as long as the slowest thread is descheduled.
Measured on 2 cores (``benchmarks/threads.py``, the ``make demo`` DFC-SSA epoch,
load 11-12 from other jobs): torch's default 721 s per epoch, a passive wait policy
49 s (48 s with a busy loop beside it), one thread 89 s (167 s with the busy loop).

So importing neurosim sets ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep) unless
the environment already says otherwise. OpenMP reads it when torch is first imported:
a program that imports torch before neurosim keeps its own setting (export the
variable yourself there).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
