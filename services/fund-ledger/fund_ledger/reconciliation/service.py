"""The ledger's side of reconciliation (docs/architecture.md): settlement's per-settlement fund payments
for a period against the ledger's settlement entries, down to the setl_id; and the repair, which asks
settlement to publish the missing events again from its outbox.

The fund amount of a settlement in the ledger is its entry's ``total_fen`` (debits = credits = the sum of the
fund payments), negative for a ``settlement_reversal`` entry. A settlement whose fund payment is 0 has no
entry by design and is not a difference. Days are Beijing calendar days of ``posted_at`` (= setl_time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from fund_ledger.books.chart import PAYABLE
from fund_ledger.books.models import Account, JournalEntry, Posting
from fund_ledger.reconciliation.schemas import Difference, ReconciliationOut, RepairOut
from shared.clock import CHINA_TZ
from shared.errors import DomainError, Unprocessable

SETTLEMENT = "settlement"
REVERSAL = "settlement_reversal"
#: The treating region's entries of out-of-area care (``fund_ledger.books.service``): the institution's
#: payable is in them, not in the insured region's settlement entry.
TREATED = ("settlement_treated", "settlement_reversal_treated")
#: setl_ids per republish request (settlement accepts up to 1000).
REPUBLISH_CHUNK = 500
REPAIR_NOTE = (
    "settlement marks the outbox rows of these settlements unsent; its relay publishes them again with "
    "their original event ids and the ledger's consumer posts the ones it lacks. The books catch up "
    "asynchronously: run the reconciliation again to see them balanced."
)


class SettlementUnavailable(DomainError):
    status_code = 502
    code = "SETTLEMENT_UNAVAILABLE"


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    fixmedins_code: str | None = None
    insutype: str | None = None
    clr_type: str | None = None

    def check(self) -> None:
        if self.date_to < self.date_from:
            raise Unprocessable("date_to 早于 date_from", code="BAD_PERIOD")

    def params(self, *, with_clr_type: bool) -> dict[str, str]:
        params = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
        if self.fixmedins_code:
            params["fixmedins_code"] = self.fixmedins_code
        if self.insutype:
            params["insutype"] = self.insutype
        if with_clr_type and self.clr_type:
            params["clr_type"] = self.clr_type
        return params


@dataclass(frozen=True)
class LedgerAmount:
    setl_id: str
    kind: str
    signed_fen: int
    day: date


async def _settlement_call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise SettlementUnavailable(f"结算服务不可用: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise SettlementUnavailable(
            f"结算服务应答 HTTP {response.status_code}: {response.text[:300]}",
            status_code=502 if response.status_code >= 500 else 422,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise SettlementUnavailable("结算服务应答无法解析") from exc


async def settlement_amounts(client: httpx.AsyncClient, filters: Filters) -> list[dict[str, Any]]:
    """Settlement's records of the period; the clr_type filter is applied by ``compare``."""
    body = await _settlement_call(
        client, "GET", "/api/v1/reconciliation/settlements", params=filters.params(with_clr_type=False)
    )
    rows = body.get("settlements") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise SettlementUnavailable("结算服务应答格式错误")
    return [row for row in rows if isinstance(row, dict)]


def _bounds(filters: Filters) -> tuple[datetime, datetime]:
    start = datetime.combine(filters.date_from, time(0), tzinfo=CHINA_TZ)
    return start, datetime.combine(filters.date_to + timedelta(days=1), time(0), tzinfo=CHINA_TZ)


async def ledger_amounts(session: AsyncSession, filters: Filters) -> dict[str, LedgerAmount]:
    """The ledger's settlement and reversal entries of the period (by the institution's payable account when
    an institution is given, by scheme sub-ledger when an insutype is)."""
    start, end = _bounds(filters)
    query = select(JournalEntry).where(
        col(JournalEntry.source_type).in_([SETTLEMENT, REVERSAL]),
        col(JournalEntry.posted_at) >= start,
        col(JournalEntry.posted_at) < end,
    )
    if filters.insutype:
        query = query.where(col(JournalEntry.insutype) == filters.insutype)
    if filters.fixmedins_code:
        code = filters.fixmedins_code

        def pays_institution(entry_id: Any) -> ColumnElement[bool]:
            return exists(
                select(col(Posting.id))
                .join(Account, col(Account.id) == col(Posting.account_id))
                .where(
                    col(Posting.entry_id) == entry_id,
                    col(Account.code) == PAYABLE.code,
                    col(Account.counterparty) == code,
                )
            )

        # Out-of-area care: the payable to the institution is in the treating region's entry of the same
        # settlement id.
        treated = aliased(JournalEntry)
        query = query.where(
            or_(
                pays_institution(col(JournalEntry.id)),
                exists(
                    select(col(treated.id)).where(
                        col(treated.source_type).in_(TREATED),
                        col(treated.source_id) == col(JournalEntry.source_id),
                        pays_institution(col(treated.id)),
                    )
                ),
            )
        )
    amounts: dict[str, LedgerAmount] = {}
    for entry in (await session.scalars(query.order_by(col(JournalEntry.seq)))).all():
        sign = -1 if entry.source_type == REVERSAL else 1
        amounts[entry.source_id] = LedgerAmount(
            setl_id=entry.source_id,
            kind="reversal" if entry.source_type == REVERSAL else "settlement",
            signed_fen=sign * entry.total_fen,
            day=entry.posted_at.astimezone(CHINA_TZ).date(),
        )
    return amounts


