"""The monthly clearing between platforms in the books (``fund_ledger.interplatform``; docs/interface.md,
"Between platforms": the clearing), both backends. The settlement service's reconciliation is served by a
stand-in built from statements written here (``settlement.interplatform.clearing.compare``, the code the
settlement service runs); the entries come from the real events.

Platform A (region 341524) treated B's insured at its pharmacy: two settlements, 21.88 and 10.00 from B's
pooled fund, and a third of 15.00 reversed. 1303 due from B: 21.88 + 10.00 + 15.00 − 15.00 = 31.88. The
same care on B's side: 2106 due to A 31.88 (expenditure 5103)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fund_ledger.books.service import post_settlement_completed, post_settlement_reversed
from fund_ledger.config import LedgerSettings
from fund_ledger.interplatform.service import source_id
from fund_ledger.main import create_app
from fund_ledger.reconciliation.endpoints import settlement_client
from settlement.interplatform.clearing import compare

from shared.contracts.v1.interplatform import Reconciliation, ReservedFund, StatementItem
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.ledger.builders import completed, reversed_event
from tests.support.apps import build, running

A_REGION, B_REGION = "341524", "110105"
A_PHARMACY = "P34152400001"
MONTH = "2026-11"


class StandIn:
    """The settlement service's ``POST /api/v1/interplatform/reconciliations`` as the ledger sees it."""

    def __init__(self) -> None:
        self.answer: httpx.Response = httpx.Response(500)
        self.asked: list[bytes] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/interplatform/reconciliations"
        self.asked.append(request.content)
        return self.answer


@pytest.fixture
async def ledger_with(
    databases: DatabaseFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, Database, StandIn]]:
    url = databases.migrated("fund_ledger")
    app = build(create_app, LedgerSettings, database_url=url, run_background_workers=False)
    stand_in = StandIn()

    async def to_stand_in() -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(
            base_url="http://settlement", transport=httpx.MockTransport(stand_in.handle)
        ) as client:
            yield client

    app.dependency_overrides[settlement_client] = to_stand_in
    db = Database(url)
    async with running(app) as client:
        yield client, db, stand_in
    await db.dispose()


def item(reservation_id: str, status: str, fen: int, admdvs: str) -> StatementItem:
    confirmed = status == "confirmed"
    return StatementItem(
        reservation_id=reservation_id,
        treating_setl_id=f"S{reservation_id}",
        admdvs=admdvs,
        insutype="390",
        status=status,
        funds=[ReservedFund(fund_pay_type="390100", paid_fen=fen)] if confirmed else [],
        fund_paid_total_fen=fen if confirmed else 0,
    )


def items(admdvs: str, second_fen: int = 10_00) -> list[StatementItem]:
    return [
        item("R1", "confirmed", 21_88, admdvs),
        item("R2", "confirmed", second_fen, admdvs),
        item("R3", "released", 0, admdvs),
    ]


def reconciliation(
    platform: str, peer: str, admdvs: str, *, treated: bool, there_second_fen: int = 10_00
) -> str:
    """This platform's report: ``treated`` (it treated: receivable) or not (its insured: payable)."""
    here, there = items(admdvs), items("000000", there_second_fen)
    empty = compare([], [], platform, peer)
    direction = compare(here, there, platform if treated else peer, peer if treated else platform)
    report = Reconciliation(
        platform=platform,
        peer=peer,
        month=MONTH,
        receivable=direction if treated else empty,
        payable=empty if treated else direction,
    )
    return report.model_dump_json()


async def trial(client: httpx.AsyncClient, admdvs: str) -> dict[tuple[str, str], int]:
    rows = (await client.get("/api/v1/accounts/balances", params={"admdvs": admdvs})).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


async def book_care(db: Database, *, treating_side: bool) -> None:
    """The three settlements and the reversal of the module docstring, as that platform's events."""
    side = {"insured_platform": "B"} if treating_side else {"treating_platform": "A"}
    admdvs = B_REGION  # the insured region, as the events carry it; the treating side books its own region
    for setl_id, fen in (("S1", 21_88), ("S2", 10_00), ("S3", 15_00)):
        event = completed(setl_id, fen, institution=A_PHARMACY, admdvs=admdvs)
        event = event.model_copy(update={"mdtrtarea_admvs": A_REGION, **side})
        async with db.transaction() as session:
            await post_settlement_completed(session, event.envelope("test"))
    undo = reversed_event("S3", "S3R", 15_00, A_PHARMACY, admdvs=admdvs, med_type="41")
    undo = undo.model_copy(update={"mdtrtarea_admvs": A_REGION, **side})
    async with db.transaction() as session:
        await post_settlement_reversed(session, undo.envelope("test"))


