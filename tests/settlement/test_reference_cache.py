"""The reference-data cache (``settlement.reference``): a settlement reads institutions, sanctions, policies,
the catalogue, the rules' settings and switch-overs from memory, and still sees every change committed
before it starts, made by any process. Two settlement services on one database stand for two replicas.
Demo policy at a pharmacy: 20.00 yearly deductible, then 50 %."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from settlement import reference
from settlement.config import SettlementSettings
from settlement.db import reference_version
from settlement.institutions import service as institutions
from settlement.institutions.models import Institution
from settlement.main import create_app
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import (
    HOSPITAL,
    PHARMACY,
    SettlementApi,
    new_person,
    purchase,
    seed_reference_data,
)
from tests.settlement.test_encounters import _line, _ok, _open
from tests.settlement.test_encounters import _settle as stay_settle
from tests.settlement.test_enrollment_events import card_event, with_card
from tests.support.apps import build, running

URL = "/api/v1/pharmacy-settlements"
REFERENCE_TABLES = ("institutions", "sanctions", "benefit_policies", "catalogue_items", "signal_rules")


@pytest.fixture
async def replicas(databases: DatabaseFactory) -> AsyncIterator[tuple[SettlementApi, SettlementApi]]:
    url = databases.migrated("settlement")
    apps = [
        build(create_app, SettlementSettings, database_url=url, run_background_workers=False) for _ in "ab"
    ]
    db = Database(url)
    async with running(apps[0]) as a, running(apps[1]) as b:
        first, second = SettlementApi(a, db, apps[0]), SettlementApi(b, db, apps[1])
        await seed_reference_data(first)
        yield first, second
    await db.dispose()


async def _settle(api: SettlementApi, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(URL, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_change_made_by_one_replica_is_seen_by_the_other(
    replicas: tuple[SettlementApi, SettlementApi],
) -> None:
    a, b = replicas
    psn_no, certno = new_person()
    await a.cover(psn_no, certno)
    # E is not in the catalogue yet: 10.00 fully self-paid. A 30.00 甲: (30.00 - 20.00) x 50 % = 5.00.
    first = await _settle(a, purchase(psn_no, certno, [("A", "60", "0.5", 3000), ("E", "1", "10", 1000)]))
    assert (first["fully_self_paid_fen"], first["pooled_fund_paid_fen"]) == (1000, 500)

    # Replica b lists E as 甲 and suspends the pharmacy from 2026-11-01.
    item = {"med_list_codg": "E", "name": "新增甲类药", "med_chrgitm_type": "09", "chrgitm_lv": "1"}
    assert (await b.post("/api/v1/catalogue/items", item)).status_code == 201
    suspension = {
        "kind": "institution_suspension",
        "subject": PHARMACY,
        "begin_date": "2026-11-01",
        "reason": "串换药品，暂停医保结算",
    }
    created = await b.post("/api/v1/supervision/sanctions", suspension)
    assert created.status_code == 201, created.text

    refused = await a.post(URL, purchase(psn_no, certno, [("E", "1", "10", 1000)]))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "INSTITUTION_SUSPENDED")
    ended = await b.post(
        f"/api/v1/supervision/sanctions/{created.json()['id']}/end",
        {"end_date": "2026-11-05", "reason": "整改完成"},
    )
    assert ended.status_code == 200, ended.text

    # E is now 甲 on replica a too: 10.00 in range, the deductible is used up, 50 % = 5.00.
    again = await _settle(a, purchase(psn_no, certno, [("E", "1", "10", 1000)]))
    assert (again["fully_self_paid_fen"], again["policy_range_fen"], again["pooled_fund_paid_fen"]) == (
        0,
        1000,
        500,
    )


async def test_a_change_made_by_hand_is_seen_once_the_version_is_raised(
    replicas: tuple[SettlementApi, SettlementApi],
) -> None:
    a, _ = replicas
    psn_no, certno = new_person()
    await a.cover(psn_no, certno)
    await _settle(a, purchase(psn_no, certno, [("A", "2", "0.5", 100)]))
    async with a.db.transaction() as session:
        await session.execute(
            update(Institution).where(col(Institution.fixmedins_code) == PHARMACY).values(status="terminated")
        )
    # Not raised: this process still serves what it read (README: raise the version after SQL by hand).
    await _settle(a, purchase(psn_no, certno, [("A", "2", "0.5", 100)]))
    async with a.db.transaction() as session:
        await session.execute(update(reference_version).values(version=reference_version.c.version + 1))
    refused = await a.post(URL, purchase(psn_no, certno, [("A", "2", "0.5", 100)]))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "INSTITUTION_NOT_ACTIVE")


async def test_a_change_rolled_back_is_never_served(replicas: tuple[SettlementApi, SettlementApi]) -> None:
    a, _ = replicas
    assert a.app is not None
    runtime = a.app.state.runtime
    async with runtime.db.session() as session, session.begin():
        warm = await institutions.settling(session, PHARMACY)
        assert warm.status == "active"
    async with runtime.db.session() as session, session.begin():
        mine = await session.get(Institution, warm.id)
        assert mine is not None
        mine.status = "terminated"
        await session.flush()
        # This transaction sees its own change and does not keep it for others, even when a statement of
        # it hands the cache the version it read beside its own work (the msgid claim does).
        reference.seen_version(session, await session.scalar(select(reference_version.c.version)))
        assert (await institutions.settling(session, PHARMACY)).status == "terminated"
        await session.rollback()
    async with runtime.db.session() as session, session.begin():
        assert (await institutions.settling(session, PHARMACY)).status == "active"


@contextmanager
def _statements(api: SettlementApi) -> Iterator[list[str]]:
    """The statements the service sends to its database inside the block, BEGIN/COMMIT/ROLLBACK aside."""
    assert api.app is not None
    engine: Engine = api.app.state.runtime.db.engine.sync_engine
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def _is_postgres(api: SettlementApi) -> bool:
    assert api.app is not None
    return bool(api.app.state.runtime.db.engine.dialect.name == "postgresql")


async def test_a_card_swipe_reads_no_reference_table_once_warm(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await _settle(
        settlement_api, purchase(psn_no, certno, [("A", "60", "0.5", 3000), ("B", "3", "20", 6000)])
    )
    with _statements(settlement_api) as statements:
        await _settle(
            settlement_api, purchase(psn_no, certno, [("A", "60", "0.5", 3000), ("B", "3", "20", 6000)])
        )
    read = {table for table in REFERENCE_TABLES for s in statements if f"FROM {table}" in s}
    assert read == set(), read
    # The msgid claim (which reads the reference version too), the person's coverage rows with the
    # accumulator locked beside them, the writes, the three supervision rules' reads (one UNION ALL) and
    # this suite's operator audit row. On PostgreSQL the claim reads the coverage rows and locks the
    # accumulator in its own statement (eligibility.after_claim), and the writes (settlement, fund shares,
    # lines, accumulator, outbox) are one statement (shared.db.OneRoundTrip) that reads the supervision
    # rules too; SQLite writes each line with its own INSERT and reads the rules after: 3 and 10 at the
    # time of writing, 30 before the cache.
    postgres = _is_postgres(settlement_api)
    assert len(statements) <= (3 if postgres else 10), statements
    [probes] = [s for s in statements if "UNION ALL" in s]
    assert probes.startswith("WITH write_s AS") == postgres, probes
    [claim] = [s for s in statements if "reference_version" in s]
    if postgres:
        assert claim.startswith("WITH claim AS \n(INSERT INTO msgid_claims"), claim
        assert "FROM eligibility" in claim and "FOR UPDATE OF year_accumulators" in claim, claim
    else:
        assert claim.startswith("INSERT INTO msgid_claims"), claim


async def test_a_card_swipe_reads_its_card_in_the_coverage_statement(settlement_api: SettlementApi) -> None:
    """mdtrt_cert_type 03: the card is read beside the coverage rows and the locked accumulator, not by a
    statement of its own; what the card's status is at each settlement is what that settlement sees."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await settlement_api.apply(card_event(psn_no, "A34152400001", "active", date(2026, 1, 5)))
    lines = [("A", "60", "0.5", 3000)]
    await _settle(settlement_api, with_card(purchase(psn_no, certno, lines), "A34152400001"))
    with _statements(settlement_api) as statements:
        await _settle(settlement_api, with_card(purchase(psn_no, certno, lines), "A34152400001"))
    postgres = _is_postgres(settlement_api)
    [coverage] = [s for s in statements if "FROM eligibility" in s]
    # SQLite has no row locks: its transactions take the file's write lock in turn.
    assert "JOIN cards" in coverage and ("FOR UPDATE" in coverage) == postgres, coverage
    assert [s for s in statements if "cards" in s] == [coverage], statements
    # On PostgreSQL that statement is the msgid's claim (eligibility.after_claim).
    assert ("INSERT INTO msgid_claims" in coverage) == postgres, coverage
    assert len(statements) <= (3 if postgres else 10), statements
    # Lost after those two: the next swipe reads the card again and is refused.
    await settlement_api.apply(card_event(psn_no, "A34152400001", "lost", date(2026, 6, 1)))
    lost = await settlement_api.post(URL, with_card(purchase(psn_no, certno, lines), "A34152400001"))
    assert (lost.status_code, lost.json()["error"]["code"]) == (422, "CARD_NOT_ACTIVE"), lost.text