def compare(
    filters: Filters, settlement_rows: list[dict[str, Any]], ledger: dict[str, LedgerAmount]
) -> ReconciliationOut:
    """Every difference between settlement's fund payments and the ledger's entries, by setl_id.

    With a clr_type filter, settlement's rows of other clearing types are still used to recognise the
    ledger's entries of other clearing types (the journal entry does not carry clr_type), so that they are
    not reported as "not in settlement"."""
    all_ids = {str(row["setl_id"]) for row in settlement_rows}
    rows = [r for r in settlement_rows if not filters.clr_type or r.get("clr_type") == filters.clr_type]
    differences: list[Difference] = []
    settlement_total = 0
    ledger_total = 0
    seen: set[str] = set()
    for row in rows:
        setl_id = str(row["setl_id"])
        fund = int(row["fund_pay_sumamt_fen"])
        settlement_total += fund
        seen.add(setl_id)
        entry = ledger.get(setl_id)
        context = {
            "fixmedins_code": row.get("fixmedins_code"),
            "insutype": row.get("insutype"),
            "clr_type": row.get("clr_type"),
            "day": str(row.get("day")),
        }
        if entry is not None:
            ledger_total += entry.signed_fen
        if entry is None:
            if fund != 0:
                differences.append(
                    Difference(
                        setl_id=setl_id,
                        kind=row["kind"],
                        settlement_fen=fund,
                        ledger_fen=None,
                        problem="missing in ledger",
                        **context,
                    )
                )
        elif entry.signed_fen != fund:
            differences.append(
                Difference(
                    setl_id=setl_id,
                    kind=row["kind"],
                    settlement_fen=fund,
                    ledger_fen=entry.signed_fen,
                    problem="amount differs",
                    **context,
                )
            )
    for setl_id, entry in ledger.items():
        if setl_id in seen or setl_id in all_ids:
            continue
        ledger_total += entry.signed_fen
        differences.append(
            Difference(
                setl_id=setl_id,
                kind="reversal" if entry.kind == "reversal" else "settlement",
                settlement_fen=None,
                ledger_fen=entry.signed_fen,
                problem="not in settlement",
                day=entry.day.isoformat(),
            )
        )
    return ReconciliationOut(
        balanced=not differences,
        settlement_total_fen=settlement_total,
        ledger_total_fen=ledger_total,
        settlements_compared=len(rows),
        entries_compared=sum(1 for s in ledger if s in seen or s not in all_ids),
        differences=differences,
    )


async def reconcile(session: AsyncSession, client: httpx.AsyncClient, filters: Filters) -> ReconciliationOut:
    filters.check()
    rows = await settlement_amounts(client, filters)
    return compare(filters, rows, await ledger_amounts(session, filters))


async def repair(session: AsyncSession, client: httpx.AsyncClient, filters: Filters) -> RepairOut:
    """Ask settlement to publish again the events of the settlements missing in the ledger. The books catch
    up asynchronously (relay -> broker -> the ledger's consumer); an amount that differs cannot be repaired
    by re-publishing (the consumer ignores an event it has processed) and is listed as not repairable."""
    result = await reconcile(session, client, filters)
    missing = [d.setl_id for d in result.differences if d.problem == "missing in ledger"]
    others = [d for d in result.differences if d.problem != "missing in ledger"]
    answer: dict[str, object] | None = None
    if missing:
        republished = 0
        not_found: list[object] = []
        for start in range(0, len(missing), REPUBLISH_CHUNK):
            body = await _settlement_call(
                client,
                "POST",
                "/api/v1/reconciliation/republish",
                json={"setl_ids": missing[start : start + REPUBLISH_CHUNK]},
            )
            if isinstance(body, dict):
                republished += int(body.get("republished", 0))
                not_found += list(body.get("setl_ids_not_found", []))
        answer = {"republished": republished, "setl_ids_not_found": not_found}
    return RepairOut(
        requested_setl_ids=missing, settlement_answer=answer, not_repairable=others, note=REPAIR_NOTE
    )
