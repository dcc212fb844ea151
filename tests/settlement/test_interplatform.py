"""The insured platform's eligibility answer to a treating platform (docs/interface.md, "Between platforms"):
coverage, scheme and insured region on the day of care, the year's totals as the policy reads them and the
filings in force; nothing written. Over REST with a service token, on both backends.

The person's one purchase this year (demo policy, outpatient pooling: 20.00 yearly deductible, 50 %): 100 of
item A at 0.50 = 50.00 in the policy range; deductible 20.00; pooled (50.00 − 20.00) × 50 % = 15.00."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from settlement.db import infra
from settlement.eligibility.models import YearAccumulator
from settlement.interplatform import reservations
from settlement.interplatform.models import Reservation
from sqlmodel import func, select

from shared.auth import AUDITOR, ENROLLMENT_CLERK, SERVICE
from shared.clock import now_china
from shared.contracts.v1.interplatform import ConfirmRequest
from shared.events import EventEnvelope
from tests.settlement.conftest import REGION, SettlementApi, new_person, purchase
from tests.support.apps import bearer

URL = "/api/v1/interplatform/eligibility"


def query(psn_no: str, **changes: Any) -> dict[str, Any]:
    return {
        "msgid": "SZ-0001",
        "platform": "gd-shenzhen",
        "psn_no": psn_no,
        "insutype": "390",
        "begntime": "2026-11-21T09:00:00+08:00",
        **changes,
    }


async def ask(api: SettlementApi, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(URL, body, headers=bearer(SERVICE, subject="gd-shenzhen"))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def accumulator_rows(api: SettlementApi) -> int:
    async with api.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(YearAccumulator)) or 0)


async def test_a_treating_platform_reads_coverage_totals_and_filings(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await settlement_api.register_chronic(psn_no, "E11")
    bought = await settlement_api.post(
        "/api/v1/pharmacy-settlements", purchase(psn_no, certno, [("A", "100", "0.5", 5000)])
    )
    assert bought.status_code == 200, bought.text
    assert bought.json()["fund_paid_total_fen"] == 1500  # (50.00 − 20.00) × 50 %
    rows = await accumulator_rows(settlement_api)

    answer = await ask(settlement_api, query(psn_no))
    assert (answer["covered"], answer["reason"], answer["on"]) == (True, None, "2026-11-21")
    assert (answer["insutype"], answer["coverage_insutype"], answer["insuplc_admdvs"]) == (
        "390",
        "390",
        REGION,
    )
    # The year so far: the 20.00 deductible met, 15.00 paid by outpatient pooling, one settlement.
    totals = answer["totals"]
    assert (totals["outpatient_deductible_fen"], totals["outpatient_paid_fen"], totals["admissions"]) == (
        2000,
        1500,
        0,
    )
    assert answer["settlement_count"] == 1
    assert (answer["chronic_diseases"], answer["referral_regions"]) == (["E11"], [])
    assert await accumulator_rows(settlement_api) == rows  # read, nothing written


async def test_not_covered_is_an_answer_with_its_reason(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # A day of 2025, when the person was not insured; and a person this platform does not know.
    for body in (query(psn_no, begntime="2025-06-01T09:00:00+08:00"), query("999999999999")):
        answer = await ask(settlement_api, body)
        assert answer["covered"] is False and answer["reason"].startswith("[NOT_COVERED]"), answer
        assert answer["totals"] == {} and answer["insuplc_admdvs"] is None


async def test_bad_input_and_other_roles_are_refused(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    service = bearer(SERVICE, subject="gd-shenzhen")
    for body in (
        query(psn_no, insutype="999"),
        query(psn_no, platform="gd shenzhen; drop"),
        query(psn_no, begntime="yesterday"),
        query(psn_no, begntime="2026-11-21T09:00:00"),  # no timezone
        query(psn_no, begntime="9999-12-31T23:59:59-23:59"),
        {**query(psn_no), "fixmedins_code": "H1"},
    ):
        refused = await settlement_api.post(URL, body, headers=service)
        assert refused.status_code == 422, (body, refused.text)
        assert "sql" not in refused.text.lower()
    clerk = await settlement_api.post(URL, query(psn_no), headers=bearer(ENROLLMENT_CLERK))
    assert clerk.status_code == 403


# --- reservations -------------------------------------------------------------------------------------
#
# A stay of the person at a level-2 hospital of another platform's region 440300 (Shenzhen), classified there:
#   line 1: 8,000.00, of it 800.00 paid first (乙 10 %), 7,200.00 in the policy range;
#   line 2: 2,000.00 fully self-paid (丙).
# This platform's demo policy for the person's region 341524: level-2 deductible 300.00 at the year's first
# admission, 60 %, 10 points less out of area without a filing: (7,200.00 − 300.00) × 50 % = 3,450.00 from the
# pooled fund; the burden 7,200.00 − 3,450.00 = 3,750.00 is under the catastrophic threshold (10,000.00): 0.
# Cash 10,000.00 − 3,450.00 = 6,550.00.

RESERVATIONS = "/api/v1/interplatform/reservations"
SHENZHEN = bearer(SERVICE, subject="gd-shenzhen")


def stay(psn_no: str, msgid: str = "SZ-R-1", **changes: Any) -> dict[str, Any]:
    lines = [
        {"feedetl_sn": "1", "amount_fen": 800000, "fully_self_paid_fen": 0, "over_price_cap_fen": 0,
         "self_pay_first_fen": 80000, "policy_range_fen": 720000},
        {"feedetl_sn": "2", "amount_fen": 200000, "fully_self_paid_fen": 200000, "over_price_cap_fen": 0,
         "self_pay_first_fen": 0, "policy_range_fen": 0},
    ]  # fmt: skip
    return {
        "msgid": msgid, "platform": "gd-shenzhen", "psn_no": psn_no, "insutype": "390",
        "begntime": "2026-11-21T09:00:00+08:00", "med_type": "21", "fixmedins_code": "H44030000001",
        "mdtrtarea_admvs": "440300", "hosp_lv": "2", "lines": lines, **changes,
    }  # fmt: skip


async def held(api: SettlementApi, psn_no: str) -> tuple[int, int, int]:
    """(pooled fund paid, admissions, settlements) of the person's year as a treating platform reads it."""
    answer = await ask(api, query(psn_no))
    return answer["totals"]["pooled_paid_fen"], answer["totals"]["admissions"], answer["settlement_count"]


