"""3203 / 3204 清算申请 / 撤销 through the gateway in front of the real settlement service and the real fund
ledger (both backends): a month with an open 3202 difference is refused, resolved by a clean 3202, then
applied for, revoked, applied for again and cleared by the ledger's clearing batch, which books it
(docs/interface.md, "3203 / 3204 清算申请").

The day, by hand (demo policy): two persons each settle 90.00 at the hospital's outpatient desk, the pooled
fund paying (84.00 - 20.00) x 50 % = 32.00 each: the ledger owes the hospital 64.00. The quality deposit is
5 % of that, 3.20; the special account holds nothing yet, so the batch pays 0.00 and carries 60.80 forward."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fund_ledger.books.service import post_settlement_completed
from fund_ledger.config import LedgerSettings
from fund_ledger.main import create_app as create_ledger_app
from gateway.downstream import Downstream
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.config import SettlementSettings
from settlement.db import infra
from settlement.main import create_app as create_settlement_app
from sqlalchemy import select

from shared.clock import now_china
from shared.db import Database
from shared.events import EventEnvelope, SettlementCompleted
from tests.conftest import DatabaseFactory
from tests.gateway.desk import Desk, line, refused
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, seed_reference_data
from tests.support.apps import ADMIN_TOKEN, build, running
from tests.support.his import SignedHis, register_demo_institutions

BASKET = [line("1", "A", "60", "0.5", "30.00"), line("2", "B", "3", "20", "60.00")]
AMOUNTS = {"medfee_sumamt": "90.00", "preselfpay_amt": "6.00", "inscp_scp_amt": "84.00"}


class Hosts(httpx.AsyncBaseTransport):
    """The gateway's downstream calls to each service app by host name, in-process."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.routes[request.url.host].handle_async_request(request)


class Books:
    def __init__(self, desk: Desk, ledger: httpx.AsyncClient, ledger_db: Database) -> None:
        self.desk, self.ledger, self.ledger_db = desk, ledger, ledger_db

    async def post_settlements(self) -> None:
        """What the ledger's consumer does with settlement's events (the broker is not under test here)."""
        async with self.desk.api.db.session() as session:
            payloads = (await session.execute(select(infra.outbox.c.payload))).scalars().all()
        for payload in payloads:
            envelope = EventEnvelope.model_validate_json(payload)
            if envelope.type == SettlementCompleted.event_type:
                async with self.ledger_db.transaction() as session:
                    await post_settlement_completed(session, envelope)


