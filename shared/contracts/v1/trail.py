"""The transaction trail (issue 28, "what happened to this swipe?"): what each service answers on its
operator endpoint ``GET /api/v1/trail/...``, and what ``python -m platformctl trail`` puts together from
them (deploy/README.md, "Following one transaction").

Each service shows its own part of the path: the gateway its message log (the answer the institution got),
settlement the settlement records with their calculation trace and the events it wrote for them, the
ledger the journal entries it posted from those events and what its consumer did with them. Names and ID
numbers are masked wherever they appear (``shared.masking.mask_fields``); a person is their ``psn_no``.
Amounts are integer fen, as in every operator API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from shared.contracts.v1.settlement import SettlementOut

# --- gateway -------------------------------------------------------------------------------------------


class TrailVoid(BaseModel):
    """A message 冲正'd by 2601 (``voided_message``)."""

    outcome: str
    reversal_setl_id: str | None
    void_msgid: str
    created_at: datetime


class TrailMessage(BaseModel):
    """One msgid in the gateway's message log: the final answer the institution got (masked)."""

    msgid: str
    infno: str
    fixmedins_code: str
    infcode: int
    created_at: datetime
    #: The answer envelope as sent, names and ID numbers masked.
    answer: dict[str, Any]
    voided: TrailVoid | None = None


class GatewayTrail(BaseModel):
    messages: list[TrailMessage]
    #: msgids asked for that the message log does not hold (never answered finally: refused before the
    #: envelope was read, a transient refusal, an outcome unknown, or never sent).
    not_found: list[str]


# --- settlement ----------------------------------------------------------------------------------------


class TrailEvent(BaseModel):
    """An event a service wrote to its outbox, and whether the relay has published it."""

    event_id: str
    topic: str
    type: str
    trace_id: str | None
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None


class TrailPerson(BaseModel):
    """The person on a settlement as the trail shows them: name and ID number masked, the birth year only."""

    psn_no: str
    psn_name: str
    certno: str
    gend: str
    birth_year: int
    age: int
    psn_type: str


class TrailSettlementRecord(SettlementOut):
    """A settlement record with its calculation trace (``calc_trace``), the person masked."""

    person: TrailPerson  # type: ignore[assignment]  # the masked view of SettlementOut.person


class TrailSettlement(BaseModel):
    settlement: TrailSettlementRecord
    #: The reversal record of this settlement, if one was made (its setl_id).
    reversed_by: str | None
    events: list[TrailEvent]


class SettlementTrail(BaseModel):
    settlements: list[TrailSettlement]


# --- fund ledger ---------------------------------------------------------------------------------------


class TrailPosting(BaseModel):
    account_code: str
    fund_pay_type: str
    counterparty: str
    debit_fen: int
    credit_fen: int


class TrailEntry(BaseModel):
    id: int
    seq: int
    event_id: str | None
    trace_id: str | None
    source_type: str
    source_id: str
    total_fen: int
    posted_at: datetime
    entry_hash: str
    postings: list[TrailPosting]


class TrailConsumption(BaseModel):
    """What the ledger's consumer did with an event: processed (booked, or nothing to book), dead-lettered
    (with the reason), or not seen yet."""

    event_id: str
    outcome: Literal["processed", "dead_lettered", "not_seen"]
    processed_at: datetime | None = None
    reason: str | None = None


class LedgerTrail(BaseModel):
    entries: list[TrailEntry]
    events: list[TrailConsumption]


# --- the whole path (platformctl trail) ----------------------------------------------------------------


class Reconciliation(BaseModel):
    """One settlement's fund payment against the ledger, as the reconciliation compares them: ``matched``
    (the entry books the fund payment, or there is nothing to book), ``pending`` (the event is not booked
    yet), ``dead_lettered`` (the ledger refused it), ``differs`` (booked with another amount)."""

    setl_id: str
    fund_paid_fen: int
    booked_fen: int
    status: Literal["matched", "pending", "dead_lettered", "differs"]


class Trail(BaseModel):
    gateway: GatewayTrail
    settlement: SettlementTrail
    ledger: LedgerTrail
    reconciliation: list[Reconciliation]