def paid(reservation: dict[str, Any]) -> tuple[int, int, int, int]:
    pooled = sum(f["paid_fen"] for f in reservation["funds"] if f["fund_pay_type"] == "390100")
    others = sum(f["paid_fen"] for f in reservation["funds"] if f["fund_pay_type"] != "390100")
    return pooled, others, reservation["cash_paid_fen"], reservation["deductible_fen"]


async def test_reserve_confirm_release_hold_and_give_back_the_yearly_totals(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    made = await settlement_api.post(RESERVATIONS, stay(psn_no), headers=SHENZHEN)
    assert made.status_code == 201, made.text
    reservation = made.json()
    assert (reservation["status"], reservation["insuplc_admdvs"], reservation["pool_ratio"]) == (
        "reserved",
        REGION,
        "0.5",
    )
    assert paid(reservation) == (345000, 0, 655000, 30000)
    assert (reservation["medfee_sumamt_fen"], reservation["policy_range_fen"]) == (1000000, 720000)
    assert await held(settlement_api, psn_no) == (345000, 1, 1)  # held for the treating platform

    # The same msgid again: the same reservation, nothing held twice; another body under it is refused.
    again = await settlement_api.post(RESERVATIONS, stay(psn_no), headers=SHENZHEN)
    assert again.status_code == 200 and again.json() == {**reservation, "replayed": True}
    other = await settlement_api.post(RESERVATIONS, stay(psn_no, hosp_lv="3"), headers=SHENZHEN)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "MSGID_REUSED")
    assert await held(settlement_api, psn_no) == (345000, 1, 1)

    url = f"{RESERVATIONS}/{reservation['reservation_id']}"
    confirm = {"msgid": "SZ-C-1", "platform": "gd-shenzhen", "treating_setl_id": "S440300001"}
    confirmed = await settlement_api.post(f"{url}/confirmation", confirm, headers=SHENZHEN)
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["treating_setl_id"]) == ("confirmed", "S440300001")
    assert (await settlement_api.post(f"{url}/confirmation", confirm, headers=SHENZHEN)).json()["replayed"]
    assert await held(settlement_api, psn_no) == (345000, 1, 1)
    # Another platform cannot see it, nor speak for the platform that made it with its own token.
    hangzhou = bearer(SERVICE, subject="zj-hangzhou")
    foreign = await settlement_api.post(f"{url}/confirmation", {**confirm, "platform": "zj-hangzhou"},
                                        headers=hangzhou)  # fmt: skip
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "RESERVATION_NOT_FOUND")
    posing = await settlement_api.post(f"{url}/release", {"msgid": "ZJ-X-1", "platform": "gd-shenzhen",
                                       "reason": "reversal"}, headers=hangzhou)  # fmt: skip
    assert (posing.status_code, posing.json()["error"]["code"]) == (403, "PLATFORM_MISMATCH")
    assert await held(settlement_api, psn_no) == (345000, 1, 1)

    # The treating platform's HIS reversed the stay: released, the year given back.
    release = {"msgid": "SZ-X-1", "platform": "gd-shenzhen", "reason": "reversal"}
    released = await settlement_api.post(f"{url}/release", release, headers=SHENZHEN)
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["release_reason"]) == ("released", "reversal")
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    assert (await settlement_api.post(f"{url}/release", release, headers=SHENZHEN)).json()["replayed"]
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    late = await settlement_api.post(f"{url}/confirmation", {**confirm, "msgid": "SZ-C-2"}, headers=SHENZHEN)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "RESERVATION_RELEASED")


