"""``python -m platformctl trail``: the whole path of a transaction, from the operator endpoints of the
services (``shared.contracts.v1.trail``): the gateway's answer, the settlement record with its calculation
trace and reversal, the events written for it, the ledger's entries and what its consumer did, and the
reconciliation status of each settlement (its fund payment against what the ledger booked).

Asked by msgid, by setl_id, or by person (``psn_no``) for a period of Beijing days. Every service checks the
token's roles (auditors and fund accountants) and writes the read to its audit log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from shared.contracts.v1.trail import (
    GatewayTrail,
    LedgerTrail,
    Reconciliation,
    SettlementTrail,
    Trail,
    TrailSettlement,
)
from shared.money import fen_to_yuan


class TrailFailed(Exception):
    pass


@dataclass(frozen=True)
class Urls:
    gateway: str
    settlement: str
    ledger: str


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"[{error['code']}] {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        raise TrailFailed(f"{response.request.url.host}: HTTP {response.status_code}: {message}")
    return response.json()


def reconcile(settlements: list[TrailSettlement], ledger: LedgerTrail) -> list[Reconciliation]:
    """Each settlement's (or reversal's) fund payment against the ledger's entry for it: an entry books the
    fund payment as its ``total_fen`` (a reversal's entry books its size; its fund payment is negative)."""
    booked = {e.source_id: e.total_fen for e in ledger.entries}
    consumed = {c.event_id: c.outcome for c in ledger.events}
    result = []
    for item in settlements:
        record = item.settlement
        paid = record.fund_paid_total_fen
        entry = booked.get(record.setl_id)
        outcomes = {consumed.get(e.event_id, "not_seen") for e in item.events}
        status: str
        if entry is not None:
            status = "matched" if entry == abs(paid) else "differs"
        elif paid == 0 and item.events and outcomes == {"processed"}:
            status = "matched"  # nothing to book, and the ledger has read the event
        elif "dead_lettered" in outcomes:
            status = "dead_lettered"
        elif "processed" in outcomes and paid != 0:
            status = "differs"  # read, but no entry for a payment
        else:
            status = "pending"
        result.append(
            Reconciliation(
                setl_id=record.setl_id,
                fund_paid_fen=paid,
                booked_fen=0 if entry is None else entry * (1 if paid >= 0 else -1),
                status=status,
            )
        )
    return result


async def gather(
    client: httpx.AsyncClient,
    urls: Urls,
    *,
    msgid: str | None = None,
    setl_id: str | None = None,
    psn_no: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Trail:
    """The trail of one msgid, one setl_id, or one person's settlements over a period. ``client`` carries
    the operator's bearer token."""
    params: dict[str, str] = {}
    if msgid:
        params["msgid"] = msgid
    if setl_id:
        params["setl_id"] = setl_id
    if psn_no:
        params["psn_no"] = psn_no
        if date_from:
            params["date_from"] = date_from.isoformat()
        if date_to:
            params["date_to"] = date_to.isoformat()
    settlement = SettlementTrail.model_validate(
        _checked(await client.get(f"{urls.settlement}/api/v1/trail/settlements", params=params))
    )
    msgids = sorted({s.settlement.msgid for s in settlement.settlements} | ({msgid} if msgid else set()))
    gateway = GatewayTrail(messages=[], not_found=[])
    if msgids:
        gateway = GatewayTrail.model_validate(
            _checked(await client.get(f"{urls.gateway}/api/v1/trail/messages", params={"msgid": msgids}))
        )
    sources = sorted({s.settlement.setl_id for s in settlement.settlements})
    events = sorted({e.event_id for s in settlement.settlements for e in s.events})
    ledger = LedgerTrail(entries=[], events=[])
    if sources or events:
        ledger = LedgerTrail.model_validate(
            _checked(
                await client.get(
                    f"{urls.ledger}/api/v1/trail/entries", params={"source_id": sources, "event_id": events}
                )
            )
        )
    return Trail(
        gateway=gateway,
        settlement=settlement,
        ledger=ledger,
        reconciliation=reconcile(settlement.settlements, ledger),
    )


def _yuan(fen: int) -> str:
    return str(fen_to_yuan(fen))


def render(trail: Trail) -> str:
    """The trail as text for a terminal: one block per message, settlement, event and entry."""
    lines: list[str] = []
    for message in trail.gateway.messages:
        answer: Mapping[str, Any] = message.answer
        outcome = "ok" if message.infcode == 0 else str(answer.get("err_msg", ""))
        lines.append(
            f"gateway   {message.created_at.isoformat()} msgid {message.msgid} infno {message.infno} "
            f"{message.fixmedins_code} infcode {message.infcode} {outcome}"
        )
        if message.voided is not None:
            lines.append(
                f"          voided by 2601 {message.voided.void_msgid}: {message.voided.outcome}"
                + (f" ({message.voided.reversal_setl_id})" if message.voided.reversal_setl_id else "")
            )
    for msgid in trail.gateway.not_found:
        lines.append(f"gateway   msgid {msgid}: no final answer in the message log")
    for item in trail.settlement.settlements:
        s = item.settlement
        lines.append(
            f"settle    {s.setl_time.isoformat()} {s.setl_id} ({s.status}) msgid {s.msgid} psn_no "
            f"{s.person.psn_no} {s.fixmedins_code} total {_yuan(s.medfee_sumamt_fen)} "
            f"fund {_yuan(s.fund_paid_total_fen)} account {_yuan(s.account_paid_fen)} "
            f"cash {_yuan(s.cash_paid_fen)}"
            + (f" reverses {s.reversal_of}" if s.reversal_of else "")
            + (f" reversed by {item.reversed_by}" if item.reversed_by else "")
        )
        for trace_line in s.calc_trace.splitlines():
            lines.append(f"          | {trace_line}")
        for event in item.events:
            sent = event.sent_at.isoformat() if event.sent_at else f"unsent ({event.attempts} attempts)"
            lines.append(
                f"event     {event.type} {event.event_id} trace_id {event.trace_id or '-'} published {sent}"
            )
    for consumption in trail.ledger.events:
        lines.append(
            f"consumer  {consumption.event_id}: {consumption.outcome}"
            + (f" ({consumption.reason})" if consumption.reason else "")
        )
    for entry in trail.ledger.entries:
        lines.append(
            f"ledger    entry {entry.id} (seq {entry.seq}) {entry.source_type} {entry.source_id} "
            f"{_yuan(entry.total_fen)} trace_id {entry.trace_id or '-'} event {entry.event_id or '-'}"
        )
        for posting in entry.postings:
            side = (
                f"Dr {_yuan(posting.debit_fen)}" if posting.debit_fen else f"Cr {_yuan(posting.credit_fen)}"
            )
            lines.append(
                f"          {posting.account_code} {posting.fund_pay_type} {posting.counterparty} {side}"
            )
    for rec in trail.reconciliation:
        lines.append(
            f"reconcile {rec.setl_id}: {rec.status} (fund {_yuan(rec.fund_paid_fen)}, "
            f"booked {_yuan(rec.booked_fen)})"
        )
    if not lines:
        lines.append("nothing found")
    return "\n".join(lines)
