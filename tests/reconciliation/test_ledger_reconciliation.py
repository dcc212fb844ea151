"""The ledger against settlement: one settlement's event never reached the ledger; the reconciliation lists
exactly that setl_id, the repair asks settlement to publish it again (its outbox row unsent), and once the
re-published event is posted the books balance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fund_ledger.reconciliation.service import Filters, LedgerAmount, compare

from tests.reconciliation.conftest import Platform, period, setl_id_of
from tests.reconciliation.scenario import pharmacy_day


async def reconcile(platform: Platform, **params: str) -> dict[str, Any]:
    response = await platform.ledger.get("/api/v1/reconciliation", params={**period(), **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_missing_settlement_is_listed_repaired_and_the_books_balance(platform: Platform) -> None:
    day = await pharmacy_day(platform)
    missing = day.second["setl_id"]
    for _, envelope, _ in await platform.outbox():
        if setl_id_of(envelope) != missing:
            await platform.deliver(envelope)
    await platform.mark_all_sent()  # the relay published everything; one event was lost on the way

    result = await reconcile(platform)
    assert result["balanced"] is False
    assert result["differences"] == [
        {
            "setl_id": missing,
            "kind": "settlement",
            "settlement_fen": 3200,
            "ledger_fen": None,
            "problem": "missing in ledger",
            "fixmedins_code": day.second["fixmedins_code"],
            "insutype": "390",
            "clr_type": "41",
            "day": result["differences"][0]["day"],
        }
    ]
    # The self-paid purchase (fund 0) has no entry by design and is not listed.
    assert (result["settlement_total_fen"], result["ledger_total_fen"]) == (6400, 3200)
    assert result["settlements_compared"] == 5
    assert result["entries_compared"] == 3
    # Narrowed to the institution / scheme / clearing type: the same difference.
    narrowed = await reconcile(
        platform, fixmedins_code=day.second["fixmedins_code"], insutype="390", clr_type="41"
    )
    assert [d["setl_id"] for d in narrowed["differences"]] == [missing]
    other = await reconcile(platform, clr_type="11")
    assert (other["balanced"], other["settlement_total_fen"], other["ledger_total_fen"]) == (True, 0, 0)

    repair = await platform.ledger.post("/api/v1/reconciliation/repair", params=period())
    assert repair.status_code == 200, repair.text
    answer = repair.json()
    assert answer["requested_setl_ids"] == [missing]
    assert answer["settlement_answer"] == {"republished": 1, "setl_ids_not_found": []}
    assert answer["not_repairable"] == []
    unsent = [envelope for _, envelope, sent in await platform.outbox() if sent is None]
    assert [setl_id_of(e) for e in unsent] == [missing]

    # The relay publishes the row again and the ledger's consumer posts it (here: its handler, directly).
    for envelope in unsent:
        await platform.deliver(envelope)
    after = await reconcile(platform)
    assert after["balanced"] is True
    assert after["differences"] == []
    assert after["settlement_total_fen"] == after["ledger_total_fen"] == 6400

    nothing = (await platform.ledger.post("/api/v1/reconciliation/repair", params=period())).json()
    assert (nothing["requested_setl_ids"], nothing["settlement_answer"]) == ([], None)


async def test_settlement_unreachable_is_a_502(platform: Platform) -> None:
    from fund_ledger.reconciliation.endpoints import settlement_client

    async def unreachable() -> Any:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://x") as client:
            yield client

    platform.ledger_app.dependency_overrides[settlement_client] = unreachable
    response = await platform.ledger.get("/api/v1/reconciliation", params=period())
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "SETTLEMENT_UNAVAILABLE"


def test_compare_amount_differs_and_not_in_settlement() -> None:
    """The comparison itself: a differing amount, an entry settlement does not know, a reversal's sign."""
    day = datetime(2026, 11, 20, tzinfo=UTC).date()
    rows = [
        {
            "setl_id": "S1",
            "kind": "settlement",
            "fund_pay_sumamt_fen": 3200,
            "clr_type": "41",
            "day": "2026-11-20",
        },
        {
            "setl_id": "S2",
            "kind": "settlement",
            "fund_pay_sumamt_fen": 3200,
            "clr_type": "41",
            "day": "2026-11-20",
        },
        {
            "setl_id": "R2",
            "kind": "reversal",
            "fund_pay_sumamt_fen": -3200,
            "clr_type": "41",
            "day": "2026-11-20",
        },
        {
            "setl_id": "S4",
            "kind": "settlement",
            "fund_pay_sumamt_fen": 500,
            "clr_type": "11",
            "day": "2026-11-20",
        },
    ]
    ledger = {
        "S1": LedgerAmount("S1", "settlement", 3000, day),
        "S2": LedgerAmount("S2", "settlement", 3200, day),
        "R2": LedgerAmount("R2", "reversal", -3200, day),
        "S4": LedgerAmount("S4", "settlement", 500, day),
        "X9": LedgerAmount("X9", "settlement", 100, day),
    }
    result = compare(Filters(day, day, clr_type="41"), rows, ledger)
    assert [(d.setl_id, d.problem, d.settlement_fen, d.ledger_fen) for d in result.differences] == [
        ("S1", "amount differs", 3200, 3000),
        ("X9", "not in settlement", None, 100),
    ]
    # S4 (another clearing type) is neither compared nor reported as unknown.
    assert (result.settlement_total_fen, result.ledger_total_fen) == (3200, 3100)
