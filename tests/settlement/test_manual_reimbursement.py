"""Manual reimbursement (零星报销) from the clerk's entry to the ledger: the same engine as the counter, a
second person approves (four eyes, by the bearer tokens' subjects, never by names typed into the body), the
person's year totals move, the approval and the payment go out through the outbox and the ledger books Dr
benefit expenditure / Cr payable to the person, then pays it."""

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
from settlement.manual.models import ManualReimbursement
from sqlmodel import select

from shared.auth import ADMINISTRATOR, AUDITOR, FUND_ACCOUNTANT
from shared.db import Database
from shared.events import EventEnvelope
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import REGION, SettlementApi, new_person
from tests.support.apps import bearer, build, running

URL = "/api/v1/manual-reimbursements"
#: Three people of the fund's staff, each with their own token: who acts is the token's subject.
CLERK = bearer(FUND_ACCOUNTANT, subject="clerk-zhangsan")
REVIEWER = bearer(FUND_ACCOUNTANT, subject="reviewer-lisi")
CASHIER = bearer(FUND_ACCOUNTANT, subject="cashier-wangwu")


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
        **changes,
    }


async def _ok(
    api: SettlementApi, url: str, body: dict[str, Any], as_: dict[str, str], status: int = 200
) -> dict[str, Any]:
    response = await api.post(url, body, headers=as_)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


async def _refused(
    api: SettlementApi, url: str, body: dict[str, Any], as_: dict[str, str]
) -> tuple[int, str]:
    response = await api.post(url, body, headers=as_)
    return response.status_code, response.json()["error"]["code"]


async def _stored(api: SettlementApi, claim_no: str) -> ManualReimbursement:
    async with api.db.session() as session:
        claim = await session.scalar(
            select(ManualReimbursement).where(ManualReimbursement.claim_no == claim_no)
        )
    assert claim is not None
    return claim


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
    entered = await _ok(settlement_api, URL, _bills(psn_no, "FP-0001"), CLERK, 201)
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
    assert (entered["status"], entered["clr_type"]) == ("entered", "21")
    assert (entered["entered_by"], entered["entered_roles"]) == ("clerk-zhangsan", ["fund_accountant"])
    claim = f"{URL}/{entered['claim_no']}"

    # Four eyes: the clerk cannot approve their own entry, nor record its payment; nothing changes.
    own = await _refused(settlement_api, f"{claim}/decision", {"decision": "approve", "note": "同意"}, CLERK)
    assert own == (403, "FOUR_EYES")
    early = await _refused(settlement_api, f"{claim}/payment", {"payment_ref": "BANK-1"}, CASHIER)
    assert early == (409, "CLAIM_NOT_APPROVED")
    assert (await settlement_api.client.get(claim)).json()["status"] == "entered"
    assert await _events(settlement_api, "settlement.manual_reimbursement_approved") == []

    # An older client still sends `operator`: accepted when it is the token's subject.
    approved = await _ok(
        settlement_api,
        f"{claim}/decision",
        {"decision": "approve", "note": "票据齐全", "operator": "reviewer-lisi"},
        REVIEWER,
    )
    assert (approved["status"], approved["fund_paid_total_fen"]) == ("approved", 252000)
    assert (approved["decided_by"], approved["decided_roles"]) == ("reviewer-lisi", ["fund_accountant"])
    async with settlement_api.db.session() as session:
        totals = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert totals is not None and (totals.admissions, totals.pooled_paid_fen) == (1, 252000)
    again = await _refused(settlement_api, f"{claim}/decision", {"decision": "reject", "note": "x"}, CASHIER)
    assert again == (409, "CLAIM_ALREADY_DECIDED")
    own_payment = await _refused(settlement_api, f"{claim}/payment", {"payment_ref": "BANK-2"}, CLERK)
    assert own_payment == (403, "FOUR_EYES")
    assert await _events(settlement_api, "settlement.manual_reimbursement_paid") == []

    paid = await _ok(settlement_api, f"{claim}/payment", {"payment_ref": "BANK-20261120-77"}, CASHIER)
    assert (paid["status"], paid["payment_ref"]) == ("paid", "BANK-20261120-77")
    assert (paid["paid_by"], paid["paid_roles"]) == ("cashier-wangwu", ["fund_accountant"])
    stored = await _stored(settlement_api, entered["claim_no"])
    assert (stored.entered_by, stored.entered_roles) == ("clerk-zhangsan", "fund_accountant")
    assert (stored.decided_by, stored.decided_roles) == ("reviewer-lisi", "fund_accountant")
    assert (stored.paid_by, stored.paid_roles) == ("cashier-wangwu", "fund_accountant")

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


