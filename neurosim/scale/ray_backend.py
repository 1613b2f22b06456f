"""Ray (Tune) as the engine of sweeps and comparisons: the optional import, the session
and the resource rules.

* Ray Tune and Optuna are the optional extra ``neurosim[sweep]``; without them
  :func:`require_ray` raises :class:`MissingExtraError` saying how to install them.
* :func:`ray_session` connects to an existing cluster (``address``, e.g. ``"auto"`` or
  ``"ray://head:10001"``) or starts a local Ray on this machine's cores, CPU-only unless
  GPUs are asked for; a session that is already running (e.g. in a notebook) is reused
  and left running.
* Resource rules: each trial gets ``cpus_per_trial`` CPUs from Ray and runs its torch
  code on exactly that many threads; at most ``total CPUs // cpus_per_trial`` trials
  (or the requested concurrency, if smaller) run at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from neurosim.training.config import ConfigError

INSTALL_HINT = (
    "pip install 'neurosim[sweep]' (Ray Tune and Optuna; in a source checkout: "
    "make setup, or pip install -e '.[sweep]')"
)
#: environment of the Tune driver: our own progress lines replace Tune's console output
TUNE_ENV = {"RAY_AIR_NEW_OUTPUT": "0"}


class MissingExtraError(ConfigError):
    """Ray Tune / Optuna are not installed; the message says how to install them."""


def require_ray(command: str = "neurosim sweep") -> Any:
    """Import and return ``ray`` (with ``ray.tune``), or raise :class:`MissingExtraError`."""
    try:
        import ray
        import ray.tune  # noqa: F401
    except ImportError as err:
        raise MissingExtraError(
            f"{command} needs Ray Tune ({err.name or err} is not installed): {INSTALL_HINT}"
        ) from None
    return ray


def require_optuna(command: str = "neurosim sweep") -> Any:
    """Import and return ``optuna`` (TPE sampler), or raise :class:`MissingExtraError`."""
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        raise MissingExtraError(
            f"{command} with search.algorithm tpe needs Optuna: {INSTALL_HINT}"
        ) from None
    return optuna


@contextmanager
def ray_session(address: str | None = None, gpus: bool = False) -> Iterator[Any]:
    """A Ray session for the duration of the block.

    Parameters
    ----------
    address
        An existing cluster (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:10001"``);
        ``None``: start Ray locally on this machine's CPUs.
    gpus
        Let a local Ray see this machine's GPUs (default: CPU-only).
    """
    ray = require_ray()
    for key, value in TUNE_ENV.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "configure_logging": True,
    }
    if address is None:
        options["num_cpus"] = os.cpu_count() or 1
        if not gpus:
            options["num_gpus"] = 0
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray"
        raise ConfigError(f"could not start {where}: {err}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray: Any) -> int:
    """CPUs Ray can schedule on (the whole cluster)."""
    return int(ray.cluster_resources().get("CPU", 1))


def cluster_gpus(ray: Any) -> float:
    """GPUs Ray can schedule on (the whole cluster)."""
    return float(ray.cluster_resources().get("GPU", 0))


def plan_concurrency(
    ray: Any, cpus_per_trial: int, gpus_per_trial: float, requested: int | None
) -> int:
    """How many trials run at once: what fits the cluster, capped by ``requested``.

    Raises
    ------
    ConfigError
        If one trial needs more CPUs or GPUs than the cluster has.
    """
    cpus = cluster_cpus(ray)
    if cpus_per_trial > cpus:
        raise ConfigError(
            f"resources.cpus_per_trial={cpus_per_trial} exceeds the {cpus} CPUs Ray sees"
        )
    fit = cpus // cpus_per_trial
    if gpus_per_trial > 0:
        gpus = cluster_gpus(ray)
        if gpus_per_trial > gpus:
            raise ConfigError(
                f"resources.gpus_per_trial={gpus_per_trial} but Ray sees {gpus:g} GPUs "
                "(a local Ray is CPU-only unless a trial asks for a GPU; on a cluster, "
                "start its nodes with GPUs)"
            )
        fit = min(fit, int(gpus // gpus_per_trial))
    return max(1, min(fit, requested) if requested is not None else fit)


__all__ = [
    "INSTALL_HINT",
    "MissingExtraError",
    "cluster_cpus",
    "plan_concurrency",
    "ray_session",
    "require_optuna",
    "require_ray",
]
