from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from settlement.manual import service
from settlement.manual.schemas import Decision, ManualClaimCreate, ManualClaimOut, Payment
from shared.auth import PrincipalDep, acting
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/manual-reimbursements", tags=["manual reimbursement"])

#: Said by every endpoint that records who acted.
WHO_ACTS = (
    " Who acts is the caller the bearer token names: its subject and roles are recorded on the claim. The "
    "body's `operator` is deprecated and may be left out; if given it must equal the token's subject, else "
    "403 `OPERATOR_MISMATCH` and nothing changes."
)


@router.post(
    "",
    status_code=201,
    response_model=ManualClaimOut,
    description="A clerk enters the bills; the answer carries the benefit the engine computes (not yet "
    "approved)." + WHO_ACTS,
)
async def enter(body: ManualClaimCreate, runtime: RuntimeDep, caller: PrincipalDep) -> ManualClaimOut:
    clerk = acting(caller, body.operator)
    async with runtime.transaction() as session:
        return ManualClaimOut.model_validate(await service.enter(session, body, clerk))


@router.get("", response_model=list[ManualClaimOut])
async def list_claims(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern=r"^(entered|approved|rejected|paid)$")] = None,
    psn_no: str | None = None,
) -> list[ManualClaimOut]:
    """Manual reimbursement claims (零星报销), filtered by status or person, newest first."""
    async with runtime.db.session() as session:
        return [ManualClaimOut.model_validate(c) for c in await service.list_claims(session, status, psn_no)]


@router.get("/{claim_no}", response_model=ManualClaimOut)
async def get_claim(claim_no: str, runtime: RuntimeDep) -> ManualClaimOut:
    """One manual reimbursement claim with its calculation and decisions. Refused: 404
    CLAIM_NOT_FOUND."""
    async with runtime.db.session() as session:
        return ManualClaimOut.model_validate(await service.get(session, claim_no))


@router.post(
    "/{claim_no}/decision",
    response_model=ManualClaimOut,
    description="A second person approves (the benefit is recomputed and goes to the ledger) or rejects. "
    "Four eyes: a caller whose token subject entered the claim is refused (403 `FOUR_EYES`)." + WHO_ACTS,
)
async def decide(claim_no: str, body: Decision, runtime: RuntimeDep, caller: PrincipalDep) -> ManualClaimOut:
    reviewer = acting(caller, body.operator)
    async with runtime.transaction() as session:
        return ManualClaimOut.model_validate(await service.decide(session, claim_no, body, reviewer))


@router.post(
    "/{claim_no}/payment",
    response_model=ManualClaimOut,
    description="The approved amount was transferred to the person's account (the ledger pays the debt). "
    "Four eyes: a caller whose token subject entered the claim is refused (403 `FOUR_EYES`); the approver "
    "may record the payment." + WHO_ACTS,
)
async def pay(claim_no: str, body: Payment, runtime: RuntimeDep, caller: PrincipalDep) -> ManualClaimOut:
    payer = acting(caller, body.operator)
    async with runtime.transaction() as session:
        return ManualClaimOut.model_validate(await service.pay(session, claim_no, body, payer))