async def test_a_reserve_sent_again_while_the_first_is_in_flight_answers_that_reservation(
    settlement_api: SettlementApi,
) -> None:
    """The treating platform gave up waiting and sent the reserve again (same msgid, same body) while the
    first was still running here: every call answers the one reservation (one 201, the others 200
    replayed), never a refusal, and the year is held once: 3,450.00 pooled (the stay of ``stay``:
    (7,200.00 − 300.00) × 50 %), one admission, one settlement."""
    for attempt in range(10):
        psn_no, certno = new_person()
        await settlement_api.cover(psn_no, certno)
        body = stay(psn_no, f"SZ-R-RACE-{attempt}")
        answers = await asyncio.gather(
            *(settlement_api.post(RESERVATIONS, body, headers=SHENZHEN) for _ in range(4))
        )
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
        assert len({a.json()["reservation_id"] for a in answers}) == 1
        assert await held(settlement_api, psn_no) == (345000, 1, 1)


async def test_a_hold_that_runs_out_is_released_and_cannot_be_confirmed(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    first = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-2"), headers=SHENZHEN)).json()
    second = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-3"), headers=SHENZHEN)).json()
    # The second is the year's second admission: deductible 300.00 × 0.5 = 150.00; (7,200.00 − 150.00) × 50 %
    # = 3,525.00; cash 10,000.00 − 3,525.00 = 6,475.00.
    assert paid(second) == (352500, 0, 647500, 15000)
    assert await held(settlement_api, psn_no) == (345000 + 352500, 2, 2)
    past = now_china() - timedelta(seconds=1)
    async with settlement_api.db.transaction() as session:
        for rid in (first["reservation_id"], second["reservation_id"]):
            row = await session.scalar(select(Reservation).where(Reservation.reservation_id == rid))
            assert row is not None
            row.expires_at = past
    # Confirming the first after its hold ran out: refused, and the first's totals are given back.
    url = f"{RESERVATIONS}/{first['reservation_id']}/confirmation"
    body = {"msgid": "SZ-C-3", "platform": "gd-shenzhen", "treating_setl_id": "S440300002"}
    refused = await settlement_api.post(url, body, headers=SHENZHEN)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "RESERVATION_EXPIRED")
    assert await held(settlement_api, psn_no) == (352500, 1, 1)
    # The background release takes the second back.
    async with settlement_api.db.transaction() as session:
        assert await reservations.release_expired(session, now_china()) == 1
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    again = await settlement_api.post(url, {**body, "msgid": "SZ-C-4"}, headers=SHENZHEN)
    assert again.json()["error"]["code"] == "RESERVATION_EXPIRED"


async def test_reservation_bad_input_is_refused_and_holds_nothing(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    uneven = stay(psn_no)
    uneven["lines"][0]["policy_range_fen"] = 700000  # the parts no longer add up to 8,000.00
    for body in (
        uneven,
        stay(psn_no, med_type="140104"),  # chronic care: not reservable from another platform
        stay(psn_no, hosp_lv="5"),
        stay(psn_no, hold_s=0),
        stay(psn_no, lines=[]),
    ):
        refused = await settlement_api.post(RESERVATIONS, body, headers=SHENZHEN)
        assert refused.status_code == 422, (body, refused.text)
    nobody = await settlement_api.post(RESERVATIONS, stay("999999999999"), headers=SHENZHEN)
    assert nobody.json()["error"]["code"] == "NOT_COVERED"
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    unknown = await settlement_api.post(
        f"{RESERVATIONS}/RNOSUCH/release", {"msgid": "X", "platform": "gd-shenzhen", "reason": "timeout"},
        headers=SHENZHEN,
    )  # fmt: skip
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "RESERVATION_NOT_FOUND")


