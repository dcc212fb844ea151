"""Group commit of pharmacy settlements (2102, issue 29; ``settlement.settlements.group``): concurrent settle
requests share one PostgreSQL transaction, each behind its own savepoint. Policy: 20.00 yuan yearly
deductible, 50 %, 300.00 yuan yearly cap (the demo's); the expected amounts are worked out by hand.

The group path is PostgreSQL's: on SQLite the setting leaves each settlement its own transaction, which the
last test checks. The suite's other settlement tests run with group commit on when
``SETTLEMENT_GROUP_COMMIT_MAX`` is set in the environment (docs/architecture.md, "Group commit")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from settlement.config import SettlementSettings
from settlement.db import infra
from settlement.eligibility.models import YearAccumulator
from settlement.main import create_app
from settlement.settlements import group
from settlement.settlements.models import Settlement
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import SettlementApi, new_person, purchase, seeded_settlement
from tests.support.apps import build, running

URL = "/api/v1/pharmacy-settlements"
#: Long enough that requests sent together on a loaded machine land in one group.
WAIT_MS = 40.0


@pytest.fixture
async def grouped_api(databases: DatabaseFactory) -> AsyncIterator[SettlementApi]:
    url = await seeded_settlement(databases)
    app = build(
        create_app,
        SettlementSettings,
        database_url=url,
        run_background_workers=False,
        group_commit_max=8,
        group_commit_wait_ms=WAIT_MS,
    )
    db = Database(url)
    async with running(app) as client:
        yield SettlementApi(client, db, app)
    await db.dispose()


def _collector(api: SettlementApi) -> group.GroupCommit:
    assert api.app is not None
    collector = group.for_runtime(api.app.state.runtime)
    assert collector is not None
    return collector


def _groups(outcome: str) -> float:
    return REGISTRY.get_sample_value("settlement_group_commits_total", {"outcome": outcome}) or 0.0


def _grouped(outcome: str) -> float:
    return REGISTRY.get_sample_value("settlement_group_commit_settlements_total", {"outcome": outcome}) or 0.0


async def _counts(api: SettlementApi, psn_nos: list[str]) -> tuple[int, int]:
    """Settlements and settlement events of these persons."""
    async with api.db.session() as session:
        settlements = await session.scalar(
            select(func.count()).select_from(Settlement).where(col(Settlement.psn_no).in_(psn_nos))
        )
        outbox = await session.scalar(
            select(func.count())
            .select_from(infra.outbox)
            .where(infra.outbox.c.topic == "settlement.events", infra.outbox.c.event_key.in_(psn_nos))
        )
    return int(settlements or 0), int(outbox or 0)


async def _accumulator(api: SettlementApi, psn_no: str) -> tuple[int, int, int]:
    async with api.db.session() as session:
        row = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert row is not None
    return row.outpatient_deductible_fen, row.outpatient_paid_fen, row.settlement_count


async def _covered(api: SettlementApi, count: int) -> list[tuple[str, str]]:
    persons = [new_person(10 + i) for i in range(count)]
    for psn_no, certno in persons:
        await api.cover(psn_no, certno)
    return persons


def _postgres_only(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("group commit is PostgreSQL's path")


async def test_persons_settled_together_each_get_their_own_answer(
    grouped_api: SettlementApi, backend: str
) -> None:
    _postgres_only(backend)
    persons = await _covered(grouped_api, 4)
    committed, settled = _groups("committed"), _grouped("committed")
    # Each: A 30.00 in range, the year's first: 20.00 deductible, (30.00 - 20.00) x 50 % = 5.00 from the fund.
    bodies = [purchase(p, c, [("A", "60", "0.5", 3000)]) for p, c in persons]
    responses = await asyncio.gather(*[grouped_api.post(URL, body) for body in bodies])
    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    assert [
        (r.json()["msgid"], r.json()["person"]["psn_no"], r.json()["pooled_fund_paid_fen"]) for r in responses
    ] == [(body["msgid"], p, 500) for body, (p, _) in zip(bodies, persons, strict=True)]
    assert _groups("committed") - committed == 1 and _grouped("committed") - settled == 4
    assert await _counts(grouped_api, [p for p, _ in persons]) == (4, 4)
    for psn_no, _ in persons:
        assert await _accumulator(grouped_api, psn_no) == (2000, 500, 1)


async def test_the_same_person_twice_in_a_group_sees_the_first_settlements_totals(
    grouped_api: SettlementApi, backend: str
) -> None:
    _postgres_only(backend)
    [(psn_no, certno), (other, other_cert)] = await _covered(grouped_api, 2)
    settled = _grouped("committed")
    bodies = [
        purchase(psn_no, certno, [("A", "60", "0.5", 3000)]),  # 30.00 in range
        purchase(other, other_cert, [("A", "20", "0.5", 1000)]),
        purchase(psn_no, certno, [("A", "20", "0.5", 1000)]),  # 10.00 in range
    ]
    responses = await asyncio.gather(*[grouped_api.post(URL, body) for body in bodies])
    assert [r.status_code for r in responses] == [200] * 3, [r.text for r in responses]
    assert _grouped("committed") - settled == 3
    first, _, second = (r.json() for r in responses)
    # Whichever of the person's two came first: 40.00 in range for the year, 20.00 of it the deductible
    # (paid once), (40.00 - 20.00) x 50 % = 10.00 from the fund. In arrival order: the 30.00 pays 20.00
    # deductible and 5.00; the 10.00 then has no deductible left and pays 5.00.
    assert first["deductible_fen"] + second["deductible_fen"] == 2000
    assert first["pooled_fund_paid_fen"] + second["pooled_fund_paid_fen"] == 1000
    assert (first["deductible_fen"], first["pooled_fund_paid_fen"]) in ((2000, 500), (1000, 1000))
    assert await _accumulator(grouped_api, psn_no) == (2000, 1000, 2)
    # The other person: 10.00 in range, all of it deductible, nothing from the fund.
    assert await _accumulator(grouped_api, other) == (1000, 0, 1)


async def test_repeats_of_one_msgid_in_a_group_settle_once(grouped_api: SettlementApi, backend: str) -> None:
    _postgres_only(backend)
    [(psn_no, certno), (other, other_cert)] = await _covered(grouped_api, 2)
    body = purchase(psn_no, certno, [("A", "60", "0.5", 3000)])
    neighbour = purchase(other, other_cert, [("A", "60", "0.5", 3000)])
    responses = await asyncio.gather(*[grouped_api.post(URL, x) for x in [body] * 5 + [neighbour]])
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    repeats = [r.json() for r in responses[:5]]
    assert len({x["setl_id"] for x in repeats}) == 1
    assert sorted(x["replayed"] for x in repeats) == [False] + [True] * 4
    assert responses[5].json()["replayed"] is False
    assert await _counts(grouped_api, [psn_no]) == (1, 1)
    assert await _counts(grouped_api, [other]) == (1, 1)
    # 30.00 in range: 20.00 deductible, 5.00 from the fund, counted once.
    assert await _accumulator(grouped_api, psn_no) == (2000, 500, 1)
    # And again later, alone: the first answer.
    again = await grouped_api.post(URL, body)
    assert again.json()["setl_id"] == repeats[0]["setl_id"] and again.json()["replayed"] is True


async def test_a_refused_settlement_refuses_only_its_caller(grouped_api: SettlementApi, backend: str) -> None:
    _postgres_only(backend)
    persons = await _covered(grouped_api, 3)
    uncovered, uncovered_cert = new_person(40)
    covered, covered_cert = persons[0]
    committed = _grouped("committed")
    bodies = [purchase(p, c, [("A", "60", "0.5", 3000)]) for p, c in persons]
    bodies.insert(1, purchase(uncovered, uncovered_cert, [("A", "60", "0.5", 3000)]))
    # Refused after its msgid claim and coverage read: the e-voucher is not one this platform issued.
    bodies.insert(3, dict(purchase(covered, covered_cert, [("A", "2", "0.5", 100)]), mdtrt_cert_type="01"))
    responses = await asyncio.gather(*[grouped_api.post(URL, body) for body in bodies])
    codes = [(r.status_code, r.json().get("error", {}).get("code")) for r in responses]
    assert codes == [(200, None), (422, "NOT_COVERED"), (200, None), (422, "E_VOUCHER"), (200, None)], codes
    assert _grouped("committed") - committed == 5
    assert await _counts(grouped_api, [p for p, _ in persons]) == (3, 3)
    assert await _counts(grouped_api, [uncovered]) == (0, 0)
    # The refused purchase moved nothing: the person's one settlement, 30.00 in range, 5.00 from the fund.
    assert await _accumulator(grouped_api, covered) == (2000, 500, 1)
    # The refused msgid is free: its claim was rolled back with its savepoint, so the same msgid with a
    # valid request settles now (a refusal writes nothing, as without group commit).
    retried = dict(bodies[3], mdtrt_cert_type="02")
    answer = await grouped_api.post(URL, retried)
    assert answer.status_code == 200, answer.text
    # 1.00 in range, no deductible left: 0.50 from the fund.
    assert answer.json()["pooled_fund_paid_fen"] == 50


async def test_a_failed_commit_settles_each_alone(grouped_api: SettlementApi, backend: str) -> None:
    _postgres_only(backend)
    persons = await _covered(grouped_api, 3)
    collector = _collector(grouped_api)
    failures = 0

    async def fail_once(session: AsyncSession) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise ConnectionResetError("the connection broke before COMMIT")

    collector.before_commit = fail_once
    retried = _grouped("retried_alone")
    bodies = [purchase(p, c, [("A", "60", "0.5", 3000)]) for p, c in persons]
    responses = await asyncio.gather(*[grouped_api.post(URL, body) for body in bodies])
    assert [r.status_code for r in responses] == [200] * 3, [r.text for r in responses]
    assert failures == 1 and _grouped("retried_alone") - retried == 3
    # Settled alone after the group rolled back: each once, nothing of the group left.
    assert [r.json()["replayed"] for r in responses] == [False] * 3
    assert await _counts(grouped_api, [p for p, _ in persons]) == (3, 3)
    for psn_no, _ in persons:
        assert await _accumulator(grouped_api, psn_no) == (2000, 500, 1)


async def test_a_commit_whose_answer_was_lost_answers_with_what_it_committed(
    grouped_api: SettlementApi, backend: str
) -> None:
    """The group's COMMIT went through but the service did not learn it (the connection broke on the
    answer): each caller, settled again alone, finds its msgid settled and answers with that settlement."""
    _postgres_only(backend)
    persons = await _covered(grouped_api, 2)
    collector = _collector(grouped_api)
    lost: list[Any] = []

    async def commit_then_break(session: AsyncSession) -> None:
        if not lost:
            lost.append(True)
            await session.commit()
            raise ConnectionResetError("the connection broke after COMMIT")

    collector.before_commit = commit_then_break
    bodies = [purchase(p, c, [("A", "60", "0.5", 3000)]) for p, c in persons]
    responses = await asyncio.gather(*[grouped_api.post(URL, body) for body in bodies])
    assert [r.status_code for r in responses] == [200] * 2, [r.text for r in responses]
    assert [r.json()["replayed"] for r in responses] == [True, True]
    assert await _counts(grouped_api, [p for p, _ in persons]) == (2, 2)
    for psn_no, _ in persons:
        assert await _accumulator(grouped_api, psn_no) == (2000, 500, 1)


async def test_sqlite_keeps_one_transaction_per_settlement(grouped_api: SettlementApi, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's path")
    assert grouped_api.app is not None
    assert group.for_runtime(grouped_api.app.state.runtime) is None
    [(psn_no, certno)] = await _covered(grouped_api, 1)
    # 10.00 in range, all of it deductible.
    response = await grouped_api.post(URL, purchase(psn_no, certno, [("A", "20", "0.5", 1000)]))
    assert response.status_code == 200 and response.json()["deductible_fen"] == 1000
