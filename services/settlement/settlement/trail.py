"""The settlement service's trail line: one JSON log line per binding decision (a settlement, a reversal, a
2601 void, or the refusal of one), beside the gateway's line per envelope (deploy/README.md, "Logs").

The line carries what an operator needs to answer "what happened to this swipe?" without reading the
database: the operation and its outcome, the error code of a refusal, the institution, the duration, and
for a settlement its ``setl_id``, ``mdtrt_id``, ``psn_no`` and amounts (yuan with two decimals, as on the
wire). Names and ID numbers are never on it: the person is their ``psn_no``. ``request_id`` and ``msgid``
come from the request context (the gateway passes ``X-Request-ID`` and ``X-Msgid``), so the line joins
the gateway's line for the same envelope, the event it published (Kafka header ``trace_id``) and the
ledger's entry (``journal_entries.trace_id``)."""

from __future__ import annotations

import logging
from typing import Any

from shared.contracts.v1.settlement import SettlementOut
from shared.money import fen_to_yuan

log = logging.getLogger("settlement.trail")

#: The amounts on a decision line: wire name -> field of the settlement (fen).
AMOUNTS = (
    ("medfee_sumamt", "medfee_sumamt_fen"),
    ("fund_pay_sumamt", "fund_paid_total_fen"),
    ("acct_pay", "account_paid_fen"),
    ("psn_cash_pay", "cash_paid_fen"),
)


def of_settlement(settlement: SettlementOut) -> dict[str, Any]:
    """The trail fields of a settlement record (no name, no ID number)."""
    fields: dict[str, Any] = {
        "setl_id": settlement.setl_id,
        "mdtrt_id": settlement.mdtrt_id,
        "psn_no": settlement.person.psn_no,
        "fixmedins_code": settlement.fixmedins_code,
        "encounter_kind": settlement.encounter_kind,
        "med_type": settlement.med_type,
        "insutype": settlement.insutype,
        "clr_type": settlement.clr_type,
        "status": settlement.status,
        "replayed": settlement.replayed,
    }
    if settlement.reversal_of:
        fields["reversal_of"] = settlement.reversal_of
    for wire, attribute in AMOUNTS:
        fields[wire] = str(fen_to_yuan(int(getattr(settlement, attribute))))
    return fields


def outcome_of(operation: str, result: object) -> str:
    """settled, reversed, voided (2601 of a message that had settled nothing), or replayed."""
    if isinstance(result, SettlementOut):
        if result.replayed:
            return "replayed"
        return "settled" if operation == "settle" else "reversed"
    return "voided"


def decision(
    operation: str,
    seconds: float,
    *,
    result: object = None,
    code: str = "ok",
    fixmedins_code: str | None = None,
    msgid: str | None = None,
) -> None:
    """Log one decision. ``code``: "ok", or the error code of the refusal (then ``result`` is None)."""
    trail: dict[str, Any] = {"event": "settlement_decision", "operation": operation}
    if msgid:
        trail["msgid"] = msgid  # the context's msgid (X-Msgid) wins when there is one
    if fixmedins_code:
        trail["fixmedins_code"] = fixmedins_code
    trail["outcome"] = "refused" if code != "ok" else outcome_of(operation, result)
    trail["code"] = code
    trail["duration_ms"] = round(seconds * 1000, 1)
    if isinstance(result, SettlementOut):
        trail.update(of_settlement(result))
        if not result.setl_id:  # never for a decision; kept honest if a caller passes a preview
            trail.pop("setl_id")
    if code == "ok":
        log.info("settlement decision", extra={"trail": trail})
    else:
        log.warning("settlement decision refused", extra={"trail": trail})