async def test_a_token_speaks_for_its_own_platform_only(settlement_api: SettlementApi) -> None:
    """Every call names the treating ``platform``; a service token is issued to one platform (its subject),
    so another platform's token is refused 403 PLATFORM_MISMATCH and nothing is held or read. Auditors may
    read any platform's statement."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    hangzhou = bearer(SERVICE, subject="zj-hangzhou")
    for url, body in (
        (URL, query(psn_no)),
        (RESERVATIONS, stay(psn_no)),
        ("/api/v1/interplatform/previews", stay(psn_no)),
        ("/api/v1/interplatform/persons", {"msgid": "SZ-P-1", "platform": "gd-shenzhen", "certno": certno}),
    ):
        refused = await settlement_api.post(url, body, headers=hangzhou)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "PLATFORM_MISMATCH"), url
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    statement = "/api/v1/interplatform/statements/2026-11"
    read = await settlement_api.client.get(statement, params={"peer": "gd-shenzhen"}, headers=hangzhou)
    assert (read.status_code, read.json()["error"]["code"]) == (403, "PLATFORM_MISMATCH")
    for allowed in (SHENZHEN, bearer(AUDITOR, subject="auditor-1")):
        assert (
            await settlement_api.client.get(statement, params={"peer": "gd-shenzhen"}, headers=allowed)
        ).status_code == 200


# --- voids: the treating platform's 2601 found nothing settled under a reserve's msgid ----------------------

VOIDS = "/api/v1/interplatform/reservation-voids"


def void(reserve_msgid: str, msgid: str = "SZ-V-1", **changes: Any) -> dict[str, Any]:
    return {"msgid": msgid, "platform": "gd-shenzhen", "reserve_msgid": reserve_msgid, **changes}


async def test_a_void_gives_back_a_hold_whose_answer_was_lost(settlement_api: SettlementApi) -> None:
    psn_no = await _covered(settlement_api)
    made = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-V1"), headers=SHENZHEN)).json()
    assert await held(settlement_api, psn_no) == (345000, 1, 1)  # 3,450.00 as in ``stay``
    voided = await settlement_api.post(VOIDS, void("SZ-R-V1", psn_no=psn_no), headers=SHENZHEN)
    assert voided.status_code == 200, voided.text
    assert voided.json() == {
        "reserve_msgid": "SZ-R-V1", "outcome": "released", "reservation_id": made["reservation_id"],
        "replayed": False,
    }  # fmt: skip
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    # The same void again: the same answer, nothing given back twice; another void of it: released before.
    again = (await settlement_api.post(VOIDS, void("SZ-R-V1"), headers=SHENZHEN)).json()
    assert (again["outcome"], again["replayed"]) == ("released", True)
    other = (await settlement_api.post(VOIDS, void("SZ-R-V1", "SZ-V-2"), headers=SHENZHEN)).json()
    assert other["outcome"] == "released_before"
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    # A confirmation after it is refused, as after any release.
    url = f"{RESERVATIONS}/{made['reservation_id']}/confirmation"
    late = await settlement_api.post(
        url, {"msgid": "SZ-C-V1", "platform": "gd-shenzhen", "treating_setl_id": "S1"}, headers=SHENZHEN
    )
    assert (late.status_code, late.json()["error"]["code"]) == (409, "RESERVATION_RELEASED")


async def test_a_void_before_the_reserve_arrives_keeps_the_msgid_from_holding_anything(
    settlement_api: SettlementApi,
) -> None:
    psn_no = await _covered(settlement_api)
    voided = await settlement_api.post(VOIDS, void("SZ-R-V2"), headers=SHENZHEN)
    assert voided.json()["outcome"] == "voided" and voided.json()["reservation_id"] is None
    late = await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-V2"), headers=SHENZHEN)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "RESERVATION_VOIDED")
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    assert (await settlement_api.post(VOIDS, void("SZ-R-V2"), headers=SHENZHEN)).json()["replayed"]
    # The void's row is nobody's reservation: it cannot be confirmed or released.
    async with settlement_api.db.session() as session:
        row = await session.scalar(select(Reservation).where(Reservation.msgid == "SZ-R-V2"))
    assert row is not None and row.status == "voided"
    url = f"{RESERVATIONS}/{row.reservation_id}/confirmation"
    body = {"msgid": "SZ-C-V2", "platform": "gd-shenzhen", "treating_setl_id": "S2"}
    assert (await settlement_api.post(url, body, headers=SHENZHEN)).json()["error"]["code"] == (
        "RESERVATION_NOT_FOUND"
    )
    # Another msgid reserves as before.
    assert (
        await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-V3"), headers=SHENZHEN)
    ).status_code == 201


async def test_a_void_of_a_confirmed_reservation_is_refused_and_changes_nothing(
    settlement_api: SettlementApi,
) -> None:
    psn_no = await _covered(settlement_api)
    made = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-V4"), headers=SHENZHEN)).json()
    url = f"{RESERVATIONS}/{made['reservation_id']}/confirmation"
    body = {"msgid": "SZ-C-V4", "platform": "gd-shenzhen", "treating_setl_id": "S4"}
    assert (await settlement_api.post(url, body, headers=SHENZHEN)).status_code == 200
    refused = await settlement_api.post(VOIDS, void("SZ-R-V4"), headers=SHENZHEN)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "RESERVATION_CONFIRMED")
    assert await held(settlement_api, psn_no) == (345000, 1, 1)
    # Bad input and another platform's token: refused, nothing written.
    for bad in (void(""), void("SZ-R-V4", platform="a b"), {**void("SZ-R-V4"), "extra": 1}):
        assert (await settlement_api.post(VOIDS, bad, headers=SHENZHEN)).status_code == 422, bad
    hangzhou = bearer(SERVICE, subject="zj-hangzhou")
    posing = await settlement_api.post(VOIDS, void("SZ-R-V4"), headers=hangzhou)
    assert (posing.status_code, posing.json()["error"]["code"]) == (403, "PLATFORM_MISMATCH")
    assert await held(settlement_api, psn_no) == (345000, 1, 1)


async def test_a_void_and_its_reserve_at_once_leave_nothing_held(settlement_api: SettlementApi) -> None:
    """The reserve whose answer is lost may still be on its way when the treating platform's void arrives:
    sent together (the void 0-44 ms after the reserve: on PostgreSQL the void comes first in the first tries,
    the reserve in the later ones), whichever takes the msgid first, nothing stays held (the reserve refused
    ``RESERVATION_VOIDED``, or made and then released by the void)."""
    for attempt in range(12):
        psn_no = await _covered(settlement_api)
        msgid = f"SZ-R-VR-{attempt}"

        async def late_void(delay_s: float, msgid: str = msgid, n: int = attempt) -> Any:
            await asyncio.sleep(delay_s)
            return await settlement_api.post(VOIDS, void(msgid, f"SZ-V-VR-{n}"), headers=SHENZHEN)

        # The void a few milliseconds after the reserve, more each try: both orders come about.
        reserved, voided = await asyncio.gather(
            settlement_api.post(RESERVATIONS, stay(psn_no, msgid), headers=SHENZHEN),
            late_void(attempt * 0.004),
        )
        assert voided.status_code == 200, voided.text
        outcome = voided.json()["outcome"]
        if reserved.status_code == 201:
            assert outcome == "released", (reserved.text, voided.text)
        else:
            assert (reserved.status_code, reserved.json()["error"]["code"]) == (409, "RESERVATION_VOIDED")
            assert outcome == "voided"
        assert await held(settlement_api, psn_no) == (0, 0, 0)


async def _covered(api: SettlementApi) -> str:
    psn_no, certno = new_person()
    await api.cover(psn_no, certno)
    return psn_no


# --- what a confirmation and a release write, and the edges of a hold's time -----------------------------


async def reservation_row(api: SettlementApi, reservation_id: str) -> Reservation:
    async with api.db.session() as session:
        row = await session.scalar(select(Reservation).where(Reservation.reservation_id == reservation_id))
    assert row is not None
    return row


async def outbox(api: SettlementApi, event_type: str) -> list[dict[str, Any]]:
    async with api.db.session() as session:
        query = infra.outbox.select().where(infra.outbox.c.event_type == event_type)
        rows = (await session.execute(query)).all()
    return [EventEnvelope.model_validate(json.loads(row.payload)).data for row in rows]


async def test_a_confirmation_books_the_stay_and_its_release_takes_it_back(
    settlement_api: SettlementApi,
) -> None:
    """The confirmed reservation is this platform's settlement of its fund's share, owed to the treating
    platform: the stay of ``stay`` (10,000.00 billed, 3,450.00 from the pooled fund, 6,550.00 cash); its
    release after the treating platform reversed is the same negated, dated as the treating platform dated
    the reversal. A release of a reservation never confirmed books nothing."""
    psn_no = await _covered(settlement_api)
    made = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-B1"), headers=SHENZHEN)).json()
    rid = made["reservation_id"]
    confirm = {"msgid": "SZ-C-B1", "platform": "gd-shenzhen", "treating_setl_id": "S440300009"}
    assert (
        await settlement_api.post(f"{RESERVATIONS}/{rid}/confirmation", confirm, headers=SHENZHEN)
    ).is_success
    [completed] = await outbox(settlement_api, "settlement.completed")
    expected = {
        "setl_id": rid, "mdtrt_id": "S440300009", "msgid": "SZ-C-B1", "psn_no": psn_no,
        "fixmedins_code": "H44030000001", "institution_level": "2", "insutype": "390",
        "insuplc_admdvs": REGION, "mdtrtarea_admvs": "440300", "med_type": "21", "clr_type": "21",
        "medfee_sumamt_fen": 1000000, "fund_pay_sumamt_fen": 345000, "psn_cash_pay_fen": 655000,
        # The catastrophic insurance's share is 0 (under its threshold), booked as a line of 0.
        "fund_payments": [{"fund_pay_type": "390100", "amount_fen": 345000},
                          {"fund_pay_type": "390200", "amount_fen": 0}],
        "treating_platform": "gd-shenzhen",
    }  # fmt: skip
    assert {k: completed[k] for k in expected} == expected

    reversed_at = "2026-11-25T08:00:00+08:00"
    release = {
        "msgid": "SZ-X-B1",
        "platform": "gd-shenzhen",
        "reason": "reversal",
        "reversed_at": reversed_at,
    }
    assert (await settlement_api.post(f"{RESERVATIONS}/{rid}/release", release, headers=SHENZHEN)).is_success
    [taken_back] = await outbox(settlement_api, "settlement.reversed")
    negated = {
        "setl_id": f"{rid}X", "original_setl_id": rid, "mdtrt_id": "S440300009", "msgid": "SZ-X-B1",
        "psn_no": psn_no, "fixmedins_code": "H44030000001", "insutype": "390", "insuplc_admdvs": REGION,
        "mdtrtarea_admvs": "440300", "clr_type": "21", "med_type": "21", "medfee_sumamt_fen": -1000000,
        "fund_pay_sumamt_fen": -345000, "psn_cash_pay_fen": -655000,
        "fund_payments": [{"fund_pay_type": "390100", "amount_fen": -345000},
                          {"fund_pay_type": "390200", "amount_fen": 0}],
        "treating_platform": "gd-shenzhen",
    }  # fmt: skip
    assert {k: taken_back[k] for k in negated} == negated
    assert (await reservation_row(settlement_api, rid)).reversed_at == datetime.fromisoformat(reversed_at)

    # Never confirmed: released without an event and without a reversal time.
    other = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-B2"), headers=SHENZHEN)).json()
    plain = {"msgid": "SZ-X-B2", "platform": "gd-shenzhen", "reason": "refused", "reversed_at": reversed_at}
    url = f"{RESERVATIONS}/{other['reservation_id']}/release"
    assert (await settlement_api.post(url, plain, headers=SHENZHEN)).is_success
    assert len(await outbox(settlement_api, "settlement.reversed")) == 1
    assert (await reservation_row(settlement_api, other["reservation_id"])).reversed_at is None


async def test_a_confirmed_release_without_a_reversal_time_is_dated_at_its_arrival(
    settlement_api: SettlementApi,
) -> None:
    psn_no = await _covered(settlement_api)
    rid = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-B3"), headers=SHENZHEN)).json()[
        "reservation_id"
    ]
    confirm = {"msgid": "SZ-C-B3", "platform": "gd-shenzhen", "treating_setl_id": "S440300010"}
    assert (
        await settlement_api.post(f"{RESERVATIONS}/{rid}/confirmation", confirm, headers=SHENZHEN)
    ).is_success
    before = now_china()
    release = {"msgid": "SZ-X-B3", "platform": "gd-shenzhen", "reason": "reversal"}
    assert (await settlement_api.post(f"{RESERVATIONS}/{rid}/release", release, headers=SHENZHEN)).is_success
    reversed_at = (await reservation_row(settlement_api, rid)).reversed_at
    assert reversed_at is not None and before <= reversed_at <= now_china()


async def test_a_hold_ends_at_its_expiry_instant(settlement_api: SettlementApi) -> None:
    """At ``expires_at`` itself the hold has run out: a confirmation then is refused (and the hold given
    back), and the background release takes a hold whose ``expires_at`` is the moment it runs."""
    psn_no = await _covered(settlement_api)
    first = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-E1"), headers=SHENZHEN)).json()
    at = (await reservation_row(settlement_api, first["reservation_id"])).expires_at
    async with settlement_api.db.transaction() as session:
        body = ConfirmRequest(msgid="SZ-C-E1", platform="gd-shenzhen", treating_setl_id="S1")
        confirmed, refusal = await reservations.confirm(session, first["reservation_id"], body, at)
    assert confirmed is None and refusal is not None and refusal.code == "RESERVATION_EXPIRED"
    assert await held(settlement_api, psn_no) == (0, 0, 0)

    second = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-E2"), headers=SHENZHEN)).json()
    at = (await reservation_row(settlement_api, second["reservation_id"])).expires_at
    async with settlement_api.db.transaction() as session:
        assert await reservations.release_expired(session, at - timedelta(microseconds=1)) == 0
    async with settlement_api.db.transaction() as session:
        assert await reservations.release_expired(session, at) == 1
    assert await held(settlement_api, psn_no) == (0, 0, 0)


async def test_a_preview_holds_and_writes_nothing(settlement_api: SettlementApi) -> None:
    """The treating platform's pre-settlement: the amounts a reservation would give now (the stay of
    ``stay``: 3,450.00 pooled, 6,550.00 cash, deductible 300.00), status preview, and nothing written: no
    reservation, no totals, not even the person's accumulator row."""
    psn_no = await _covered(settlement_api)
    rows_before = await accumulator_rows(settlement_api)
    for _ in range(2):
        previewed = await settlement_api.post(
            "/api/v1/interplatform/previews", stay(psn_no, "SZ-P-1"), headers=SHENZHEN
        )
        assert previewed.status_code == 200, previewed.text
        body = previewed.json()
        assert (body["status"], body["reservation_id"]) == ("preview", "")
        assert paid(body) == (345000, 0, 655000, 30000)
    assert await accumulator_rows(settlement_api) == rows_before
    assert await held(settlement_api, psn_no) == (0, 0, 0)
    async with settlement_api.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Reservation)) == 0


