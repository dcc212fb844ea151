"""A smoke test of the load benchmark (bench/settlement_load.py): a tiny data set and a few seconds of each
flow, and of a working day's mix (mapped pharmacy lines, chronic-disease registrations and purchases),
asserting only correctness, which the harness checks itself and reports in its exit status: every request
answered infcode 0, every settlement with a fund payment booked exactly once in the ledger (the journal's
settlement entries are exactly those setl_ids with the same amounts), the settlement database holding
exactly the settlements answered, and a zero trial balance. No figure is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKENDS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


# The harness on one backend (the first under test): it is the benchmark's own smoke test; the platform's
# behaviour on each backend is what the rest of the suite checks.
@pytest.mark.parametrize("backend", BACKENDS[:1])
def test_every_settlement_answered_and_booked_once(backend: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "settlement_load.py"),
            "--backends",
            backend,
            "--persons",
            "300",
            "--phase",
            "pharmacy:concurrency=2:duration=3",
            "--phase",
            "outpatient:concurrency=2:duration=2",
            "--phase",
            "inpatient:rate=3:duration=2:lines=20:prepare=1",
            "--phase",
            "mix:concurrency=2:duration=2",
            "--phase",
            "day:concurrency=2:duration=3",
            "--pgbench-seconds",
            "0",
            # On a busy CI machine a settlement may take longer than the gateway's 5 s before it answers
            # "outcome unknown" (an error here); this test is about correctness, not latency.
            "--env",
            "GATEWAY_DOWNSTREAM_TIMEOUT_S=60",
            "--ledger-timeout",
            "120",
            "--no-json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "all checks passed" in done.stdout
    assert " 0 errors" in done.stdout
    # The day's preparation went through the gateway too: 15 pharmacies × 40 drugs mapped with 3301 and a
    # quarter of the 300 persons registered with 2503, each answered infcode 0 (else the harness stops).
    assert "600 drugs mapped (3301) by 15 pharmacies, 75 chronic patients registered (2503)" in done.stdout


def test_the_run_logs_table_names_what_a_run_changed_in_postgresql() -> None:
    """A run made with ``--pg-setting`` (a server setting changed for the experiment) is labelled in the
    run log's table beside its workers, so that its figures are not read as the platform's as shipped."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import settlement_load
    finally:
        sys.path.remove(str(ROOT / "bench"))
    phase = {
        "phase": "pharmacy c=16, 30 s",
        "settlements_per_s": 100.0,
        "latency": {"2102": {"count": 3, "p50_ms": 1, "p99_ms": 2, "max_ms": 3}},
        "errors": 0,
        "ledger": {"catch_up_s": 0.01, "entries_per_s": 90.0},
        "load_before": [1.0],
        "load_after": [2.0],
    }
    run = {"date": "2026-12-07T18:53:27", "git_commit": "abc1234", "persons": 20000, "workers": {}}
    shipped = settlement_load._row(run, "postgres", {"ok": True}, phase)
    assert "| 1 each |" in shipped
    changed = settlement_load._row(
        {**run, "workers": {"settlement": 2}, "postgres_overrides": {"synchronous_commit": "off"}},
        "postgres",
        {"ok": True},
        phase,
    )
    assert "| settlement=2; PostgreSQL synchronous_commit=off |" in changed
    experiment = settlement_load._row({**run, "label": "experiment: relay waits 5 ms"}, "postgres", {}, phase)
    assert "| 1 each; experiment: relay waits 5 ms |" in experiment