async def clear(client: httpx.AsyncClient, peer: str) -> httpx.Response:
    return await client.post("/api/v1/inter-platform-clearings", json={"month": MONTH, "peer": peer})


async def test_the_treating_platform_receives_the_month_and_1303_goes_to_zero(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    client, db, stand_in = ledger_with
    await book_care(db, treating_side=True)
    assert await trial(client, A_REGION) == {("1303", "B"): 31_88, ("2101", A_PHARMACY): 31_88}
    stand_in.answer = httpx.Response(200, content=reconciliation("A", "B", A_REGION, treated=True))
    cleared = await clear(client, "B")
    assert cleared.status_code == 201, cleared.text
    body = cleared.json()
    assert body["receivable"]["status"] == "cleared" and body["payable"]["status"] == "nothing_owed"
    [entry] = body["receivable"]["entries"]
    # 21.88 + 10.00 matched (the reversed one released on both): 31.88 received, Dr 1002 / Cr 1303[B].
    assert (entry["source_type"], entry["source_id"], entry["amount_fen"]) == (
        "inter_platform_receipt", "IPC202611341524390B", 31_88,
    )  # fmt: skip
    assert await trial(client, A_REGION) == {("1002", ""): 31_88, ("2101", A_PHARMACY): 31_88}
    # Once: the month again books nothing and answers what was booked.
    again = await clear(client, "B")
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert await trial(client, A_REGION) == {("1002", ""): 31_88, ("2101", A_PHARMACY): 31_88}
    assert (await client.get("/api/v1/chain/verify")).json()["ok"] is True


async def test_the_insured_platform_pays_from_its_special_account_and_2106_goes_to_zero(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    client, db, stand_in = ledger_with
    await book_care(db, treating_side=False)
    assert await trial(client, B_REGION) == {("5103", ""): 31_88, ("2106", "A"): 31_88}
    stand_in.answer = httpx.Response(200, content=reconciliation("B", "A", B_REGION, treated=False))
    # Nothing in B's special account: the payment would overdraw it; refused, nothing booked.
    refused = await clear(client, "A")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert await trial(client, B_REGION) == {("5103", ""): 31_88, ("2106", "A"): 31_88}
    opening = {"admdvs": B_REGION, "insutype": "390", "as_of": "2026-11-01", "special_account_fen": 100_00,
               "audited_by": "审计局", "audit_ref": "审110105"}  # fmt: skip
    assert (await client.post("/api/v1/opening-balances", json=opening)).status_code == 201
    cleared = await clear(client, "A")
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["payable"]["status"] == "cleared"
    # Dr 2106[A] / Cr 1002 31.88: 100.00 − 31.88 = 68.12 left.
    books = await trial(client, B_REGION)
    assert ("2106", "A") not in books and books[("1002", "")] == 68_12


async def test_a_month_the_platforms_disagree_on_books_nothing(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    client, db, stand_in = ledger_with
    await book_care(db, treating_side=True)
    # B's statement says 10.01 for the second settlement.
    stand_in.answer = httpx.Response(
        200, content=reconciliation("A", "B", A_REGION, treated=True, there_second_fen=10_01)
    )
    cleared = await clear(client, "B")
    assert cleared.status_code == 201, cleared.text
    body = cleared.json()
    assert (body["receivable"]["status"], body["receivable"]["entries"]) == ("mismatch", [])
    [difference] = body["reconciliation"]["receivable"]["amount_differences"]
    assert (difference["reservation_id"], difference["here_fen"], difference["there_fen"]) == (
        "R2",
        10_00,
        10_01,
    )
    assert await trial(client, A_REGION) == {("1303", "B"): 31_88, ("2101", A_PHARMACY): 31_88}


async def test_the_settlement_services_refusal_is_passed_on(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    client, _, stand_in = ledger_with
    error = {"error": {"code": "PEER_NOT_FOUND", "message": "对端平台 Z 未配置"}}
    stand_in.answer = httpx.Response(404, json=error)
    refused = await clear(client, "Z")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "PEER_NOT_FOUND"
    stand_in.answer = httpx.Response(502, text="bad gateway")
    refused = await clear(client, "Z")
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "SETTLEMENT_UNAVAILABLE"
    bad = await client.post("/api/v1/inter-platform-clearings", json={"month": "2026-13", "peer": "B"})
    assert bad.status_code == 422


def reversal_month(platform: str, peer: str, admdvs: str, *, treated: bool) -> str:
    """December's report after November was cleared (the docstring's three settlements): the 10.00 of R2,
    cleared in November, reversed in December; nothing else in December. Both statements hold R2 as
    ``reversed`` with its funds below zero (``settlement.interplatform.clearing``)."""
    reversed_r2 = StatementItem(
        reservation_id="R2",
        treating_setl_id="SR2",
        admdvs=admdvs,
        insutype="390",
        status="reversed",
        funds=[ReservedFund(fund_pay_type="390100", paid_fen=-10_00)],
        fund_paid_total_fen=-10_00,
    )
    there = reversed_r2.model_copy(update={"admdvs": "000000"})
    empty = compare([], [], platform, peer)
    direction = compare([reversed_r2], [there], platform if treated else peer, peer if treated else platform)
    assert direction.reconciled and direction.matched == 1 and direction.matched_fen == -10_00
    report = Reconciliation(
        platform=platform,
        peer=peer,
        month="2026-12",
        receivable=direction if treated else empty,
        payable=empty if treated else direction,
    )
    return report.model_dump_json()


async def test_a_settlement_cleared_then_reversed_in_a_later_month_is_paid_back_in_that_month(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    """Treating side A: November cleared (31.88 received); in December the 10.00 settlement S2 is reversed
    (its event takes 10.00 back from 2101 and 1303: 1303[B] = 0 − 10.00 = −10.00, A owes B); December's
    clearing pays it back: Dr 1303[B] 10.00 / Cr 1002 10.00, so 1303 is 0 and 1002 = 31.88 − 10.00 = 21.88."""
    client, db, stand_in = ledger_with
    await book_care(db, treating_side=True)
    stand_in.answer = httpx.Response(200, content=reconciliation("A", "B", A_REGION, treated=True))
    assert (await clear(client, "B")).status_code == 201
    undo = reversed_event("S2", "SR2", 10_00, A_PHARMACY, admdvs=B_REGION, med_type="41")
    undo = undo.model_copy(update={"mdtrtarea_admvs": A_REGION, "insured_platform": "B"})
    async with db.transaction() as session:
        await post_settlement_reversed(session, undo.envelope("test"))
    assert await trial(client, A_REGION) == {
        ("1002", ""): 31_88, ("1303", "B"): -10_00, ("2101", A_PHARMACY): 21_88,
    }  # fmt: skip
    stand_in.answer = httpx.Response(200, content=reversal_month("A", "B", A_REGION, treated=True))
    cleared = await client.post("/api/v1/inter-platform-clearings", json={"month": "2026-12", "peer": "B"})
    assert cleared.status_code == 201, cleared.text
    [entry] = cleared.json()["receivable"]["entries"]
    assert (entry["source_id"], entry["amount_fen"]) == ("IPC202612341524390B", -10_00)
    assert await trial(client, A_REGION) == {("1002", ""): 21_88, ("2101", A_PHARMACY): 21_88}
    assert (await client.get("/api/v1/chain/verify")).json()["ok"] is True


async def test_the_insured_platform_gets_back_a_cleared_settlement_reversed_in_a_later_month(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    """Insured side B: 100.00 opened, November paid 31.88 (1002 = 68.12); S2's reversal in December takes
    10.00 back from 5103 and 2106 (2106[A] = −10.00: A owes B); December's clearing receives it: Dr 1002
    10.00 / Cr 2106[A] 10.00, so 2106 is 0 and 1002 = 68.12 + 10.00 = 78.12; 5103 = 31.88 − 10.00 = 21.88."""
    client, db, stand_in = ledger_with
    await book_care(db, treating_side=False)
    opening = {"admdvs": B_REGION, "insutype": "390", "as_of": "2026-11-01", "special_account_fen": 100_00,
               "audited_by": "审计局", "audit_ref": "审110105"}  # fmt: skip
    assert (await client.post("/api/v1/opening-balances", json=opening)).status_code == 201
    stand_in.answer = httpx.Response(200, content=reconciliation("B", "A", B_REGION, treated=False))
    assert (await clear(client, "A")).status_code == 201
    undo = reversed_event("S2", "SR2", 10_00, A_PHARMACY, admdvs=B_REGION, med_type="41")
    undo = undo.model_copy(update={"mdtrtarea_admvs": A_REGION, "treating_platform": "A"})
    async with db.transaction() as session:
        await post_settlement_reversed(session, undo.envelope("test"))
    books = await trial(client, B_REGION)
    assert (books[("1002", "")], books[("2106", "A")], books[("5103", "")]) == (68_12, -10_00, 21_88)
    stand_in.answer = httpx.Response(200, content=reversal_month("B", "A", B_REGION, treated=False))
    cleared = await client.post("/api/v1/inter-platform-clearings", json={"month": "2026-12", "peer": "A"})
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["payable"]["status"] == "cleared"
    books = await trial(client, B_REGION)
    assert ("2106", "A") not in books
    assert (books[("1002", "")], books[("5103", "")]) == (78_12, 21_88)


async def test_an_insured_county_in_city_pooling_pays_the_peer_from_its_expenditure_account(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    """B's county 110105 in city 110100's pool (统收统支): its special account is swept up to the city, and
    the city's fund-use plan puts 50.00 in the county's expenditure account 1003; the month's 31.88 is paid
    from there (Dr 2106[A] / Cr 1003: 50.00 − 31.88 = 18.12 left), as the county pays its institutions and
    the inter-region clearing. From its empty special account it would be refused."""
    client, db, stand_in = ledger_with
    await book_care(db, treating_side=False)
    join = {"city_admdvs": "110100", "county_admdvs": B_REGION, "effective_from": "2026-11-01",
            "approved_by": "市医保局", "document_ref": "京医保〔2026〕1号"}  # fmt: skip
    assert (await client.post("/api/v1/city-pooling", json=join)).status_code == 201
    opening = {"admdvs": "110100", "insutype": "390", "as_of": "2026-11-01", "special_account_fen": 100_00,
               "audited_by": "审计局", "audit_ref": "审110100"}  # fmt: skip
    assert (await client.post("/api/v1/opening-balances", json=opening)).status_code == 201
    plan = {"plan_id": "PLAN-110105-202612", "county_admdvs": B_REGION, "insutype": "390",
            "month": "2026-12", "amount_fen": 50_00}  # fmt: skip
    assert (await client.post("/api/v1/fund-plans", json=plan)).status_code == 201
    stand_in.answer = httpx.Response(200, content=reconciliation("B", "A", B_REGION, treated=False))
    cleared = await clear(client, "A")
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["payable"]["status"] == "cleared"
    books = await trial(client, B_REGION)
    assert ("2106", "A") not in books and ("1002", "") not in books
    assert books[("1003", "")] == 18_12


def test_source_ids_fit_the_journals_40_characters() -> None:
    """``IPC`` + 202611 + 341524 + 390 is 18 characters: a peer id of up to 22 is kept as it is, a longer one
    is replaced by the first 22 hex digits of its SHA-256, so every id is at most 40 long and one per peer."""
    base = "IPC202611341524390"
    assert source_id("2026-11", "341524", "390", "P" * 22) == base + "P" * 22
    longer = "P" * 23
    digest = hashlib.sha256(longer.encode()).hexdigest()[:22]
    assert source_id("2026-11", "341524", "390", longer) == base + digest
    assert len(base + digest) == 40


async def test_a_one_fen_month_is_received_the_right_way_round(
    ledger_with: tuple[httpx.AsyncClient, Database, StandIn],
) -> None:
    """A month whose only confirmed item paid 0.01: received, Dr 1002 0.01 / Cr 1303[B] 0.01."""
    client, _, stand_in = ledger_with
    one_fen = [item("R9", "confirmed", 1, A_REGION)]
    direction = compare(one_fen, [item("R9", "confirmed", 1, "000000")], "A", "B")
    report = Reconciliation(
        platform="A", peer="B", month=MONTH, receivable=direction, payable=compare([], [], "B", "A")
    )
    stand_in.answer = httpx.Response(200, content=report.model_dump_json())
    cleared = await clear(client, "B")
    assert cleared.status_code == 201, cleared.text
    assert await trial(client, A_REGION) == {("1002", ""): 1, ("1303", "B"): -1}
