"""The nemesis run in CI: a fixed set of seeds, about a minute of faults per backend (see
``tests/faults/nemesis.py`` for what it does and checks). ``NEMESIS_SEED`` / ``NEMESIS_DURATION_S`` replay
or lengthen a run; a failure names its seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from platformctl.pgtemp import PostgresServer
from tests.conftest import BACKENDS
from tests.faults.nemesis import run

SEED = int(os.environ.get("NEMESIS_SEED", "20261205"))
DURATION_S = float(os.environ.get("NEMESIS_DURATION_S", "45"))

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("backend", BACKENDS)
async def test_money_invariants_hold_under_faults(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server: PostgresServer | None = request.getfixturevalue("pg_server") if backend == "postgres" else None
    result = await run(SEED, backend, DURATION_S, tmp_path, server=server)
    print(result.summary())
    for event in result.events:
        print(" ", event)
    # The run did what it is for: faults happened, and money moved through every kind of care.
    assert len(result.faults) >= 4, result.faults
    assert result.settlements >= 20, result.summary()
    assert result.problems == [], f"seed {SEED} ({backend}): " + "\n".join(result.problems[:30])
