"""On PostgreSQL a settlement's msgid claim reads the person's coverage rows and locks the accumulator in the
same statement (``eligibility.after_claim``, issue 29): one round trip less per settlement. What must hold
as when the claim was a statement of its own: a repeat waiting for its first attempt's claim holds no lock,
a repeat locks nothing, and for any race of repeats and other settlements of the same person every msgid
settles once and the year's accumulator holds exactly what the settlements paid.

Policy (the demo's, ``seed_reference_data``): outpatient 20.00 yuan deductible a year, 50 % above it."""

from __future__ import annotations

import asyncio
import random

import pytest
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import YearAccumulator
from settlement.settlements.models import MsgidClaim, Settlement
from settlement.settlements.stores import store_for
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from tests.conftest import eventually
from tests.settlement.conftest import SettlementApi, a_session_waits_for_a_lock, new_person, purchase
from tests.settlement.test_enrollment_events import with_card
from tests.settlement.test_reference_cache import _statements as statements_of

URL = "/api/v1/pharmacy-settlements"


def _postgres_only(api: SettlementApi) -> None:
    if api.db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite reads the coverage rows by a statement of their own")


async def test_a_repeat_waiting_on_the_claim_holds_no_lock_and_locks_nothing(
    settlement_api: SettlementApi,
) -> None:
    """A holds msgid M's claim and the person's accumulator; B claims M with the same coverage: B waits for
    A's claim, not on the accumulator; once A commits, B is told M was claimed and has locked nothing (a
    third transaction takes the accumulator's lock at once, NOWAIT)."""
    _postgres_only(settlement_api)
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    key = eligibility.CoverageKey(psn_no, 2026, "390", None)
    async with settlement_api.db.transaction() as session:
        await eligibility.lock_accumulator(session, psn_no, 2026, "390")  # the row exists from here on
    msgid = "P34152400001" + "0" * 17 + "1"
    a_holds, b_answered = asyncio.Event(), asyncio.Event()

    async def a() -> None:
        async with settlement_api.db.transaction() as session:
            assert await store_for(session).claim_msgid(session, msgid, key) is True
            coverage, locked = await eligibility.coverage_and_lock(session, psn_no, 2026, "390")
            assert set(coverage) == {"390"} and locked is not None
            a_holds.set()
            await eventually(lambda: a_session_waits_for_a_lock(settlement_api), timeout_s=30)
            assert not b_answered.is_set()

    async def b() -> None:
        await a_holds.wait()
        async with settlement_api.db.transaction() as session:
            assert await store_for(session).claim_msgid(session, msgid, key) is False
            b_answered.set()
            async with settlement_api.db.transaction() as other:
                # B is still open: were it holding the accumulator, NOWAIT would fail here.
                await other.execute(text("SET LOCAL lock_timeout = '1ms'"))
                rows = await other.execute(
                    select(YearAccumulator)
                    .where(YearAccumulator.psn_no == psn_no)
                    .with_for_update(nowait=True)
                )
                assert len(rows.all()) == 1

    await asyncio.gather(a(), b())


async def test_a_claim_of_a_person_without_coverage_is_still_a_claim(settlement_api: SettlementApi) -> None:
    """No coverage rows that year: the statement still answers the claim (one row of NULL coverage), and the
    settlement is refused as before; the refusal rolls the claim back with everything else."""
    psn_no, certno = new_person()  # never covered
    body = purchase(psn_no, certno, [("A", "20", "0.5", 1000)])
    refused = await settlement_api.post(URL, body)
    assert refused.status_code == 422, refused.text
    async with settlement_api.db.session() as session:
        claims = await session.scalar(
            select(func.count()).select_from(MsgidClaim).where(MsgidClaim.msgid == body["msgid"])
        )
    assert claims == 0
    await settlement_api.cover(psn_no, certno)
    settled = await settlement_api.post(URL, body)  # the same msgid, now covered: settles
    assert settled.status_code == 200 and settled.json()["replayed"] is False, settled.text


@pytest.mark.parametrize("seed", range(3))
async def test_repeats_and_neighbours_raced_settle_each_msgid_once(
    settlement_api: SettlementApi, seed: int
) -> None:
    """Rounds of one to two purchases of a person sent at once, each msgid one to three times, in a random
    order (20 rounds per seed): every answer is 200, a msgid's answers are one settlement, and the
    accumulator holds what the settlements paid: 10.00 a purchase, the first 20.00 of the year to the
    deductible, then 5.00 (50 %) from the fund each: n purchases pay (n - 2) × 5.00 once n ≥ 2, at most
    38 × 5.00 = 190.00, under the 300.00 cap."""
    rng = random.Random(seed)
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    purchases = 0
    for _ in range(20):
        bodies = [purchase(psn_no, certno, [("A", "20", "0.5", 1000)]) for _ in range(rng.randint(1, 2))]
        sent = [body for body in bodies for _ in range(rng.randint(1, 3))]
        rng.shuffle(sent)
        responses = await asyncio.gather(*[settlement_api.post(URL, body) for body in sent])
        assert [r.status_code for r in responses] == [200] * len(sent), [r.text for r in responses]
        by_msgid: dict[str, set[str]] = {}
        for body, response in zip(sent, responses, strict=True):
            by_msgid.setdefault(body["msgid"], set()).add(response.json()["setl_id"])
        assert all(len(setl_ids) == 1 for setl_ids in by_msgid.values()), by_msgid
        purchases += len(bodies)
    async with settlement_api.db.session() as session:
        settled = await session.scalar(
            select(func.count()).select_from(Settlement).where(Settlement.psn_no == psn_no)
        )
        accumulator = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert settled == purchases
    assert accumulator is not None
    assert accumulator.settlement_count == purchases
    assert accumulator.outpatient_deductible_fen == 2000
    assert accumulator.outpatient_paid_fen == (purchases - 2) * 500


