"""Issue 11 §3: importing neurosim sets a passive OpenMP wait policy, unless set."""

from __future__ import annotations

import os
import subprocess
import sys

SHOW = "import neurosim, os; print(os.environ['OMP_WAIT_POLICY'])"


def _policy_after_import(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return out.stdout.strip()


def test_import_sets_passive_wait_policy() -> None:
    assert _policy_after_import(None) == "PASSIVE"


def test_a_users_own_wait_policy_is_kept() -> None:
    assert _policy_after_import("ACTIVE") == "ACTIVE"
