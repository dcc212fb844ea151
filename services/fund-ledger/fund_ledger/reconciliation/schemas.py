from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Problem = Literal["missing in ledger", "amount differs", "not in settlement"]


class Difference(BaseModel):
    setl_id: str
    #: settlement or reversal (as settlement has it; from the entry's source_type when settlement has none).
    kind: Literal["settlement", "reversal"]
    #: The fund payment as settlement has it (negative for a reversal); None when settlement has no record.
    settlement_fen: int | None
    #: The entry's total_fen, negative for a settlement_reversal entry; None when the ledger has no entry.
    ledger_fen: int | None
    problem: Problem
    fixmedins_code: str | None = None
    insutype: str | None = None
    clr_type: str | None = None
    day: str | None = None


class ReconciliationOut(BaseModel):
    balanced: bool
    #: Net fund payments of the period per settlement (reversals negative).
    settlement_total_fen: int
    #: Net of the ledger's settlement entries of the period (reversal entries negative).
    ledger_total_fen: int
    settlements_compared: int
    entries_compared: int
    differences: list[Difference]


class RepairOut(BaseModel):
    #: The settlements missing in the ledger whose events settlement was asked to publish again.
    requested_setl_ids: list[str]
    #: Settlement's answer (rows marked unsent, ids not found); None when nothing was missing.
    settlement_answer: dict[str, object] | None
    #: Differences a re-publication cannot repair (amount differs, not in settlement): for a person.
    not_repairable: list[Difference]
    note: str
