from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PostingOut(BaseModel):
    account_code: str
    account_name: str
    admdvs: str
    insutype: str
    fund_pay_type: str
    counterparty: str
    debit_fen: int
    credit_fen: int


class EntryOut(BaseModel):
    id: int
    #: Position in the hash chain.
    seq: int
    event_id: str | None
    #: The request id that produced the event (joins the entry to the trail lines; None: no request).
    trace_id: str | None = None
    source_type: str
    source_id: str
    description: str
    admdvs: str
    insutype: str
    total_fen: int
    posting_count: int
    posted_at: datetime
    prev_hash: str
    entry_hash: str
    postings: list[PostingOut]


class BalanceOut(BaseModel):
    account_id: int
    code: str
    name: str
    kind: str
    admdvs: str
    insutype: str
    fund_pay_type: str
    counterparty: str
    debit_total_fen: int
    credit_total_fen: int
    #: Balance on the account's normal side (debit for assets and expenditure, credit otherwise).
    balance_fen: int


class TrialBalanceOut(BaseModel):
    entries: int
    debit_total_fen: int
    credit_total_fen: int
    imbalance_fen: int
    accounts: list[BalanceOut]


class ChainVerifyOut(BaseModel):
    ok: bool
    #: Entries checked (up to and including the first bad one).
    entries: int
    first_bad_entry_id: int | None
    reason: str | None
