from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request

from settlement.manual import service
from settlement.manual.schemas import Decision, ManualClaimCreate, ManualClaimOut, Payment
from shared.auth import Principal
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/manual-reimbursements", tags=["manual reimbursement"])

T = TypeVar("T", ManualClaimCreate, Decision, Payment)


def _as_caller(request: Request, body: T) -> T:
    """The operator on record is the authenticated one (the bearer token's subject), whatever the body
    says: the four-eyes rule compares people who logged in, not names typed into a form."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # not reachable behind the router's guard
        return body
    return body.model_copy(update={"operator": principal.subject})


@router.post("", status_code=201, response_model=ManualClaimOut)
async def enter(body: ManualClaimCreate, runtime: RuntimeDep, request: Request) -> ManualClaimOut:
    """A clerk enters the bills; the answer carries the benefit the engine computes (not yet approved)."""
    async with runtime.transaction() as session:
        return ManualClaimOut.model_validate(await service.enter(session, _as_caller(request, body)))


@router.get("", response_model=list[ManualClaimOut])
async def list_claims(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern=r"^(entered|approved|rejected|paid)$")] = None,
    psn_no: str | None = None,
) -> list[ManualClaimOut]:
    async with runtime.db.session() as session:
        return [ManualClaimOut.model_validate(c) for c in await service.list_claims(session, status, psn_no)]


@router.get("/{claim_no}", response_model=ManualClaimOut)
async def get_claim(claim_no: str, runtime: RuntimeDep) -> ManualClaimOut:
    async with runtime.db.session() as session:
        return ManualClaimOut.model_validate(await service.get(session, claim_no))


@router.post("/{claim_no}/decision", response_model=ManualClaimOut)
async def decide(claim_no: str, body: Decision, runtime: RuntimeDep, request: Request) -> ManualClaimOut:
    """A second person approves (the benefit is recomputed and goes to the ledger) or rejects."""
    async with runtime.transaction() as session:
        return ManualClaimOut.model_validate(
            await service.decide(session, claim_no, _as_caller(request, body))
        )


@router.post("/{claim_no}/payment", response_model=ManualClaimOut)
async def pay(claim_no: str, body: Payment, runtime: RuntimeDep, request: Request) -> ManualClaimOut:
    async with runtime.transaction() as session:
        return ManualClaimOut.model_validate(await service.pay(session, claim_no, _as_caller(request, body)))