@pytest.fixture
async def books(databases: DatabaseFactory) -> AsyncIterator[Books]:
    settlement_url, ledger_url = databases.migrated("settlement"), databases.migrated("fund_ledger")
    settlement_app = build(
        create_settlement_app, SettlementSettings, database_url=settlement_url, run_background_workers=False
    )
    ledger_app = build(
        create_ledger_app,
        LedgerSettings,
        database_url=ledger_url,
        run_background_workers=False,
        settlement_url="http://settlement.invalid",
    )
    settlement_db, ledger_db = Database(settlement_url), Database(ledger_url)
    gateway_db = Database(databases.migrated("gateway"))
    async with running(settlement_app) as settlement, running(ledger_app) as ledger:
        api = SettlementApi(settlement, settlement_db, settlement_app)
        # The visits and stays name J06.900, J18.900 (1307); the settlement lists, their diagnoses and
        # operations (1307/1308): the demo's lists.
        await seed_reference_data(api, codes=True)
        downstream = Downstream("http://enrollment", "http://service", 5.0, ledger_url="http://ledger")
        await downstream.client.aclose()
        routes: dict[str, httpx.AsyncBaseTransport] = {
            "service": httpx.ASGITransport(app=settlement_app),
            "ledger": httpx.ASGITransport(app=ledger_app),
        }
        downstream.client = httpx.AsyncClient(
            transport=Hosts(routes), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        await register_demo_institutions(gateway_db)
        security = HisSecurity(gateway_db, TifSha256())
        processor = EnvelopeProcessor(gateway_db, downstream, REGION, 1_048_576, security=security)
        yield Books(Desk(processor, api, gateway_db, SignedHis(processor.process)), ledger, ledger_db)
        await downstream.close()
    for db in (gateway_db, settlement_db, ledger_db):
        await db.dispose()


def period() -> tuple[str, str]:
    today = now_china().date()
    return (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()


async def reconcile(
    desk: Desk, rows: list[str], medfee: str, fund: str, cash: str, count: int, clr_type: str = "11"
) -> dict[str, Any]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mxdz.txt", "\n".join(rows) + "\n")
    node = {
        "in": base64.b64encode(buffer.getvalue()).decode(),
        "filename": "mxdz.zip",
        "fixmedins_code": HOSPITAL,
    }
    file_qury_no = (await desk.ok("9101", {"fsUploadIn": node}))["file_qury_no"]
    begin, end = period()
    data = {
        "setl_optins": REGION,
        "file_qury_no": file_qury_no,
        "stmt_begndate": begin,
        "stmt_enddate": end,
        "medfee_sumamt": medfee,
        "fund_pay_sumamt": fund,
        "cash_payamt": cash,
        "fixmedins_setl_cnt": count,
        "clr_type": clr_type,
    }
    return await desk.ok("3202", {"data": data})


def application() -> dict[str, Any]:
    begin, end = period()
    return {
        "data": {
            "clr_type": "11",
            "clr_way": "01",
            "setlym": begin[:4] + begin[5:7],
            "psntime": 2,
            "medfee_sumamt": "180.00",
            "med_sumfee": "168.00",
            "fund_appy_sum": "64.00",
            "cash_payamt": "116.00",
            "acct_pay": "0.00",
            "begndate": begin,
            "enddate": end,
        }
    }


async def test_a_month_is_cleared_only_once_reconciled(books: Books) -> None:
    desk = books.desk
    settled = []
    for number in (1, 2):
        patient = await desk.person(30 + number)
        mdtrt_id, info = await patient.visit(f"MZ{number:04d}", BASKET, amounts=AMOUNTS)
        settled.append("\t".join([info["setl_id"], mdtrt_id, patient.psn_no, "90.00", "32.00", "0.00", "0"]))
    await books.post_settlements()

    # No 3202 yet: refused. A 3202 that finds the second settlement missing: still refused.
    refused(await desk.send("3203", application()), "CLEARING_NOT_RECONCILED")
    one = await reconcile(desk, settled[:1], "90.00", "32.00", "58.00", 1)
    assert [r["stmt_rslt"] for r in one["result"]] == ["1"]
    refused_open = await desk.send("3203", application())
    refused(refused_open, "CLEARING_NOT_RECONCILED")
    assert "1 条不符" in refused_open["err_msg"]

    # Resolved: the full file agrees; the application is accepted, revoked, made again.
    clean = await reconcile(desk, settled, "180.00", "64.00", "116.00", 2)
    assert clean["result"] == []
    first = (await desk.ok("3203", application()))["result"]["clr_appy_evt_id"]
    refused(await desk.send("3203", application()), "CLEARING_APPLIED")
    revoked = await desk.ok("3204", {"data": {"clr_appy_evt_id": first}})
    assert revoked["result"] == {"clr_appy_evt_id": first, "status": "revoked"}
    refused(await desk.send("3204", {"data": {"clr_appy_evt_id": first}}), "CLEARING_NOT_REVOCABLE")
    second = (await desk.ok("3203", application()))["result"]["clr_appy_evt_id"]

    # The fund clears it: a clearing batch from the application, booked.
    cleared = await books.ledger.post(f"/api/v1/clearing-applications/{second}/clearing")
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["status"], cleared.json()["paid_fen"]) == ("cleared", 0)
    batch = (await books.ledger.get(f"/api/v1/clearing-batches/{cleared.json()['batch_id']}")).json()
    # Owed 64.00; deposit 5 % = 3.20; nothing in the special account: 0.00 paid, 60.80 carried forward.
    assert (
        batch["period_owed_fen"],
        batch["deposit_fen"],
        batch["paid_fen"],
        batch["carried_forward_fen"],
    ) == (
        6400,
        320,
        0,
        6080,
    )
    assert batch["fixmedins_code"] == HOSPITAL
    refused(await desk.send("3204", {"data": {"clr_appy_evt_id": second}}), "CLEARING_NOT_REVOCABLE")


async def test_clearing_refusals(books: Books) -> None:
    desk = books.desk
    refused(
        await desk.send("3204", {"data": {"clr_appy_evt_id": "CA" + "0" * 28}}),
        "CLEARING_APPLICATION_NOT_FOUND",
    )
    refused(await desk.send("3204", {"data": {"clr_appy_evt_id": "a/b"}}), "E_INPUT")
    backwards = application()
    backwards["data"]["enddate"] = "2000-01-01"
    refused(await desk.send("3203", backwards), "E_INPUT")
    no_dates = application()
    del no_dates["data"]["begndate"]
    refused(await desk.send("3203", no_dates), "E_INPUT")
