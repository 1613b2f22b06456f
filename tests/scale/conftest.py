"""Fixtures of the scale-out tests: one local Ray for every test that needs it.

Starting Ray costs seconds (13-21 s on the shared development machine), so the sweep and
comparison tests share one session; the code under test reuses a running session and
leaves it running (neurosim.scale.ray_backend.ray_session).
"""

from __future__ import annotations

import logging
import os

import pytest


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray (2 CPUs, no GPU), started once per test session."""
    ray = pytest.importorskip(
        "ray", reason="Ray Tune is the optional extra neurosim[sweep] (make setup installs it)"
    )
    pytest.importorskip("optuna", reason="Optuna is part of the extra neurosim[sweep]")
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=max(2, os.cpu_count() or 1),
            num_gpus=0,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    yield ray
    if started:
        ray.shutdown()
