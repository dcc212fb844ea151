"""Prometheus for the tests: Debian's ``prometheus`` package (which also carries ``promtool``), installed
by the test tooling when it is missing. CI runs as root on a clean machine, so it can install it."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest

SKIP_REASON = (
    "Prometheus is not installed and could not be installed "
    "(needs root and apt-get with access to Debian's package 'prometheus')"
)


def _which(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)


@cache
def install() -> bool:
    """True when ``prometheus`` and ``promtool`` are (now) available."""
    if _which("prometheus") and _which("promtool"):
        return True
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [apt, "update", "-qq"],
        [apt, "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
    ):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if done.returncode != 0:
            return False
    return bool(_which("prometheus") and _which("promtool"))


def binary(name: str) -> str:
    """Path of ``prometheus`` or ``promtool``; skips the test when they cannot be had."""
    if not install():
        pytest.skip(SKIP_REASON)
    found = _which(name)
    assert found is not None
    return found