async def test_a_stay_is_settled_in_few_round_trips_once_warm(settlement_api: SettlementApi) -> None:
    """2304 for a discharged stay of a person with an earlier stay, the reference data cached: counted like
    the card swipe above."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    statements: list[str] = []
    for admitted, discharged in (("2026-11-01", "2026-11-05"), ("2026-11-10", "2026-11-15")):
        opened = _open(psn_no, certno, "inpatient", "21", begntime=f"{admitted}T09:00:00+08:00")
        stay = await _ok(settlement_api, "/api/v1/encounters", opened)
        base = f"/api/v1/encounters/{stay['mdtrt_id']}"
        lines = [_line(str(n), "B", "1", "50", 5000) for n in range(1, 21)]
        await _ok(settlement_api, f"{base}/fees", {"fixmedins_code": HOSPITAL, "lines": lines})
        discharge = {"fixmedins_code": HOSPITAL, "endtime": f"{discharged}T10:00:00+08:00"}
        await _ok(settlement_api, f"{base}/discharge", discharge)
        with _statements(settlement_api) as seen:
            await _ok(settlement_api, f"{base}/settlement", stay_settle(psn_no, certno, 100000))
        statements = seen  # the second stay's; the first warmed the cache
    read = {table for table in REFERENCE_TABLES for s in statements if f"FROM {table}" in s}
    assert read == set(), read
    # The msgid claim, the stay (locked) with whether it was part-settled, its unsettled lines, the
    # person's coverage rows with the accumulator, the writes, the person's stays (overlapping
    # admissions) and this suite's operator audit row. On PostgreSQL the writes mark the stay's lines and
    # close it in the same statement as the settlement: 7 at the time of writing (17 before), 14 on SQLite.
    # (The person's filings are read only where one can matter: chronic, 22/23, out of area.)
    postgres = _is_postgres(settlement_api)
    assert len(statements) <= (7 if postgres else 14), statements
    assert statements[0].startswith("INSERT INTO msgid_claims"), statements[0]
    [write] = [s for s in statements if "INSERT INTO settlements" in s]
    assert ("UPDATE fee_lines" in write and "UPDATE encounters" in write) == postgres, write
    assert sum("FROM encounters" in s for s in statements) == 2, statements