async def test_a_preview_does_not_wait_for_the_persons_settlement_in_flight(
    settlement_api: SettlementApi, backend: str
) -> None:
    """A preview reads the totals as they stand, without the accumulator's lock: a settlement of the same
    person holding the lock (its transaction open) does not make the treating platform's pre-settlement
    wait. (Row locks are PostgreSQL's; SQLite's one writer at a time does not block a reader.)"""
    if backend != "postgres":
        pytest.skip("row locks: PostgreSQL")
    psn_no = await _covered(settlement_api)
    made = (await settlement_api.post(RESERVATIONS, stay(psn_no, "SZ-R-P2"), headers=SHENZHEN)).json()
    async with settlement_api.db.transaction() as session:
        locked = await session.scalar(
            select(YearAccumulator).where(YearAccumulator.psn_no == psn_no).with_for_update()
        )
        assert locked is not None  # held until this block ends, as a settlement in flight holds it
        previewed = await asyncio.wait_for(
            settlement_api.post("/api/v1/interplatform/previews", stay(psn_no, "SZ-P-2"), headers=SHENZHEN),
            10,
        )
    assert previewed.status_code == 200, previewed.text
    # The year's second admission on the held year: deductible 300.00 × 0.5 = 150.00,
    # (7,200.00 − 150.00) × 50 % = 3,525.00 pooled (as the second reservation of the expiry test above).
    assert paid(previewed.json()) == (352500, 0, 647500, 15000)
    assert made["status"] == "reserved"
