"""跨省异地就医 between two platforms (docs/interface.md, "Between platforms"), through the gateway on both
backends: platform A (the office: gateway + settlement, region 341524) treats a person insured on platform B
(a second settlement service with its own database, hosting region 110105), reached over HTTP as A's peer.

就医地目录、参保地政策: A's catalogue classifies the lines, B's policy pays. B's policy for 110105
(illustrative): outpatient pooling 10.00 yearly deductible, 60 %, 300.00 a year; unfiled out-of-area care 10
points less. (A's own policy is 20.00 and 50 %: a wrong side's policy shows in every amount.)

The purchase at A's pharmacy (hosp_lv 9), A's catalogue:
    A: 60 × 0.50 = 30.00, 甲 capped at 0.50: all 30.00 in range
    D: 10 × 3.00 = 30.00, 乙 5 % capped at 2.50: over the cap (3.00 − 2.50) × 10 = 5.00; the rest 25.00 × 5 %
       = 1.25 self-pay first; 23.75 in range
    bill 60.00; policy range 30.00 + 23.75 = 53.75
B's policy: 53.75 − 10.00 deductible = 43.75 × (60 % − 10 points) = 21.875 → 21.88 (half up) from 390100;
cash 60.00 − 21.88 = 38.12."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from enrollment.config import EnrollmentSettings
from enrollment.main import create_app as create_enrollment
from settlement.config import SettlementSettings
from settlement.db import infra
from settlement.interplatform import reservations
from settlement.interplatform.models import PeerSettlement, PeerVoid, Reservation
from settlement.interplatform.treating import Treating, unknown_past_window
from settlement.settlements.models import Settlement
from sqlmodel import col, select

from shared.clock import CHINA_TZ, now_china
from shared.db import Database
from shared.events import EventEnvelope
from shared.idcard import make_id_number
from tests.conftest import DatabaseFactory
from tests.gateway.office import WHEN, Office, refused
from tests.settlement.conftest import PHARMACY
from tests.support.apps import build, running
from tests.support.two_platforms import B_REGION, PlatformB, after_commit_wait, peer_platform

#: How long B holds a reservation (A's setting, sent with every reserve): the tests' platforms run with
#: the default.
HOLD_S = SettlementSettings.model_fields["interplatform_hold_s"].default


@pytest.fixture
async def platform_b(databases: DatabaseFactory, office: Office) -> AsyncIterator[PlatformB]:
    """Platform B with its own policy for 110105, and A's settlement knowing B as its peer."""
    assert office.api.app is not None
    async with peer_platform(databases, office.api.app) as platform:
        yield platform


async def events(db: Database, event_type: str) -> list[dict[str, Any]]:
    """The data of the outbox events of ``event_type`` in a platform's settlement database."""
    async with db.session() as session:
        query = infra.outbox.select().where(infra.outbox.c.event_type == event_type)
        rows = (await session.execute(query)).all()
    return [EventEnvelope.model_validate(json.loads(row.payload)).data for row in rows]


def purchase(psn_no: str, certno: str) -> dict[str, Any]:
    info = {
        "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "begntime": WHEN,
        "medfee_sumamt": "60.00", "invono": "", "insutype": "390", "acct_used_flag": "0", "med_type": "41",
        "dise_codg": "",
    }  # fmt: skip
    lines = [
        {"feedetl_sn": "1", "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": WHEN, "med_list_codg": "A",
         "medins_list_codg": "YA", "det_item_fee_sumamt": "30.00", "cnt": "60", "pric": "0.5"},
        {"feedetl_sn": "2", "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": WHEN, "med_list_codg": "D",
         "medins_list_codg": "YD", "det_item_fee_sumamt": "30.00", "cnt": "10", "pric": "3.00"},
    ]  # fmt: skip
    return {"druginfo": info, "drugdetail": lines}


async def buy(office: Office, body: dict[str, Any], msgid: str | None = None) -> dict[str, Any]:
    return await office.send("2102", body, msgid, fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)


async def peer_rows(office: Office) -> list[PeerSettlement]:
    async with office.db.session() as session:
        return list(await session.scalars(select(PeerSettlement)))


