"""The monthly clearing between platforms (跨省): the reconciliation from the settlement service, and this
platform's side of it booked (``fund_ledger.interplatform.service``)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Response
from pydantic import BaseModel

from fund_ledger.interplatform import service
from fund_ledger.reconciliation.endpoints import SettlementClient
from fund_ledger.reconciliation.service import SettlementUnavailable
from shared.contracts.v1.interplatform import Reconciliation, ReconciliationRequest
from shared.errors import DomainError
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["inter-platform clearing"])


class BookedOut(BaseModel):
    source_type: str
    source_id: str
    admdvs: str
    insutype: str
    amount_fen: int
    replayed: bool


class ClearedOut(BaseModel):
    #: cleared (booked), mismatch (the platforms' records differ: nothing booked), nothing_owed.
    status: str
    entries: list[BookedOut]


class InterPlatformClearingOut(BaseModel):
    reconciliation: Reconciliation
    #: This platform treated, the peer pays: Dr 1002 / Cr 1303[peer].
    receivable: ClearedOut
    #: The peer treated, this platform pays: Dr 2106[peer] / Cr 1002.
    payable: ClearedOut
    #: Everything was booked before (a repeat of the month).
    replayed: bool


def _cleared(cleared: service.Cleared) -> ClearedOut:
    return ClearedOut(
        status=cleared.status,
        entries=[BookedOut(**vars(entry)) for entry in cleared.entries],
    )


@router.post(
    "/inter-platform-clearings",
    response_model=InterPlatformClearingOut,
    status_code=201,
    responses={
        404: {"description": "PEER_NOT_FOUND"},
        409: {"description": "INSUFFICIENT_FUNDS"},
        502: {"description": "SETTLEMENT_UNAVAILABLE"},
        503: {"description": "PEER_OUTCOME_UNKNOWN"},
    },
)
async def run_inter_platform_clearing(
    body: ReconciliationRequest, runtime: RuntimeDep, client: SettlementClient, response: Response
) -> InterPlatformClearingOut:
    """Clear a month with a peer platform: the settlement service compares this platform's records with
    the peer's statement (matched, only here, only there, amount differences, pending), and each reconciled
    direction is booked here (1303 / 2106 against the special account). A month booked before answers 200
    with what was booked."""
    try:
        answer = await client.post("/api/v1/interplatform/reconciliations", json=body.model_dump())
    except httpx.HTTPError as exc:
        raise SettlementUnavailable(f"结算服务不可用: {type(exc).__name__}") from exc
    error = _error(answer)
    if answer.status_code >= 400 and "code" in error:
        # The settlement service's refusal (an unknown peer, the peer unreachable) passed on as it is.
        raise DomainError(
            str(error.get("message", "")), code=str(error["code"]), status_code=answer.status_code
        )
    if answer.status_code >= 400:
        raise SettlementUnavailable(f"结算服务应答 HTTP {answer.status_code}")
    report = Reconciliation.model_validate_json(answer.content)
    async with runtime.db.transaction() as session:
        receivable, payable = await service.book(session, report)
    entries = receivable.entries + payable.entries
    replayed = bool(entries) and all(entry.replayed for entry in entries)
    if replayed:
        response.status_code = 200
    return InterPlatformClearingOut(
        reconciliation=report, receivable=_cleared(receivable), payable=_cleared(payable), replayed=replayed
    )


def _error(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