async def test_a_read_kept_from_a_rolled_back_savepoint_is_not_used(settlement_api: SettlementApi) -> None:
    """Group commit settles several 2102s in one transaction, each after a savepoint. A settlement refused
    between its claim and its coverage read leaves the claim's rows kept; the rollback to its savepoint
    released the accumulator's lock they were read under, so the next settlement of the same person must
    read and lock again, not take those rows (``group._forget_since``)."""
    _postgres_only(settlement_api)
    from settlement.settlements.group import _forget_since

    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    key = eligibility.CoverageKey(psn_no, 2026, "390", None)
    async with settlement_api.db.transaction() as session:
        await eligibility.lock_accumulator(session, psn_no, 2026, "390")
    async with settlement_api.db.transaction() as session:
        conn = await session.connection()
        await conn.exec_driver_sql("SAVEPOINT settle_in_group")
        assert await store_for(session).claim_msgid(session, "P34152400001" + "0" * 17 + "2", key) is True
        await conn.exec_driver_sql("ROLLBACK TO SAVEPOINT settle_in_group")  # refused: rolled back
        _forget_since(session, 0)
        coverage, locked = await eligibility.coverage_and_lock(session, psn_no, 2026, "390")
        assert set(coverage) == {"390"} and locked is not None
        async with settlement_api.db.transaction() as other:
            await other.execute(text("SET LOCAL lock_timeout = '1ms'"))
            mine = select(YearAccumulator).where(YearAccumulator.psn_no == psn_no)
            with pytest.raises(DBAPIError, match="could not obtain lock"):
                await other.execute(mine.with_for_update(nowait=True))


async def _accumulators(api: SettlementApi, psn_no: str) -> list[YearAccumulator]:
    async with api.db.session() as session:
        return list(await session.scalars(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no)))


async def test_a_first_settlement_of_the_year_inserts_its_accumulator_with_the_claim(
    settlement_api: SettlementApi,
) -> None:
    """Under the unified scheme (390) a person's first settlement of the year inserts the accumulator in the
    claim's statement (PostgreSQL): no statement of its own. 60 × 0.50 = 30.00 in range (A's price within
    its cap): 20.00 to the deductible, 50 % of the other 10.00 = 5.00 from the fund."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    assert await _accumulators(settlement_api, psn_no) == []
    with statements_of(settlement_api) as statements:
        response = await settlement_api.post(URL, purchase(psn_no, certno, [("A", "60", "0.5", 3000)]))
    assert response.status_code == 200, response.text
    assert (response.json()["deductible_fen"], response.json()["pooled_fund_paid_fen"]) == (2000, 500)
    [accumulator] = await _accumulators(settlement_api, psn_no)
    assert (accumulator.year, accumulator.insutype, accumulator.settlement_count) == (2026, "390", 1)
    assert (accumulator.outpatient_deductible_fen, accumulator.outpatient_paid_fen) == (2000, 500)
    inserts = [s for s in statements if "INSERT INTO year_accumulators" in s]
    if not settlement_api.db.is_sqlite:
        [claim] = inserts
        assert claim.startswith("WITH claim AS"), claim


async def test_a_refused_first_settlement_leaves_no_accumulator(settlement_api: SettlementApi) -> None:
    """Covered in 2026 only: care on a day of 2027 is refused, and the claim's statement inserts nothing
    (no coverage rows that year); a card swipe of a card that does not exist is refused after the
    statement inserted the accumulator: rolled back with the rest."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    lines = [("A", "60", "0.5", 3000)]
    later = purchase(psn_no, certno, lines, begntime="2027-01-05T10:00:00+08:00")
    assert (await settlement_api.post(URL, later)).status_code == 422
    no_such_card = with_card(purchase(psn_no, certno, lines), "A34152499999")
    refused = await settlement_api.post(URL, no_such_card)
    assert refused.status_code == 422, refused.text
    assert await _accumulators(settlement_api, psn_no) == []


@pytest.mark.parametrize("seed", range(3))
async def test_first_settlements_of_many_persons_raced(settlement_api: SettlementApi, seed: int) -> None:
    """Eight persons with no accumulator yet, four purchases of 10.00 each, all 32 sent at once in a random
    order: each person ends with one accumulator, 20.00 to the deductible and (4 - 2) × 5.00 = 10.00 from
    the fund, whichever purchase inserted the row and whichever waited for it."""
    rng = random.Random(seed)
    persons = [new_person() for _ in range(8)]
    for psn_no, certno in persons:
        await settlement_api.cover(psn_no, certno)
    bodies = [purchase(p, c, [("A", "20", "0.5", 1000)]) for p, c in persons for _ in range(4)]
    rng.shuffle(bodies)
    responses = await asyncio.gather(*[settlement_api.post(URL, body) for body in bodies])
    assert [r.status_code for r in responses] == [200] * len(bodies), [r.text for r in responses]
    for psn_no, _ in persons:
        [accumulator] = await _accumulators(settlement_api, psn_no)
        assert accumulator.settlement_count == 4
        assert (accumulator.outpatient_deductible_fen, accumulator.outpatient_paid_fen) == (2000, 1000)
