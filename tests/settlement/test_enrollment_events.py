"""Settlement's read models fed by ``enrollment.events`` (termination, re-enrollment, identity categories,
social-security cards), each event applied through the handler ``settlement.main`` registers for it, then
checked through the pharmacy settlement API. Policy: 20.00 yuan yearly deductible, 50 %, 300.00 yuan cap."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from settlement.config import SettlementSettings
from settlement.eligibility.models import Card, Eligibility
from settlement.main import SUBSCRIPTIONS, build_runtime
from settlement.settlements.models import Settlement
from sqlalchemy import func
from sqlmodel import col, select

from shared.events import (
    IDENTITY_TOPIC,
    CardStatus,
    CardStatusChanged,
    CoverageActivated,
    CoverageActivatedV1,
    EnrollmentTerminated,
    EventEnvelope,
    IdentityCategoriesChanged,
    IdentityCategory,
    PersonIdentity,
)
from tests.settlement.conftest import REGION, SettlementApi, new_person, purchase

URL = "/api/v1/pharmacy-settlements"
#: 60 amoxicillin at 0.50 = 30.00, all 甲 in range: 20.00 deductible, (30.00 - 20.00) x 50 % = 5.00 fund.
SMALL = [("A", "60", "0.5", 3000)]


def terminated(psn_no: str, effective: date, *, enrollment_id: int = 1) -> EnrollmentTerminated:
    return EnrollmentTerminated(
        psn_no=psn_no,
        enrollment_id=enrollment_id,
        year=effective.year,
        insutype="390",
        reason="moved_away",
        effective_date=effective,
    )


def card_event(psn_no: str, card_no: str, status: CardStatus, changed_on: date) -> CardStatusChanged:
    return CardStatusChanged(
        psn_no=psn_no, card_no=card_no, card_sn=f"SN{card_no[-6:]}", status=status, changed_on=changed_on
    )


def with_card(body: dict[str, Any], card_no: str) -> dict[str, Any]:
    return {**body, "mdtrt_cert_type": "03", "mdtrt_cert_no": card_no}


async def _rows(api: SettlementApi, psn_no: str) -> list[Eligibility]:
    async with api.db.session() as session:
        return list(
            await session.scalars(
                select(Eligibility).where(Eligibility.psn_no == psn_no).order_by(col(Eligibility.year))
            )
        )


async def _settlement_count(api: SettlementApi) -> int:
    async with api.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Settlement)) or 0)


def test_settlement_subscribes_to_the_enrollment_events_it_keeps() -> None:
    assert set(SUBSCRIPTIONS) == {
        "enrollment.coverage_activated",
        "enrollment.person_identity",
        "enrollment.terminated",
        "enrollment.identities_changed",
        "enrollment.card_status_changed",
        "enrollment.voucher_revoked",
    }


async def test_activation_stores_continuity(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno, continuous_years=3, psn_insu_date=date(2024, 1, 1))
    response = await settlement_api.client.get(f"/api/v1/eligibility/{psn_no}")
    assert response.status_code == 200
    [row] = response.json()
    assert (row["status"], row["terminated_on"]) == ("active", None)
    assert (row["continuous_years"], row["psn_insu_date"]) == (3, "2024-01-01")


async def test_termination_refuses_care_from_its_effective_date(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await settlement_api.apply(terminated(psn_no, date(2026, 10, 1)))

    [row] = await _rows(settlement_api, psn_no)
    # Not covered from 1 October on: the last covered day is 30 September.
    assert (row.status, row.coverage_end, row.terminated_on) == (
        "terminated",
        date(2026, 9, 30),
        date(2026, 10, 1),
    )

    before = await settlement_api.post(
        URL, purchase(psn_no, certno, SMALL, begntime="2026-09-30T23:59:00+08:00")
    )
    assert before.status_code == 200, before.text
    assert (before.json()["pooled_fund_paid_fen"], before.json()["cash_paid_fen"]) == (500, 2500)
    for begntime in ("2026-10-01T00:00:00+08:00", "2026-11-20T10:00:00+08:00"):
        refused = await settlement_api.post(URL, purchase(psn_no, certno, SMALL, begntime=begntime))
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "NOT_COVERED"
        assert "已于 2026-10-01 终止" in error["message"], error["message"]
    assert await _settlement_count(settlement_api) == 1


async def test_termination_applied_twice_or_after_the_year_keeps_the_earlier_end(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await settlement_api.apply(terminated(psn_no, date(2026, 10, 1)))
    # A second, later termination of the same enrollment cannot give back October to December.
    await settlement_api.apply(terminated(psn_no, date(2026, 12, 1)))
    [row] = await _rows(settlement_api, psn_no)
    assert (row.coverage_end, row.terminated_on) == (date(2026, 9, 30), date(2026, 12, 1))


async def test_termination_of_unknown_coverage_changes_nothing(settlement_api: SettlementApi) -> None:
    stranger, _ = new_person()
    await settlement_api.apply(terminated(stranger, date(2026, 10, 1)))  # logged, not an error
    assert await _rows(settlement_api, stranger) == []

    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno, enrollment_id=7)
    await settlement_api.apply(terminated(psn_no, date(2026, 10, 1), enrollment_id=6))  # not the row's
    [row] = await _rows(settlement_api, psn_no)
    assert (row.status, row.coverage_end, row.terminated_on) == ("active", date(2026, 12, 31), None)


async def test_activation_after_termination_needs_a_new_enrollment(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno, enrollment_id=1)
    await settlement_api.apply(terminated(psn_no, date(2026, 10, 1), enrollment_id=1))

    # The same enrollment activated again (a stale or replayed fact) does not resurrect the cover.
    await settlement_api.cover(psn_no, certno, enrollment_id=1)
    [row] = await _rows(settlement_api, psn_no)
    assert (row.status, row.coverage_end, row.enrollment_id) == ("terminated", date(2026, 9, 30), 1)
    refused = await settlement_api.post(URL, purchase(psn_no, certno, SMALL))
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "NOT_COVERED")

    # A new enrollment for the same year (re-enrolled after the termination) covers again.
    await settlement_api.cover(psn_no, certno, enrollment_id=2, continuous_years=1)
    [row] = await _rows(settlement_api, psn_no)
    assert (row.status, row.coverage_end, row.terminated_on, row.enrollment_id) == (
        "active",
        date(2026, 12, 31),
        None,
        2,
    )
    accepted = await settlement_api.post(URL, purchase(psn_no, certno, SMALL))
    assert accepted.status_code == 200, accepted.text


async def test_identity_change_replaces_identities_of_every_year(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    dibao = IdentityCategory(psn_idet_type="2102", begin_date=date(2025, 1, 1))
    for year in (2025, 2026):
        await settlement_api.cover(psn_no, certno, year, identities=(dibao,))

    tekun = IdentityCategory(psn_idet_type="2103", begin_date=date(2026, 3, 1))
    ended = IdentityCategory(psn_idet_type="2102", begin_date=date(2025, 1, 1), end_date=date(2026, 2, 28))
    await settlement_api.apply(IdentityCategoriesChanged(psn_no=psn_no, identities=[ended, tekun]))
    expected = [
        {"psn_idet_type": "2102", "begin_date": "2025-01-01", "end_date": "2026-02-28"},
        {"psn_idet_type": "2103", "begin_date": "2026-03-01", "end_date": None},
    ]
    assert [row.identities for row in await _rows(settlement_api, psn_no)] == [expected, expected]

    await settlement_api.apply(IdentityCategoriesChanged(psn_no=psn_no, identities=[]))
    assert [row.identities for row in await _rows(settlement_api, psn_no)] == [[], []]

    stranger, _ = new_person()
    await settlement_api.apply(IdentityCategoriesChanged(psn_no=stranger, identities=[tekun]))
    assert await _rows(settlement_api, stranger) == []


async def test_card_swipe_settles_only_with_the_persons_active_card(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    other_psn, other_cert = new_person(24)
    await settlement_api.cover(psn_no, certno)
    await settlement_api.cover(other_psn, other_cert)
    await settlement_api.apply(card_event(psn_no, "A34152400001", "active", date(2026, 1, 5)))
    await settlement_api.apply(card_event(other_psn, "A34152400009", "active", date(2026, 1, 5)))

    accepted = await settlement_api.post(URL, with_card(purchase(psn_no, certno, SMALL), "A34152400001"))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["mdtrt_cert_type"] == "03"
    assert (accepted.json()["pooled_fund_paid_fen"], accepted.json()["cash_paid_fen"]) == (500, 2500)

    for card_no in ("A34152400009", "A00000000000"):  # someone else's card, a card never issued
        refused = await settlement_api.post(URL, with_card(purchase(psn_no, certno, SMALL), card_no))
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "CERT_MISMATCH"), refused.text
    assert await _settlement_count(settlement_api) == 1


async def test_lost_or_replaced_card_is_refused(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await settlement_api.apply(card_event(psn_no, "A34152400001", "active", date(2026, 1, 5)))
    await settlement_api.apply(card_event(psn_no, "A34152400001", "lost", date(2026, 6, 1)))

    lost = await settlement_api.post(URL, with_card(purchase(psn_no, certno, SMALL), "A34152400001"))
    assert lost.status_code == 422
    assert lost.json()["error"] == {"code": "CARD_NOT_ACTIVE", "message": "该社保卡已挂失或已换卡，不能结算"}

    # Replaced: the old number stays refused, the new card settles.
    await settlement_api.apply(card_event(psn_no, "A34152400001", "replaced", date(2026, 6, 10)))
    await settlement_api.apply(card_event(psn_no, "A34152400002", "active", date(2026, 6, 10)))
    old = await settlement_api.post(URL, with_card(purchase(psn_no, certno, SMALL), "A34152400001"))
    assert (old.status_code, old.json()["error"]["code"]) == (422, "CARD_NOT_ACTIVE")
    new = await settlement_api.post(URL, with_card(purchase(psn_no, certno, SMALL), "A34152400002"))
    assert new.status_code == 200, new.text
    assert await _settlement_count(settlement_api) == 1


async def test_card_change_older_than_the_recorded_one_is_ignored(settlement_api: SettlementApi) -> None:
    psn_no, _ = new_person()
    await settlement_api.apply(card_event(psn_no, "A34152400001", "lost", date(2026, 6, 1)))
    await settlement_api.apply(card_event(psn_no, "A34152400001", "active", date(2026, 1, 5)))
    async with settlement_api.db.session() as session:
        card = await session.scalar(select(Card).where(Card.card_no == "A34152400001"))
    assert card is not None
    assert (card.psn_no, card.status, card.changed_on, card.card_sn) == (
        psn_no,
        "lost",
        date(2026, 6, 1),
        "SN400001",
    )


def _cover_2026(psn_no: str) -> CoverageActivated:
    return CoverageActivated(
        enrollment_id=1, psn_no=psn_no, insutype="390", psn_type="1501", insuplc_admdvs=REGION, year=2026,
        coverage_begin=date(2026, 1, 1), coverage_end=date(2026, 12, 31),
    )  # fmt: skip


async def test_identity_and_cover_arrive_in_either_order_and_v1_is_still_read(
    settlement_api: SettlementApi,
) -> None:
    """Issue 28: ``coverage_activated`` v2 carries no identity; ``person_identity`` comes on the restricted
    topic. Through settlement's own consumer (its version gate included): a v1 event from a producer not
    yet rolled over is still read, identity and all; v2 cover before its identity refuses to settle until
    the identity arrives (409, nothing stored); a version 3 is dead-lettered."""
    runtime = build_runtime(
        SettlementSettings(database_url=settlement_api.db.url, run_background_workers=False)
    )
    assert runtime.consumer is not None
    offsets = iter(range(1, 100))

    async def deliver(envelope: EventEnvelope, topic: str = "enrollment.events") -> str:
        record = SimpleNamespace(topic=topic, partition=0, offset=next(offsets), value=envelope.to_bytes())
        return await runtime.consumer.handle_record(record)  # type: ignore[union-attr]

    try:
        # Version 1, as a producer not yet rolled over writes it: cover and identity in one event.
        old, old_certno = new_person(21)
        v1 = CoverageActivatedV1(
            **_cover_2026(old).model_dump(), certno=old_certno, psn_name="旧版本", gend="2",
            brdy=date(1985, 3, 12), naty="03",
        )  # fmt: skip
        envelope = v1.envelope("enrollment")
        assert envelope.version == 1 and envelope.data["certno"] == old_certno
        assert await deliver(envelope) == "processed"
        settled = await settlement_api.post(URL, purchase(old, old_certno, SMALL))
        assert settled.status_code == 200, settled.text
        person = settled.json()["person"]
        assert (person["psn_name"], person["certno"], person["gend"], person["naty"]) == (
            "旧版本", old_certno, "2", "03",
        )  # fmt: skip

        # Version 2 before the identity: covered, but not settled until who the person is arrives.
        new, certno = new_person(32)
        assert await deliver(_cover_2026(new).envelope("enrollment")) == "processed"
        early = await settlement_api.post(URL, purchase(new, certno, SMALL))
        assert (early.status_code, early.json()["error"]["code"]) == (409, "E_IDENTITY_PENDING"), early.text
        assert await _settlement_count(settlement_api) == 1
        identity = PersonIdentity(
            psn_no=new, certno=certno, psn_name="新版本", gend="1", brdy=date(1985, 3, 12)
        )
        assert await deliver(identity.envelope("enrollment"), IDENTITY_TOPIC) == "processed"
        later = await settlement_api.post(URL, purchase(new, certno, SMALL))
        assert later.status_code == 200, later.text
        assert (later.json()["person"]["psn_name"], later.json()["person"]["certno"]) == ("新版本", certno)
        # 30.00 bought, 20.00 deductible, (30.00 - 20.00) x 50 % = 5.00 from the pooled fund.
        assert later.json()["pooled_fund_paid_fen"] == 500

        # A version this settlement does not know is dead-lettered, not guessed at.
        unknown = _cover_2026(new_person(43)[0]).envelope("enrollment").model_copy(update={"version": 3})
        assert await deliver(unknown) == "dead_lettered"
    finally:
        await runtime.db.dispose()
