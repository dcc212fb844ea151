"""Manual reimbursement (零星报销) from the clerk's entry to the ledger: the same engine as the counter, a
second person approves (four eyes), the person's year totals move, the approval and the payment go out
through the outbox and the ledger books Dr benefit expenditure / Cr payable to the person, then pays it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fund_ledger.books.service import post_manual_reimbursement_approved, post_manual_reimbursement_paid
from fund_ledger.config import LedgerSettings
from fund_ledger.main import create_app as create_ledger_app
from settlement.db import infra
from settlement.eligibility.models import YearAccumulator
from sqlmodel import select

from shared.db import Database
from shared.events import EventEnvelope
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import REGION, SettlementApi, new_person
from tests.support.apps import build, running

URL = "/api/v1/manual-reimbursements"


@pytest.fixture
async def ledger(databases: DatabaseFactory) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """The ledger service beside settlement, on its own database."""
    url = databases.migrated("fund_ledger")
    app = build(create_ledger_app, LedgerSettings, database_url=url, run_background_workers=False)
    db = Database(url)
    async with running(app) as client:
        yield client, db
    await db.dispose()


def _bills(psn_no: str, invono: str, **changes: Any) -> dict[str, Any]:
    return {
        "psn_no": psn_no,
        "insuplc_admdvs": REGION,
        "reason": "emergency",
        "fixmedins_code": "H99999900001",
        "fixmedins_name": "外县人民医院",
        "institution_level": "2",
        "encounter_kind": "inpatient",
        "invono": invono,
        "begntime": "2026-11-01T09:00:00+08:00",
        "endtime": "2026-11-06T09:00:00+08:00",
        "medfee_sumamt_fen": 520000,
        "lines": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "B",
                "medins_list_codg": "X1",
                "cnt": "100",
                "pric": "50",
                "amount_fen": 500000,
            },
            {
                "feedetl_sn": "2",
                "med_list_codg": "C",
                "medins_list_codg": "X2",
                "cnt": "1",
                "pric": "200",
                "amount_fen": 20000,
            },
        ],
        "operator": "经办员张三",
        **changes,
    }


async def _ok(api: SettlementApi, url: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = await api.post(url, body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


async def _events(api: SettlementApi, event_type: str) -> list[EventEnvelope]:
    async with api.db.session() as session:
        rows = (
            await session.execute(infra.outbox.select().where(infra.outbox.c.event_type == event_type))
        ).all()
    return [EventEnvelope.model_validate(json.loads(row.payload)) for row in rows]


async def _balances(client: httpx.AsyncClient) -> dict[tuple[str, str], int]:
    trial = (await client.get("/api/v1/trial-balance")).json()
    assert trial["imbalance_fen"] == 0
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in trial["accounts"]}


async def test_a_manual_reimbursement_from_entry_to_the_ledger(
    settlement_api: SettlementApi, ledger: tuple[httpx.AsyncClient, Database]
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    entered = await _ok(settlement_api, URL, _bills(psn_no, "FP-0001"), 201)
    # 5,200.00 = 500.00 乙 self-pay first + 4,500.00 in range + 200.00 丙; level-2 deductible 300.00;
    # (4,500.00 - 300.00) x 60 % = 2,520.00 from the pooled fund; the person bears 2,680.00.
    expected = (30000, 450000, 252000, 252000, 268000)
    fields = (
        "deductible_fen",
        "policy_range_fen",
        "pooled_fund_paid_fen",
        "fund_paid_total_fen",
        "personal_burden_fen",
    )
    assert tuple(entered[f] for f in fields) == expected
    assert (entered["status"], entered["clr_type"], entered["entered_by"]) == ("entered", "21", "经办员张三")
    claim = f"{URL}/{entered['claim_no']}"

    # Four eyes: the clerk cannot approve their own entry; nothing changes.
    own = await settlement_api.post(
        f"{claim}/decision", {"decision": "approve", "note": "同意", "operator": "经办员张三"}
    )
    assert (own.status_code, own.json()["error"]["code"]) == (403, "FOUR_EYES")
    early = await settlement_api.post(f"{claim}/payment", {"payment_ref": "BANK-1", "operator": "出纳"})
    assert (early.status_code, early.json()["error"]["code"]) == (409, "CLAIM_NOT_APPROVED")
    assert (await settlement_api.client.get(claim)).json()["status"] == "entered"
    assert await _events(settlement_api, "settlement.manual_reimbursement_approved") == []

    approved = await _ok(
        settlement_api,
        f"{claim}/decision",
        {"decision": "approve", "note": "票据齐全", "operator": "审核员李四"},
    )
    assert (approved["status"], approved["decided_by"], approved["fund_paid_total_fen"]) == (
        "approved",
        "审核员李四",
        252000,
    )
    async with settlement_api.db.session() as session:
        totals = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert totals is not None and (totals.admissions, totals.pooled_paid_fen) == (1, 252000)
    again = await settlement_api.post(
        f"{claim}/decision", {"decision": "reject", "note": "x", "operator": "科长"}
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "CLAIM_ALREADY_DECIDED")

    paid = await _ok(
        settlement_api, f"{claim}/payment", {"payment_ref": "BANK-20261120-77", "operator": "出纳王五"}
    )
    assert (paid["status"], paid["payment_ref"]) == ("paid", "BANK-20261120-77")

    [approval] = await _events(settlement_api, "settlement.manual_reimbursement_approved")
    [payment] = await _events(settlement_api, "settlement.manual_reimbursement_paid")
    # The pooled fund pays; catastrophic insurance's threshold is not reached (its row says 0).
    assert approval.data["fund_payments"] == [
        {"fund_pay_type": "390100", "amount_fen": 252000},
        {"fund_pay_type": "390200", "amount_fen": 0},
    ]
    assert (approval.key, approval.data["clr_type"], approval.data["claim_no"]) == (
        psn_no,
        "21",
        entered["claim_no"],
    )

    client, db = ledger
    async with db.transaction() as session:
        await post_manual_reimbursement_approved(session, approval)
    after_approval = await _balances(client)
    assert after_approval[("5102", "")] == 252000  # inpatient benefit expenditure
    assert after_approval[("2104", psn_no)] == 252000  # owed to the person
    async with db.transaction() as session:
        await post_manual_reimbursement_paid(session, payment)
    after_payment = await _balances(client)
    assert after_payment[("2104", psn_no)] == 0
    assert after_payment[("1003", "")] == -252000  # paid from the expenditure account
    assert after_payment[("5102", "")] == 252000


async def test_bad_claims_are_refused_and_change_nothing(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await _ok(settlement_api, URL, _bills(psn_no, "FP-0100"), 201)
    for body, status, code in (
        (_bills(psn_no, "FP-0100"), 409, "INVOICE_ALREADY_CLAIMED"),
        (_bills(psn_no, "FP-0101", medfee_sumamt_fen=1), 422, "TOTAL_MISMATCH"),
        (_bills(psn_no, "FP-0102", reason="full_self_advance"), 422, "NOT_ON_SELF_ADVANCE"),
        (_bills(psn_no, "FP-0103", reason="out_of_area"), 422, "VALIDATION_ERROR"),
        (_bills("NOBODY", "FP-0104"), 422, "NOT_COVERED"),
        (_bills(psn_no, "FP-0105", operator=""), 422, "VALIDATION_ERROR"),
        (_bills(psn_no, "FP-0106", endtime="2026-10-01T09:00:00+08:00"), 422, "VALIDATION_ERROR"),
    ):
        response = await settlement_api.post(URL, body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body["invono"]
    listed = (await settlement_api.client.get(URL, params={"psn_no": psn_no})).json()
    assert [c["invono"] for c in listed] == ["FP-0100"]
    missing = await settlement_api.post(
        f"{URL}/Z000/decision", {"decision": "approve", "note": "x", "operator": "y"}
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "CLAIM_NOT_FOUND")


async def test_full_self_advance_claims_and_rejections(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    sanction = {
        "kind": "full_self_advance",
        "subject": psn_no,
        "begin_date": "2026-10-01",
        "reason": "出借社保卡",
        "operator": "稽核科王五",
    }
    assert (await settlement_api.post("/api/v1/supervision/sanctions", sanction)).status_code == 201
    entered = await _ok(settlement_api, URL, _bills(psn_no, "FP-0200", reason="full_self_advance"), 201)
    assert entered["fund_paid_total_fen"] == 252000
    rejected = await _ok(
        settlement_api,
        f"{URL}/{entered['claim_no']}/decision",
        {"decision": "reject", "note": "票据真实性存疑", "operator": "审核员李四"},
    )
    assert rejected["status"] == "rejected"
    assert await _events(settlement_api, "settlement.manual_reimbursement_approved") == []
    async with settlement_api.db.session() as session:
        totals = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert totals is None or totals.pooled_paid_fen == 0
