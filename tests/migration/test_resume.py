"""A real run killed midway (SIGKILL, in the middle of a batch) and run again ends exactly where one clean run
ends: same persons, years, payments, identities, cards, legacy ids, markers, events and report. Through the
``migrate-legacy`` command, as an operator would run it, on a generated pair of exports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from enrollment.db import infra
from enrollment.legacy.generator import generate_pair
from sqlalchemy import text

from shared.clock import now_china
from shared.db import Database
from tests.conftest import DatabaseFactory

ROOT = Path(__file__).resolve().parents[2]
PERSONS = 4000


def _command(urbmi: Path, ncms: Path, url: str, settlement_url: str, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "platformctl",
        "migrate-legacy",
        "--urbmi",
        str(urbmi),
        "--ncms",
        str(ncms),
        "--database-url",
        url,
        "--settlement-database-url",
        settlement_url,
        "--report",
        str(report),
        "--batch-size",
        "20",
    ]


async def _run(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def _count(url: str, sql: str) -> int:
    db = Database(url)
    try:
        async with db.session() as session:
            return int((await session.execute(text(sql))).scalar_one())
    finally:
        await db.dispose()


async def _state(url: str) -> dict[str, Any]:
    """The database as facts keyed by ID number: no generated keys (psn_no, row ids), no timestamps."""
    db = Database(url)
    queries = {
        "persons": "SELECT certno, psn_name, gend, brdy, admdvs FROM persons",
        "enrollments": "SELECT p.certno, e.year, e.insutype, e.kind, e.status, e.psn_type, e.due_fen,"
        " e.paid_fen, e.coverage_begin, e.coverage_end, e.enrolled_on, e.activated_on"
        " FROM enrollments e JOIN persons p ON p.psn_no = e.psn_no",
        "payments": "SELECT p.certno, e.year, y.payer, y.amount_fen, y.receipt_no, y.paid_on FROM payments y"
        " JOIN enrollments e ON e.id = y.enrollment_id JOIN persons p ON p.psn_no = e.psn_no",
        "identities": "SELECT p.certno, i.psn_idet_type, i.begin_date, i.end_date FROM identity_categories i"
        " JOIN persons p ON p.psn_no = i.psn_no",
        "cards": "SELECT p.certno, c.card_no, c.card_sn, c.status, c.issued_on, c.changed_on, c.replaced_by"
        " FROM cards c JOIN persons p ON p.psn_no = c.psn_no",
        "legacy_ids": "SELECT insutype, legacy_psn_id, certno FROM legacy_person_ids",
        "markers": "SELECT certno, digest, sources FROM legacy_migrated_persons",
    }
    try:
        async with db.session() as session:
            state: dict[str, Any] = {
                name: sorted(tuple(str(v) for v in row) for row in (await session.execute(text(sql))).all())
                for name, sql in queries.items()
            }
            psn_to_cert: dict[str, str] = dict(
                (await session.execute(text("SELECT psn_no, certno FROM persons"))).all()
            )
            events = []
            for (payload,) in (
                await session.execute(infra.outbox.select().with_only_columns(infra.outbox.c.payload))
            ).all():
                event = json.loads(payload)
                data = dict(event["data"])
                data["psn_no"] = psn_to_cert[data["psn_no"]]
                data.pop("enrollment_id", None)
                events.append(
                    json.dumps(
                        {"type": event["type"], "key": psn_to_cert[event["key"]], **data}, sort_keys=True
                    )
                )
            state["events"] = sorted(events)
    finally:
        await db.dispose()
    return state


async def test_a_killed_run_resumes_to_the_result_of_one_clean_run(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    pair = generate_pair(tmp_path / "exports", PERSONS, seed=7, today=now_china().date())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

    clean_url = databases.migrated("enrollment")
    code, output = await _run(
        _command(pair.urbmi, pair.ncms, clean_url, databases.migrated("settlement"), tmp_path / "clean.csv"),
        env,
    )
    assert code == 1, output  # 1: the report lists persons left for a clerk
    assert await _count(clean_url, "SELECT count(*) FROM persons") == pair.expected_migrated

    url = databases.migrated("enrollment")
    settlement_url = databases.migrated("settlement")
    process = await asyncio.create_subprocess_exec(
        *_command(pair.urbmi, pair.ncms, url, settlement_url, tmp_path / "killed.csv"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while process.returncode is None and time.monotonic() < deadline:
        if await _count(url, "SELECT count(*) FROM legacy_migrated_persons") >= 300:
            process.send_signal(signal.SIGKILL)
            break
        await asyncio.sleep(0.02)
    await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done = await _count(url, "SELECT count(*) FROM legacy_migrated_persons")
    assert 300 <= done < pair.expected_migrated
    # Every person is whole: each marker came with its person, and nothing without a marker was left.
    assert await _count(url, "SELECT count(*) FROM persons") == done
    assert not (tmp_path / "killed.csv").exists()

    code, output = await _run(
        _command(pair.urbmi, pair.ncms, url, settlement_url, tmp_path / "resumed.csv"), env
    )
    assert code == 1, output
    assert f"{done} already migrated" in output
    assert await _state(url) == await _state(clean_url)
    assert (tmp_path / "resumed.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()