async def test_one_subject_cannot_enter_and_approve_whatever_names_it_types(
    settlement_api: SettlementApi,
) -> None:
    """Issue 21: one token entered and approved a claim alone by typing two names into `operator`."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # A name that is not the token's subject is refused, not recorded.
    typed = await _refused(settlement_api, URL, _bills(psn_no, "FP-0300", operator="经办员张三"), CLERK)
    assert typed == (403, "OPERATOR_MISMATCH")
    assert (await settlement_api.client.get(URL, params={"psn_no": psn_no})).json() == []
    entered = await _ok(settlement_api, URL, _bills(psn_no, "FP-0300"), CLERK, 201)
    decision = f"{URL}/{entered['claim_no']}/decision"
    approve = {"decision": "approve", "note": "同意"}
    # The same subject: with a second name typed, with none, or with another role (an administrator's
    # token for the same person) - refused every time.
    for body, token, refusal in (
        ({**approve, "operator": "审核员李四"}, CLERK, (403, "OPERATOR_MISMATCH")),
        (approve, CLERK, (403, "FOUR_EYES")),
        (approve, bearer(ADMINISTRATOR, subject="clerk-zhangsan"), (403, "FOUR_EYES")),
        ({"decision": "reject", "note": "撤回"}, CLERK, (403, "FOUR_EYES")),
    ):
        assert await _refused(settlement_api, decision, body, token) == refusal, body
    unchanged = await _stored(settlement_api, entered["claim_no"])
    assert (unchanged.status, unchanged.decided_by, unchanged.decided_roles) == ("entered", None, None)
    # Another subject may, whatever the body's old `operator` would have said.
    approved = await _ok(settlement_api, decision, approve, REVIEWER)
    assert (approved["status"], approved["entered_by"], approved["decided_by"]) == (
        "approved",
        "clerk-zhangsan",
        "reviewer-lisi",
    )


async def test_bad_claims_are_refused_and_change_nothing(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await _ok(settlement_api, URL, _bills(psn_no, "FP-0100"), CLERK, 201)
    for body, status, code in (
        (_bills(psn_no, "FP-0100"), 409, "INVOICE_ALREADY_CLAIMED"),
        (_bills(psn_no, "FP-0101", medfee_sumamt_fen=1), 422, "TOTAL_MISMATCH"),
        (_bills(psn_no, "FP-0102", reason="full_self_advance"), 422, "NOT_ON_SELF_ADVANCE"),
        (_bills(psn_no, "FP-0103", reason="out_of_area"), 422, "VALIDATION_ERROR"),
        (_bills("NOBODY", "FP-0104"), 422, "NOT_COVERED"),
        (_bills(psn_no, "FP-0105", operator=""), 422, "VALIDATION_ERROR"),
        (_bills(psn_no, "FP-0106", endtime="2026-10-01T09:00:00+08:00"), 422, "VALIDATION_ERROR"),
        (_bills(psn_no, "FP-0107", operator="reviewer-lisi"), 403, "OPERATOR_MISMATCH"),
    ):
        assert await _refused(settlement_api, URL, body, CLERK) == (status, code), body["invono"]
    listed = (await settlement_api.client.get(URL, params={"psn_no": psn_no})).json()
    assert [c["invono"] for c in listed] == ["FP-0100"]
    missing = await _refused(
        settlement_api, f"{URL}/Z000/decision", {"decision": "approve", "note": "x"}, REVIEWER
    )
    assert missing == (404, "CLAIM_NOT_FOUND")


async def test_a_token_subject_is_recorded_whole_or_refused(settlement_api: SettlementApi) -> None:
    """Up to 100 characters (the records' width, audit_log's too) it is kept whole; longer is refused, not
    cut (two people whose subjects differ only after the cut would become one for the four-eyes rule)."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    longest = "c" * 100
    entered = await _ok(
        settlement_api, URL, _bills(psn_no, "FP-0400"), bearer(FUND_ACCOUNTANT, subject=longest), 201
    )
    assert entered["entered_by"] == longest
    assert (await _stored(settlement_api, entered["claim_no"])).entered_by == longest
    too_long = bearer(FUND_ACCOUNTANT, subject=longest + "c")
    assert await _refused(settlement_api, URL, _bills(psn_no, "FP-0401"), too_long) == (
        403,
        "BAD_TOKEN_SUBJECT",
    )
    listed = (await settlement_api.client.get(URL, params={"psn_no": psn_no})).json()
    assert [c["invono"] for c in listed] == ["FP-0400"]


async def test_full_self_advance_claims_and_rejections(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    sanction = {
        "kind": "full_self_advance",
        "subject": psn_no,
        "begin_date": "2026-10-01",
        "reason": "出借社保卡",
    }
    response = await settlement_api.post(
        "/api/v1/supervision/sanctions", sanction, headers=bearer(AUDITOR, subject="auditor-wangwu")
    )
    assert response.status_code == 201, response.text
    entered = await _ok(
        settlement_api, URL, _bills(psn_no, "FP-0200", reason="full_self_advance"), CLERK, 201
    )
    # The same bills as above: (4,500.00 - 300.00) x 60 % = 2,520.00.
    assert entered["fund_paid_total_fen"] == 252000
    rejected = await _ok(
        settlement_api,
        f"{URL}/{entered['claim_no']}/decision",
        {"decision": "reject", "note": "票据真实性存疑"},
        REVIEWER,
    )
    assert (rejected["status"], rejected["decided_by"], rejected["decision_note"]) == (
        "rejected",
        "reviewer-lisi",
        "票据真实性存疑",
    )
    assert await _events(settlement_api, "settlement.manual_reimbursement_approved") == []
    # Neither the entry (it only reads the totals) nor the rejection touched the person's year totals.
    async with settlement_api.db.session() as session:
        totals = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert totals is None
    paid = await _refused(
        settlement_api, f"{URL}/{entered['claim_no']}/payment", {"payment_ref": "BANK-9"}, CASHIER
    )
    assert paid == (409, "CLAIM_NOT_APPROVED")
