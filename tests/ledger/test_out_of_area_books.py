"""Out-of-area care in the books (docs/architecture.md, "Out-of-area care"), from the events themselves:
the insured region's entry and the treating region's, their reversal in one consumer batch with the original
(the journal buffered), a reversal of care booked before inter-region clearing existed, and the ledger's
reconciliation by institution finding the care. Both backends."""

from __future__ import annotations

from datetime import date

import httpx
from fund_ledger.books.journal import batch_scope
from fund_ledger.books.service import post_settlement_completed, post_settlement_reversed
from fund_ledger.config import LedgerSettings
from fund_ledger.reconciliation.service import Filters, ledger_amounts
from fund_ledger.schedule import LedgerScheduler
from prometheus_client import REGISTRY

from shared.db import Database
from shared.events import SettlementCompleted
from tests.ledger.builders import completed, reversed_event

Ledger = tuple[httpx.AsyncClient, Database]
A, B = "341524", "341502"
B_HOSPITAL = "H34150200001"


def away(setl_id: str, fund_fen: int) -> SettlementCompleted:
    """A settlement of a person of A at B's hospital (inpatient): ``fund_fen`` from A's pooled fund."""
    event = completed(setl_id, fund_fen, institution=B_HOSPITAL, clr_type="21", med_type="21")
    return event.model_copy(update={"mdtrtarea_admvs": B})


async def trial(client: httpx.AsyncClient, admdvs: str) -> dict[tuple[str, str], int]:
    rows = (await client.get("/api/v1/accounts/balances", params={"admdvs": admdvs})).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


async def test_each_region_books_its_side_and_a_reversal_in_the_same_batch_mirrors_both(
    ledger: Ledger,
) -> None:
    client, db = ledger
    reversal = reversed_event("S1", "R1", 2150_00, institution=B_HOSPITAL, clr_type="21", med_type="21")
    reversal = reversal.model_copy(update={"mdtrtarea_admvs": B})
    # One consumer batch: the journal is buffered, the original's treating entry not yet written when the
    # reversal looks for it.
    async with db.transaction() as session, batch_scope(session):
        await post_settlement_completed(session, away("S1", 2150_00).envelope("test"))
        await post_settlement_completed(session, away("S2", 2580_00).envelope("test"))
        await post_settlement_reversed(session, reversal.envelope("test"))
    # A: 5102 2,150.00 + 2,580.00 − 2,150.00 = 2,580.00 spent, owed to B on 2105; B: due from A on 1302 and
    # payable to its hospital 2,580.00.
    assert await trial(client, A) == {("5102", ""): 2580_00, ("2105", B): 2580_00}
    assert await trial(client, B) == {("1302", A): 2580_00, ("2101", B_HOSPITAL): 2580_00}
    entries = (await client.get("/api/v1/journal", params={"source_id": "R1"})).json()
    postings = {
        (e["admdvs"], e["source_type"]): [
            (p["account_code"], p["debit_fen"], p["credit_fen"]) for p in e["postings"]
        ]
        for e in entries
    }
    assert postings == {
        (A, "settlement_reversal"): [("2105", 2150_00, 0), ("5102", 0, 2150_00)],
        (B, "settlement_reversal_treated"): [("2101", 2150_00, 0), ("1302", 0, 2150_00)],
    }
    # The scheduler's tick exports what A still owes B: 2,580.00.
    report = await LedgerScheduler(db, LedgerSettings(database_url=db.url, sweep_daily=False)).tick()
    assert report.inter_region_open == {(A, B, "390"): 2580_00}
    labels = {"insured_admdvs": A, "treating_admdvs": B, "insutype": "390"}
    assert REGISTRY.get_sample_value("ledger_inter_region_open_fen", labels) == 2580_00


async def test_a_reversal_of_care_booked_in_the_insured_region_only_mirrors_that(ledger: Ledger) -> None:
    """Out-of-area care booked before inter-region clearing existed (its event had no treating entry: the
    payable to B's hospital in A's books): its reversal takes back exactly that, in A's books."""
    client, db = ledger
    old = completed("S9", 1200_00, institution=B_HOSPITAL, clr_type="21", med_type="21")  # booked as local
    reversal = reversed_event("S9", "R9", 1200_00, institution=B_HOSPITAL, clr_type="21", med_type="21")
    async with db.transaction() as session:
        await post_settlement_completed(session, old.envelope("test"))
    async with db.transaction() as session:
        await post_settlement_reversed(
            session, reversal.model_copy(update={"mdtrtarea_admvs": B}).envelope("t")
        )
    assert await trial(client, A) == {}
    assert await trial(client, B) == {}


async def test_reconciliation_by_institution_finds_out_of_area_care(ledger: Ledger) -> None:
    _, db = ledger
    async with db.transaction() as session:
        await post_settlement_completed(session, away("S1", 2150_00).envelope("test"))
        await post_settlement_completed(session, completed("S2", 300_00).envelope("test"))  # A's pharmacy
    day = date(2026, 11, 20)
    async with db.session() as session:
        at_b = await ledger_amounts(session, Filters(day, day, fixmedins_code=B_HOSPITAL))
        everywhere = await ledger_amounts(session, Filters(day, day))
    assert {k: v.signed_fen for k, v in at_b.items()} == {"S1": 2150_00}
    assert {k: v.signed_fen for k, v in everywhere.items()} == {"S1": 2150_00, "S2": 300_00}
