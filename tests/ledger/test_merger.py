"""Legacy funds in the books: audited opening balances on their own sub-ledgers (a surplus, and a deficit
receivable from the finance bureau), postings kept apart during the dual track, then the merger into 390 by
one explicit entry; trial balance zero and chain intact throughout, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fund_ledger.books.chart import FISCAL_SPECIAL_ACCOUNT_DEPOSIT, POOLED_FUND
from fund_ledger.books.service import Leg, SubLedgerViolation, account_for, post_entry

from shared.clock import now_china
from shared.db import Database
from tests.ledger.builders import completed, payment
from tests.ledger.test_clearing import HOSPITAL, book

Ledger = tuple[httpx.AsyncClient, Database]
REGION = "341524"
AUDIT = {"audited_by": "县审计局", "audit_ref": "金审〔2025〕12号"}


async def scheme_balances(client: httpx.AsyncClient, insutype: str) -> dict[tuple[str, str], int]:
    rows = (await client.get("/api/v1/accounts/balances", params={"insutype": insutype})).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


async def healthy(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/trial-balance")).json()["imbalance_fen"] == 0
    assert (await client.get("/api/v1/chain/verify")).json()["ok"] is True


async def test_legacy_funds_open_run_apart_and_merge_into_390(ledger: Ledger) -> None:
    client, db = ledger
    # URBMI (391): 8,000.00 in the special account, 500.00 benefits owed, 1,000.00 risk reserve
    # -> fund balance 8,000.00 - 500.00 - 1,000.00 = 6,500.00.
    urbmi = {
        "admdvs": REGION,
        "insutype": "391",
        "as_of": "2025-12-31",
        "special_account_fen": 800000,
        "benefits_payable_fen": 50000,
        "risk_reserve_fen": 100000,
        **AUDIT,
    }
    opened = await client.post("/api/v1/opening-balances", json=urbmi)
    assert opened.status_code == 201, opened.text
    assert (opened.json()["total_fen"], opened.json()["fund_balance_fen"]) == (800000, 650000)
    again = await client.post("/api/v1/opening-balances", json=urbmi)
    assert (again.status_code, again.json()["entry_id"]) == (200, opened.json()["entry_id"])
    changed = await client.post("/api/v1/opening-balances", json={**urbmi, "special_account_fen": 800001})
    assert (changed.status_code, changed.json()["error"]["code"]) == (409, "OPENING_EXISTS")

    # NCMS (380) in deficit: 1,000.00 in the account, 3,000.00 owed, 200.00 reserve -> balance -2,200.00,
    # receivable from the county finance bureau.
    ncms = {
        "admdvs": REGION,
        "insutype": "380",
        "as_of": "2025-12-31",
        "special_account_fen": 100000,
        "benefits_payable_fen": 300000,
        "risk_reserve_fen": 20000,
        **AUDIT,
    }
    deficit = await client.post("/api/v1/opening-balances", json=ncms)
    assert (deficit.status_code, deficit.json()["fund_balance_fen"], deficit.json()["total_fen"]) == (
        201,
        -220000,
        320000,
    )
    assert await scheme_balances(client, "380") == {
        ("1002", ""): 100000,
        ("1202", ""): 220000,
        ("2103", ""): 300000,
        ("3002", ""): 20000,
    }

    # Dual track: a 300.00 URBMI pharmacy claim, a 200.00 NCMS contribution, each on its own sub-ledger.
    await book(
        db,
        completed(
            "S391",
            30000,
            institution=HOSPITAL,
            insutype="391",
            setl_time=datetime(2026, 1, 10, 2, tzinfo=UTC),
        ),
    )
    await book(db, payment(1, 20000, insutype="380"), datetime(2026, 1, 11, 2, tzinfo=UTC))
    async with db.transaction() as session:
        legacy = await account_for(session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, REGION, "391", POOLED_FUND)
        unified = await account_for(session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, REGION, "390", POOLED_FUND)
    with pytest.raises(SubLedgerViolation, match="不得调剂使用"):
        async with db.transaction() as session:
            await post_entry(
                session,
                event_id=None,
                source_type="manual",
                source_id="move",
                description="x",
                admdvs=REGION,
                insutype="390",
                legs=[Leg(unified, debit_fen=100), Leg(legacy, credit_fen=100)],
            )
    await healthy(client)

    # The merger of 391 after the switch-over: every 391 account emptied into 390.
    merger = {
        "merger_id": "M-341524-391",
        "admdvs": REGION,
        "from_insutype": "391",
        "approved_by": "县医保局",
        "audit_ref": "金医保〔2026〕3号",
    }
    merged = await client.post("/api/v1/scheme-mergers", json=merger)
    assert merged.status_code == 201, merged.text
    # Debits: 2103 500.00 + 3002 1,000.00 + 3001 6,500.00 + 2101 300.00 (legacy side) + 1002 8,000.00 (390).
    assert merged.json()["total_fen"] == 50000 + 100000 + 650000 + 30000 + 800000
    assert await scheme_balances(client, "391") == {}
    # 390's fund balance: 6,500.00 brought in less the 300.00 the legacy fund spent = 6,200.00.
    assert await scheme_balances(client, "390") == {
        ("1002", ""): 800000,
        ("2101", HOSPITAL): 30000,
        ("2103", ""): 50000,
        ("3001", ""): 620000,
        ("3002", ""): 100000,
    }
    sheet = (
        await client.get(
            "/api/v1/statements/balance-sheet",
            # As of today: the merger is posted when it is made, after the year's bookings above.
            params={"admdvs": REGION, "insutype": "390", "as_of": now_china().date().isoformat()},
        )
    ).json()
    assert (sheet["assets_total_fen"], sheet["liabilities_total_fen"], sheet["fund_balance_fen"]) == (
        800000,
        80000,
        720000,
    )
    assert sheet["balanced"] is True
    # NCMS not merged yet: its sub-ledger is untouched (with the January contribution in its income account).
    assert (await scheme_balances(client, "380"))[("1001", "")] == 20000
    await healthy(client)

    replay = await client.post("/api/v1/scheme-mergers", json=merger)
    assert (replay.status_code, replay.json()["entry_id"]) == (200, merged.json()["entry_id"])
    refused = [
        ({**merger, "merger_id": "M-again"}, 422, "NOTHING_TO_MERGE"),
        ({**merger, "merger_id": "M-390", "from_insutype": "390"}, 422, "NOT_A_LEGACY_SCHEME"),
        ({**merger, "approved_by": "别人"}, 409, "MERGER_ID_REUSED"),
    ]
    for body, status, code in refused:
        response = await client.post("/api/v1/scheme-mergers", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body


async def test_opening_balance_refusals(ledger: Ledger) -> None:
    client, _ = ledger
    base = {"admdvs": REGION, "insutype": "391", "as_of": "2025-12-31", "special_account_fen": 0, **AUDIT}
    for body, code in (
        (base, "NOTHING_TO_OPEN"),
        ({**base, "special_account_fen": 100, "insutype": "310"}, "UNKNOWN_SCHEME"),
        ({**base, "special_account_fen": 100, "as_of": "2099-01-01"}, "OPENING_IN_FUTURE"),
        ({**base, "special_account_fen": -1}, "VALIDATION_ERROR"),
    ):
        response = await client.post("/api/v1/opening-balances", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (422, code), body
    assert (await client.get("/api/v1/trial-balance")).json()["entries"] == 0