async def test_a_purchase_of_a_peer_insured_settles_under_their_platform_policy(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person()
    answer = await buy(office, purchase(psn_no, certno))
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    assert info["pay_loc"] == "4" and info["insuplc_admdvs"] == B_REGION
    assert info["psn_name"] == "北京人员" and info["certno"] == certno
    # The header's arithmetic: bill 60.00, range 53.75, B's fund 21.88, cash 38.12.
    assert Decimal(str(info["medfee_sumamt"])) == Decimal("60.00")
    assert Decimal(str(info["hifp_pay"])) == Decimal("21.88")
    assert Decimal(str(info["psn_cash_pay"])) == Decimal("38.12")
    lines = {x["feedetl_sn"]: x for x in answer["output"]["detlcutinfo"]}
    assert Decimal(str(lines["2"]["overlmt_amt"])) == Decimal("5.00")  # A's cap: (3.00 − 2.50) × 10
    # B holds the year: its deductible 10.00 met, its fund's 21.88 paid, confirmed with A's setl_id.
    (held,) = await platform_b.reservations(psn_no)
    assert (held.status, held.platform, held.treating_setl_id) == ("confirmed", "A", info["setl_id"])
    totals = await platform_b.totals(psn_no)
    assert totals["totals"]["outpatient_deductible_fen"] == 10_00
    assert totals["totals"]["outpatient_paid_fen"] == 21_88
    assert totals["settlement_count"] == 1
    (row,) = await peer_rows(office)
    assert (row.status, row.peer, row.setl_id) == ("confirmed", "B", info["setl_id"])
    # The books' events: A's settlement names B as the insured platform (A's ledger: due from B, owed to
    # its pharmacy); B's confirmation names A as the treating platform (B's ledger: its fund owes A).
    (mine,) = await events(office.db, "settlement.completed")
    assert (mine["insured_platform"], mine["fund_pay_sumamt_fen"]) == ("B", 21_88)
    (theirs,) = await events(platform_b.api.db, "settlement.completed")
    assert (theirs["treating_platform"], theirs["setl_id"], theirs["mdtrt_id"]) == (
        "A", held.reservation_id, info["setl_id"],
    )  # fmt: skip
    assert (theirs["fund_pay_sumamt_fen"], theirs["clr_type"], theirs["fixmedins_code"]) == (
        21_88,
        "41",
        PHARMACY,
    )

    # 2103: A reverses its settlement, B releases the reservation: the person's year as before.
    reversal = await office.send(
        "2103", {"data": {"setl_id": info["setl_id"], "mdtrt_id": info["mdtrt_id"], "psn_no": psn_no}},
        fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION,
    )  # fmt: skip
    assert reversal["infcode"] == 0, reversal["err_msg"]
    assert Decimal(str(reversal["output"]["setlinfo"]["hifp_pay"])) == Decimal("-21.88")
    (held,) = await platform_b.reservations(psn_no)
    assert (held.status, held.release_reason) == ("released", "reversal")
    totals = await platform_b.totals(psn_no)
    assert totals["totals"]["outpatient_deductible_fen"] == 0 and totals["settlement_count"] == 0
    assert [r.status for r in await peer_rows(office)] == ["released"]
    (mine,) = await events(office.db, "settlement.reversed")
    assert (mine["insured_platform"], mine["fund_pay_sumamt_fen"]) == ("B", -21_88)
    (theirs,) = await events(platform_b.api.db, "settlement.reversed")
    assert (theirs["treating_platform"], theirs["original_setl_id"], theirs["fund_pay_sumamt_fen"]) == (
        "A", held.reservation_id, -21_88,
    )  # fmt: skip


async def test_a_peer_that_hangs_on_the_confirmation_does_not_hold_the_committed_answer(
    office: Office, platform_b: PlatformB
) -> None:
    """The purchase is decided by A's commit. The confirmation it then owes B is waited for at most
    ``interplatform_after_commit_wait_s``: a B that neither answers nor fails must not keep the HIS's
    answer until the gateway gives up on it as outcome-unknown. The confirmation goes on in the background
    and lands when B answers."""
    assert office.api.app is not None
    after_commit_wait(office.api.app, 0.1)
    psn_no, certno = await platform_b.person(43)
    platform_b.link.stall = "/confirmation"
    # A deadlock guard, not a timing check: waiting for the stalled call would never end.
    answer = await asyncio.wait_for(buy(office, purchase(psn_no, certno)), 60)
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    assert Decimal(str(info["hifp_pay"])) == Decimal("21.88")  # as in the first test: B's policy
    assert len(platform_b.link.stalled) == 1 and platform_b.link.stalled[0].endswith("/confirmation")
    # Settled at A; the confirmation still owed while B hangs, B still holding the reservation.
    (row,) = await peer_rows(office)
    assert (row.status, row.setl_id) == ("reserved", info["setl_id"])
    (held,) = await platform_b.reservations(psn_no)
    assert held.status == "reserved"
    # B answers at last: the confirmation sent in the background lands.
    platform_b.link.resume.set()
    calls = office.api.app.state.runtime.calls_running()
    await asyncio.wait_for(asyncio.gather(*calls), 60)
    (row,) = await peer_rows(office)
    assert row.status == "confirmed"
    (held,) = await platform_b.reservations(psn_no)
    assert (held.status, held.treating_setl_id) == ("confirmed", info["setl_id"])


async def reserve_answer_lost(office: Office, platform_b: PlatformB, sequence: int) -> tuple[str, str, str]:
    """A purchase of B's person ``sequence`` at A whose reserve B made and answered, the answer lost: the HIS
    got E_OUTCOME_UNKNOWN, B holds the year. (psn_no, certno, the purchase's msgid.)"""
    psn_no, certno = await platform_b.person(sequence)
    msgid = office.msgid(PHARMACY)
    platform_b.link.lose = "/reservations"
    refused(await buy(office, purchase(psn_no, certno), msgid), "E_OUTCOME_UNKNOWN")
    return psn_no, certno, msgid


async def test_a_lost_reserve_answer_is_outcome_unknown_and_the_repeat_settles_once(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno, msgid = await reserve_answer_lost(office, platform_b, 32)
    # B reserved (and holds the year); A wrote nothing.
    assert [r.status for r in await platform_b.reservations(psn_no)] == ["reserved"]
    assert await peer_rows(office) == []
    # The HIS repeats the msgid: A reserves again under it, B answers with its first reservation.
    again = await buy(office, purchase(psn_no, certno), msgid)
    assert again["infcode"] == 0, again["err_msg"]
    assert [r.status for r in await platform_b.reservations(psn_no)] == ["confirmed"]
    assert (await platform_b.totals(psn_no))["totals"]["outpatient_paid_fen"] == 21_88  # held once


async def test_a_confirmation_still_owed_past_its_window_is_counted_for_the_alert(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person(33)
    platform_b.link.lose = "/confirmation"
    answer = await buy(office, purchase(psn_no, certno))
    # A's settlement committed; the confirmation's answer was lost: it stays owed (B did confirm).
    assert answer["infcode"] == 0, answer["err_msg"]
    (row,) = await peer_rows(office)
    assert row.status == "reserved"
    async with office.db.session() as session:
        assert await unknown_past_window(session, now_china(), hold_s=HOLD_S) == 0  # within the window
        assert await unknown_past_window(session, row.expires_at, hold_s=HOLD_S) == 1  # past it
    # Sent again (the background loop's job): B answers the repeat, nothing is owed.
    treating: Treating = office.api.app.state.peer_route  # type: ignore[union-attr]
    assert await treating.send_owed(office.db) == 1
    assert [r.status for r in await peer_rows(office)] == ["confirmed"]


async def test_a_person_the_peer_does_not_cover_is_refused_and_nothing_is_written(
    office: Office, platform_b: PlatformB
) -> None:
    certno = make_id_number(B_REGION, date(1985, 3, 12), 34)
    refused(await buy(office, purchase(f"{B_REGION}{34:016d}", certno)), "NOT_COVERED")
    platform_b.link.down = True
    psn_no, certno = await platform_b.person(35)
    refused(await buy(office, purchase(psn_no, certno)), "E_OUTCOME_UNKNOWN")
    assert await peer_rows(office) == []


async def test_a_settlement_whose_hold_the_peer_released_before_the_confirmation_is_reversed_here(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person(36)
    platform_b.link.cut = "/confirmation"
    answer = await buy(office, purchase(psn_no, certno))
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    (row,) = await peer_rows(office)
    # B's hold runs out unconfirmed: B releases it itself and gives the year back.
    async with platform_b.api.db.transaction() as session:
        assert await reservations.release_expired(session, row.expires_at) == 1
    assert (await platform_b.totals(psn_no))["settlement_count"] == 0
    # The confirmation arrives late: refused RESERVATION_EXPIRED. B will never pay it, so A reverses its
    # settlement itself (msgid E + its setl_id without the S) and sends the release, which B answers as
    # it stands.
    platform_b.link.cut = None
    treating: Treating = office.api.app.state.peer_route  # type: ignore[union-attr]
    assert await treating.send_owed(office.db) == 2  # the reversal, then the release
    (row,) = await peer_rows(office)
    assert (row.status, row.release_reason) == ("released", "timeout")
    (held,) = await platform_b.reservations(psn_no)
    assert (held.status, held.release_reason) == ("released", "timeout")
    # The cashier's query of the settlement shows it reversed, by the reversal A wrote: every amount of
    # the module docstring negated (fund 21.88, cash 38.12, bill 60.00).
    original = await office.api.client.get(f"/api/v1/settlements/{info['setl_id']}")
    assert original.json()["status"] == "reversed"
    reversal = (await office.api.client.get(f"/api/v1/settlements/{row.reversal_setl_id}")).json()
    assert (reversal["reversal_of"], reversal["fund_paid_total_fen"], reversal["cash_paid_fen"]) == (
        info["setl_id"], -21_88, -38_12,
    )  # fmt: skip
    assert reversal["medfee_sumamt_fen"] == -60_00
    # A's ledger gets the reversal's event naming B: 1303 due from B and 2101 taken back.
    (mine,) = await events(office.db, "settlement.reversed")
    assert (mine["insured_platform"], mine["fund_pay_sumamt_fen"], mine["msgid"]) == (
        "B", -21_88, f"E{info['setl_id'][1:]}",
    )  # fmt: skip
    # B never confirmed: nothing was booked there, so nothing is taken back.
    assert await events(platform_b.api.db, "settlement.completed") == []
    assert await events(platform_b.api.db, "settlement.reversed") == []
    # Resolved: no longer in the alert; sending again owes nothing.
    async with office.db.session() as session:
        assert await unknown_past_window(session, now_china(), hold_s=HOLD_S) == 0
    assert await treating.send_owed(office.db) == 0


async def test_a_release_without_an_answer_stays_owed_until_sent_again(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person(37)
    info = (await buy(office, purchase(psn_no, certno)))["output"]["setlinfo"]
    platform_b.link.cut = "/release"
    reversal = await office.send(
        "2103", {"data": {"setl_id": info["setl_id"], "mdtrt_id": info["mdtrt_id"], "psn_no": psn_no}},
        fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION,
    )  # fmt: skip
    # A's reversal stands (its HIS is answered); the release is owed, B still holds the year.
    assert reversal["infcode"] == 0, reversal["err_msg"]
    assert [r.status for r in await peer_rows(office)] == ["releasing"]
    assert (await platform_b.totals(psn_no))["settlement_count"] == 1
    platform_b.link.cut = None
    treating: Treating = office.api.app.state.peer_route  # type: ignore[union-attr]
    assert await treating.send_owed(office.db) == 1
    assert [r.status for r in await peer_rows(office)] == ["released"]
    assert (await platform_b.totals(psn_no))["settlement_count"] == 0


@dataclass
class ByHost:
    """The gateway's downstream client in front of both of A's services: the office routes every call to
    settlement; 1101 asks enrollment first (``http://enrollment``)."""

    hosts: dict[str, Any]

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = await self.hosts[httpx.URL(url).host].request(method, url, **kwargs)
        return response


@pytest.fixture
async def with_enrollment(databases: DatabaseFactory, office: Office) -> AsyncIterator[None]:
    """A's enrollment service (empty: nobody insured on A) behind the office's gateway."""
    app = build(
        create_enrollment, EnrollmentSettings, database_url=databases.migrated("enrollment"),
        run_background_workers=False,
    )  # fmt: skip
    async with running(app) as enrollment:
        settlement = office.link.client
        office.link.client = cast(
            httpx.AsyncClient, ByHost({"enrollment": enrollment, "service": settlement})
        )
        yield
        office.link.client = settlement


def lookup(certno: str) -> dict[str, Any]:
    return {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "begntime": WHEN}}


async def test_1101_of_a_peer_insured_answers_as_the_peer_knows_them_and_the_purchase_settles(
    office: Office, platform_b: PlatformB, with_enrollment: None
) -> None:
    psn_no, certno = await platform_b.person(41)
    answer = await office.send("1101", lookup(certno), fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)
    assert answer["infcode"] == 0, answer["err_msg"]
    base = answer["output"]["baseinfo"]
    today = now_china().date()
    age = today.year - 1985 - ((today.month, today.day) < (3, 12))  # born 1985-03-12
    assert (base["psn_no"], base["certno"], base["psn_name"], base["gend"]) == (
        psn_no,
        certno,
        "北京人员",
        "2",
    )
    assert (base["brdy"], base["age"], base["psn_cert_type"]) == ("1985-03-12", age, "01")
    # B's cover of 2026 (1 January to 31 December) on the care day 2026-11-20: insured (1), not paused.
    (row,) = answer["output"]["insuinfo"]
    assert (row["insuplc_admdvs"], row["insutype"], row["psn_type"]) == (B_REGION, "390", "1501")
    assert (row["psn_insu_stas"], row["psn_insu_date"]) == ("1", "2026-01-01")
    assert "paus_insu_date" not in row
    assert answer["output"]["idetinfo"] == []
    # The counter goes on with the psn_no it was given: B's policy pays (module docstring: 21.88).
    settled = await buy(office, purchase(base["psn_no"], certno))
    assert settled["infcode"] == 0, settled["err_msg"]
    info = settled["output"]["setlinfo"]
    assert info["pay_loc"] == "4" and Decimal(str(info["hifp_pay"])) == Decimal("21.88")


async def test_1101_of_someone_neither_platform_knows_is_refused_by_the_platform_asked(
    office: Office, platform_b: PlatformB, with_enrollment: None
) -> None:
    stranger = make_id_number(B_REGION, date(1990, 1, 1), 77)
    # Insured region B's: B is asked and does not know them.
    answer = await office.send("1101", lookup(stranger), fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("[PERSON_NOT_FOUND] 参保地平台"), answer
    # A region no peer hosts (A's own): A's enrollment's refusal stands, no peer asked.
    answer = await office.send("1101", lookup(stranger), fixmedins_code=PHARMACY)
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("[PERSON_NOT_FOUND] 未查询到"), answer


async def test_1101_while_the_peer_is_unreachable_is_try_again(
    office: Office, platform_b: PlatformB, with_enrollment: None
) -> None:
    _, certno = await platform_b.person(43)
    platform_b.link.down = True
    answer = await office.send("1101", lookup(certno), fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("[E_UNAVAILABLE]"), answer
    platform_b.link.down = False
    again = await office.send("1101", lookup(certno), fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)
    assert again["infcode"] == 0, again["err_msg"]


async def test_a_peer_insured_gets_the_treating_regions_own_cap_with_their_platforms_ratio(
    office: Office, platform_b: PlatformB
) -> None:
    """就医地限价 across platforms: item RC is 甲, capped at 3.00, and A's region 341524 (the pharmacy's)
    caps it at 2.00, 341502 at 2.80. 10 × RC at 3.00 = 30.00 at A's pharmacy:
        over the cap (3.00 − 2.00) × 10 = 10.00 (341524's cap, not the item's 3.00 nor 341502's 2.80);
        policy range 20.00;
    B's policy: (20.00 − 10.00 deductible) × (60 % − 10 points) = 5.00 from 390100; cash 30.00 − 5.00 = 25.00.
    B's reservation carries A's classification: range 20.00, over the cap 10.00."""
    item = {"med_list_codg": "RC", "name": "就医地限价", "med_chrgitm_type": "09", "chrgitm_lv": "1",
            "pric_uplmt": "3", "pric_uplmt_by_admdvs": {"341524": "2", "341502": "2.80"}}  # fmt: skip
    assert (await office.api.post("/api/v1/catalogue/items", item)).status_code == 201
    psn_no, certno = await platform_b.person(36)
    body = purchase(psn_no, certno)
    body["druginfo"]["medfee_sumamt"] = "30.00"
    body["drugdetail"] = [
        {
            **body["drugdetail"][0],
            "med_list_codg": "RC",
            "medins_list_codg": "YRC",
            "cnt": "10",
            "pric": "3.00",
        }
    ]
    answer = await buy(office, body)
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    assert (info["pay_loc"], info["insuplc_admdvs"], info["mdtrtarea_admvs"]) == ("4", B_REGION, "341524")
    names = ("medfee_sumamt", "overlmt_selfpay", "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "psn_cash_pay")
    got = {name: Decimal(str(info[name])) for name in names}
    assert got == {
        "medfee_sumamt": Decimal("30.00"), "overlmt_selfpay": Decimal("10.00"),
        "inscp_scp_amt": Decimal("20.00"), "act_pay_dedc": Decimal("10.00"), "hifp_pay": Decimal("5.00"),
        "psn_cash_pay": Decimal("25.00"),
    }  # fmt: skip
    (line,) = answer["output"]["detlcutinfo"]
    assert (Decimal(str(line["pric_uplmt_amt"])), Decimal(str(line["overlmt_amt"]))) == (
        Decimal("2.00"),
        Decimal("10.00"),
    )
    (held,) = await platform_b.reservations(psn_no)
    assert held.status == "confirmed"
    assert (await platform_b.totals(psn_no))["totals"]["outpatient_paid_fen"] == 5_00


async def insured_side_records(platform_b: PlatformB) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """B's reconciliation figures of today (Beijing): its settlement records and its totals rows."""
    today = now_china().date().isoformat()
    period = {"date_from": today, "date_to": today}
    listed = await platform_b.api.client.get("/api/v1/reconciliation/settlements", params=period)
    assert listed.status_code == 200, listed.text
    totals = await platform_b.api.client.get("/api/v1/reconciliation/totals", params=period)
    assert totals.status_code == 200, totals.text
    return listed.json()["settlements"], totals.json()["rows"]


async def publicity_list(platform_b: PlatformB) -> list[dict[str, Any]]:
    month = now_china().strftime("%Y-%m")
    report = await platform_b.api.client.get(
        "/api/v1/reports/publicity", params={"admdvs": B_REGION, "month": month}
    )
    assert report.status_code == 200, report.text
    lines: list[dict[str, Any]] = report.json()["list"]
    return lines


async def test_the_insured_side_keeps_a_settlement_record_of_a_confirmed_reservation(
    office: Office, platform_b: PlatformB
) -> None:
    """The purchase of the module's docstring, on B's side: B's fund pays 21.88 of a 60.00 bill (cash 38.12).
    B's reconciliation and its monthly publicity list show it as a settlement of B (setl_id the reservation
    id, under which B's ledger booked it from the confirmation's event), its yearly totals hold it once; A's
    reversal releases it, which B records as the reversal (−21.88, setl_id the reservation id + X)."""
    psn_no, certno = await platform_b.person(37)
    answer = await buy(office, purchase(psn_no, certno))
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    (held,) = await platform_b.reservations(psn_no)
    assert held.status == "confirmed"
    rid = held.reservation_id

    listed, totals = await insured_side_records(platform_b)
    (record,) = [r for r in listed if r["psn_no"] == psn_no]
    assert (record["setl_id"], record["kind"], record["reversal_of"], record["mdtrt_id"]) == (
        rid, "settlement", None, info["setl_id"],
    )  # fmt: skip
    assert (record["fixmedins_code"], record["insutype"], record["clr_type"]) == (PHARMACY, "390", "41")
    # 60.00 billed, B's fund 21.88 (all of it 390100), no personal account.
    assert (record["medfee_sumamt_fen"], record["fund_pay_sumamt_fen"], record["acct_pay_fen"]) == (
        60_00,
        21_88,
        0,
    )
    assert record["funds"] == {"390100": 21_88}
    # What B's ledger booked: the confirmation's event under the same setl_id and fund amount.
    (booked,) = [e for e in await events(platform_b.api.db, "settlement.completed") if e["psn_no"] == psn_no]
    assert (booked["setl_id"], booked["fund_pay_sumamt_fen"]) == (rid, record["fund_pay_sumamt_fen"])
    (row,) = [t for t in totals if t["fixmedins_code"] == PHARMACY]
    assert (row["settlement_cnt"], row["reversal_cnt"], row["net_cnt"]) == (1, 0, 1)
    assert (row["medfee_sumamt_fen"], row["fund_pay_sumamt_fen"]) == (60_00, 21_88)
    # The yearly totals hold it once (the reservation's hold; the record moves nothing): deductible 10.00,
    # fund 21.88, one settlement.
    year = (await platform_b.totals(psn_no))["totals"]
    assert (year["outpatient_deductible_fen"], year["outpatient_paid_fen"]) == (10_00, 21_88)
    assert (await platform_b.totals(psn_no))["settlement_count"] == 1
    (line,) = [c for c in await publicity_list(platform_b) if c["reference"] == rid]
    assert (line["name"], line["kind"], line["care_day"], line["source"]) == (
        "北**员",  # 北京人员, masked
        "pharmacy",
        "2026-11-20",
        "跨省结算",
    )
    assert (line["medfee_fen"], line["fund_paid_fen"]) == (60_00, 21_88)

    # A reverses (2103): B releases, and records the reversal: −60.00 billed, −21.88 from the fund.
    reversal = await office.send(
        "2103", {"data": {"setl_id": info["setl_id"], "mdtrt_id": info["mdtrt_id"], "psn_no": psn_no}},
        fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION,
    )  # fmt: skip
    assert reversal["infcode"] == 0, reversal["err_msg"]
    listed, totals = await insured_side_records(platform_b)
    mine = [(r["setl_id"], r["kind"], r["reversal_of"], r["fund_pay_sumamt_fen"]) for r in listed
            if r["psn_no"] == psn_no]  # fmt: skip
    assert mine == [(rid, "settlement", None, 21_88), (f"{rid}X", "reversal", rid, -21_88)]
    (undone,) = [e for e in await events(platform_b.api.db, "settlement.reversed") if e["psn_no"] == psn_no]
    assert (undone["setl_id"], undone["fund_pay_sumamt_fen"]) == (f"{rid}X", -21_88)
    (row,) = [t for t in totals if t["fixmedins_code"] == PHARMACY]
    # Net: 21.88 − 21.88 = 0.00, one settlement and its reversal.
    assert (row["settlement_cnt"], row["reversal_cnt"], row["net_cnt"], row["fund_pay_sumamt_fen"]) == (
        1,
        1,
        0,
        0,
    )
    assert (await platform_b.totals(psn_no))["settlement_count"] == 0
    assert [c for c in await publicity_list(platform_b) if c["reference"] == rid] == []


def _month(expires_at: Any) -> str:
    return f"{expires_at.astimezone(CHINA_TZ):%Y-%m}"


async def test_the_months_statements_of_both_platforms_reconcile_settlement_by_settlement(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person(51)
    # Two purchases and a third reversed (module docstring): the first 21.88; then the deductible is met,
    # 53.75 × 50 % = 26.875 → 26.88 each.
    first = (await buy(office, purchase(psn_no, certno)))["output"]["setlinfo"]
    second = (await buy(office, purchase(psn_no, certno)))["output"]["setlinfo"]
    third = (await buy(office, purchase(psn_no, certno)))["output"]["setlinfo"]
    paid = [Decimal(str(x["hifp_pay"])) for x in (first, second, third)]
    assert paid == [Decimal("21.88"), Decimal("26.88"), Decimal("26.88")]
    undone = await office.send(
        "2103", {"data": {"setl_id": third["setl_id"], "mdtrt_id": third["mdtrt_id"], "psn_no": psn_no}},
        fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION,
    )  # fmt: skip
    assert undone["infcode"] == 0, undone["err_msg"]
    rows = {r.setl_id: r for r in await peer_rows(office)}
    month = _month(rows[first["setl_id"]].expires_at)
    # A's operator asks A's settlement, which asks B for its statement: B's insured items against A's
    # treated ones, by reservation.
    answer = await office.api.client.post(
        "/api/v1/interplatform/reconciliations", json={"month": month, "peer": "B"}
    )
    assert answer.status_code == 200, answer.text
    receivable = answer.json()["receivable"]
    # 21.88 + 26.88 = 48.76 matched; the reversed one released on both.
    assert (receivable["matched"], receivable["matched_fen"], receivable["released"]) == (2, 48_76, 1)
    assert (receivable["here_fen"], receivable["there_fen"], receivable["reconciled"]) == (48_76, 48_76, True)
    assert receivable["books"] == [
        {"admdvs": "341524", "insutype": "390", "fund_pay_type": "390100", "amount_fen": 48_76}
    ]
    assert answer.json()["payable"]["matched"] == 0 and answer.json()["payable"]["reconciled"] is True
    # B's own statement (what it sent A) names A's settlements on its confirmed reservations.
    statement = await platform_b.api.client.get(
        f"/api/v1/interplatform/statements/{month}", params={"peer": "A"}
    )
    insured = {i["treating_setl_id"]: i for i in statement.json()["insured"]}
    assert (insured[first["setl_id"]]["status"], insured[first["setl_id"]]["fund_paid_total_fen"]) == (
        "confirmed", 21_88,
    )  # fmt: skip
    assert insured[third["setl_id"]]["status"] == "released"

    # A fourth purchase whose confirmation's answer is lost: pending on A's side (confirmed on B's): the
    # month is not reconciled until the owed call is answered.
    platform_b.link.lose = "/confirmation"
    fourth = (await buy(office, purchase(psn_no, certno)))["output"]["setlinfo"]
    answer = await office.api.client.post(
        "/api/v1/interplatform/reconciliations", json={"month": month, "peer": "B"}
    )
    receivable = answer.json()["receivable"]
    assert receivable["reconciled"] is False
    [pending] = receivable["pending"]
    assert (pending["treating_setl_id"], pending["here_status"], pending["there_status"]) == (
        fourth["setl_id"], "pending", "confirmed",
    )  # fmt: skip


async def test_a_reconciliation_with_a_platform_that_is_not_a_peer_is_refused(
    office: Office, platform_b: PlatformB
) -> None:
    answer = await office.api.client.post(
        "/api/v1/interplatform/reconciliations", json={"month": "2026-11", "peer": "Z"}
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "PEER_NOT_FOUND"
    bad = await office.api.client.post(
        "/api/v1/interplatform/reconciliations", json={"month": "2026-13", "peer": "B"}
    )
    assert bad.status_code == 422


async def _move_to_last_month(office: Office, platform_b: PlatformB, reservation_ids: list[str]) -> str:
    """The reservations' holds moved back to the 15th of last month, noon in Beijing, the same instant on
    both platforms (as if the purchases had been made then); last month's ``yyyy-mm``."""
    first_of_month = now_china().replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    last_month = (first_of_month - timedelta(days=1)).replace(day=15)
    async with office.db.transaction() as session:
        for row in await session.scalars(
            select(PeerSettlement).where(col(PeerSettlement.reservation_id).in_(reservation_ids))
        ):
            row.expires_at = last_month
    async with platform_b.api.db.transaction() as session:
        for reservation in await session.scalars(
            select(Reservation).where(col(Reservation.reservation_id).in_(reservation_ids))
        ):
            reservation.expires_at = last_month
    return f"{last_month:%Y-%m}"


async def test_a_settlement_cleared_in_its_month_and_reversed_in_the_next_comes_back_in_the_next(
    office: Office, platform_b: PlatformB
) -> None:
    """Two purchases of last month (21.88, then 26.88 with the deductible met: module docstring), the second
    reversed (2103) this month, after last month was stated. Last month stays as it was at its end, both
    confirmed: 21.88 + 26.88 = 48.76 owed by B; this month both platforms state the second as reversed,
    −26.88: A pays it back. Dated by A's reversal, which B keeps."""
    psn_no, certno = await platform_b.person(52)
    first = (await buy(office, purchase(psn_no, certno)))["output"]["setlinfo"]
    second = (await buy(office, purchase(psn_no, certno)))["output"]["setlinfo"]
    rows = {r.setl_id: r for r in await peer_rows(office)}
    last_month = await _move_to_last_month(
        office, platform_b, [rows[first["setl_id"]].reservation_id, rows[second["setl_id"]].reservation_id]
    )
    this_month = f"{now_china():%Y-%m}"

    async def reconciled(month: str) -> dict[str, Any]:
        answer = await office.api.client.post(
            "/api/v1/interplatform/reconciliations", json={"month": month, "peer": "B"}
        )
        assert answer.status_code == 200, answer.text
        receivable: dict[str, Any] = answer.json()["receivable"]
        return receivable

    before = await reconciled(last_month)
    assert (before["matched"], before["matched_fen"], before["reconciled"]) == (2, 48_76, True)

    # The release of the reversal is lost on its way back first: A states it pending, B has nothing yet.
    platform_b.link.cut = "/release"
    undone = await office.send(
        "2103", {"data": {"setl_id": second["setl_id"], "mdtrt_id": second["mdtrt_id"], "psn_no": psn_no}},
        fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION,
    )  # fmt: skip
    assert undone["infcode"] == 0, undone["err_msg"]
    owed = await reconciled(this_month)
    assert owed["reconciled"] is False
    [pending] = owed["pending"]
    assert (pending["treating_setl_id"], pending["here_status"], pending["there_status"]) == (
        second["setl_id"], "pending", None,
    )  # fmt: skip
    # Last month is stated as at its end: unchanged by what came after.
    assert await reconciled(last_month) == before

    platform_b.link.cut = None
    treating: Treating = office.api.app.state.peer_route  # type: ignore[union-attr]
    assert await treating.send_owed(office.db) == 1
    after = await reconciled(this_month)
    assert (after["matched"], after["matched_fen"], after["here_fen"], after["there_fen"]) == (
        1, -26_88, -26_88, -26_88,
    )  # fmt: skip
    assert after["reconciled"] is True
    assert after["books"] == [
        {"admdvs": "341524", "insutype": "390", "fund_pay_type": "390100", "amount_fen": -26_88}
    ]
    assert await reconciled(last_month) == before
    # B dated the reversal by A's reversal record, not by the release's arrival.
    async with office.db.session() as session:
        peer_row = await session.scalar(
            select(PeerSettlement).where(PeerSettlement.setl_id == second["setl_id"])
        )
        assert peer_row is not None and peer_row.reversal_setl_id is not None
        reversal = await session.scalar(
            select(Settlement).where(Settlement.setl_id == peer_row.reversal_setl_id)
        )
    async with platform_b.api.db.session() as session:
        kept = await session.scalar(
            select(Reservation).where(Reservation.reservation_id == peer_row.reservation_id)
        )
    assert reversal is not None and kept is not None and kept.reversed_at == reversal.setl_time


async def void_at_a(office: Office, psn_no: str, omsgid: str) -> dict[str, Any]:
    body = {"data": {"psn_no": psn_no, "omsgid": omsgid, "oinfno": "2102"}}
    return await office.send("2601", body, fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)


async def voids(office: Office) -> list[tuple[str, str, str | None]]:
    async with office.db.session() as session:
        rows = await session.scalars(select(PeerVoid).order_by(col(PeerVoid.id)))
        return [(row.msgid, row.status, row.outcome) for row in rows]


async def test_a_2601_after_a_lost_reserve_answer_gives_the_persons_year_back_at_once(
    office: Office, platform_b: PlatformB
) -> None:
    """B reserved (21.88 from its fund, see the module's docstring), its answer was lost: the HIS got
    E_OUTCOME_UNKNOWN and sends 2601. Nothing settled at A; A tells B, which gives the year back now instead
    of holding it until the hold runs out, and the msgid settles nothing anymore on either platform."""
    psn_no, certno, msgid = await reserve_answer_lost(office, platform_b, 38)
    assert (await platform_b.totals(psn_no))["totals"]["outpatient_paid_fen"] == 21_88  # held
    voided = await void_at_a(office, psn_no, msgid)
    assert voided["infcode"] == 0, voided["err_msg"]
    assert voided["output"]["data"]["outcome"] == "voided"
    assert [(r.status, r.release_reason) for r in await platform_b.reservations(psn_no)] == [
        ("released", "void")
    ]
    totals = await platform_b.totals(psn_no)
    assert (totals["totals"]["outpatient_paid_fen"], totals["settlement_count"]) == (0, 0)
    assert await voids(office) == [(msgid, "sent", "released")]
    # The repeat of the msgid is refused at A; a 2601 of it again owes B nothing more.
    refused(await buy(office, purchase(psn_no, certno), msgid), "E_VOIDED")
    assert (await void_at_a(office, psn_no, msgid))["infcode"] == 0
    assert await voids(office) == [(msgid, "sent", "released")]
    # The person's next purchase is settled on the year as it was: the deductible 10.00 again, 21.88 paid.
    again = await buy(office, purchase(psn_no, certno))
    assert again["infcode"] == 0, again["err_msg"]
    assert Decimal(str(again["output"]["setlinfo"]["hifp_pay"])) == Decimal("21.88")


async def test_a_void_b_does_not_hear_stays_owed_until_sent_again(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, _, msgid = await reserve_answer_lost(office, platform_b, 39)
    platform_b.link.cut = "/reservation-voids"
    # A's 2601 stands (nothing settled there, its HIS is answered); the void is owed, B still holds.
    assert (await void_at_a(office, psn_no, msgid))["output"]["data"]["outcome"] == "voided"
    assert await voids(office) == [(msgid, "owed", None)]
    assert [r.status for r in await platform_b.reservations(psn_no)] == ["reserved"]
    # Counted for the alert once a whole window has passed with the void unanswered, no longer once sent.
    async with office.db.session() as session:
        assert await unknown_past_window(session, now_china(), hold_s=HOLD_S) == 0
        later = now_china() + timedelta(seconds=HOLD_S + 1)
        assert await unknown_past_window(session, later, hold_s=HOLD_S) == 1
    platform_b.link.cut = None
    treating: Treating = office.api.app.state.peer_route  # type: ignore[union-attr]
    assert await treating.send_voids(office.db) == 1
    assert await voids(office) == [(msgid, "sent", "released")]
    async with office.db.session() as session:
        assert await unknown_past_window(session, later, hold_s=HOLD_S) == 0
    assert [r.status for r in await platform_b.reservations(psn_no)] == ["released"]
    assert await treating.send_voids(office.db) == 0  # nothing owed anymore


async def test_a_2601_of_a_msgid_that_never_reached_b_keeps_a_late_reserve_from_holding(
    office: Office, platform_b: PlatformB
) -> None:
    """The 2102 never reached A (or A never reached B): A's 2601 voids the msgid at A and at B, so a reserve
    of it that is still on its way holds nothing at B."""
    psn_no, _ = await platform_b.person(40)
    msgid = office.msgid(PHARMACY)
    assert (await void_at_a(office, psn_no, msgid))["output"]["data"]["outcome"] == "voided"
    assert await voids(office) == [(msgid, "sent", "voided")]
    # A reserve under that msgid reaching B late (as A's settlement in flight sent it) is refused there.
    line = {"feedetl_sn": "1", "amount_fen": 3000, "fully_self_paid_fen": 0, "over_price_cap_fen": 0,
            "self_pay_first_fen": 0, "policy_range_fen": 3000}  # fmt: skip
    reserve = {
        "msgid": msgid, "platform": "A", "psn_no": psn_no, "insutype": "390",
        "begntime": "2026-11-20T10:00:00+08:00", "med_type": "41", "fixmedins_code": PHARMACY,
        "mdtrtarea_admvs": "341524", "hosp_lv": "9", "lines": [line],
    }  # fmt: skip
    late = await platform_b.api.client.post("/api/v1/interplatform/reservations", json=reserve)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "RESERVATION_VOIDED")
    assert (await platform_b.totals(psn_no))["settlement_count"] == 0
