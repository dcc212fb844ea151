from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from enrollment.vouchers import service
from shared.contracts.v1.enrollment import VoucherOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["vouchers"])


class VoucherRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: How long the token is valid, in seconds (a QR code of the national app lives minutes).
    ttl_s: int = Field(default=300, ge=60, le=86_400)


@router.post("/persons/{psn_no}/vouchers", status_code=201, response_model=VoucherOut)
async def issue_voucher(psn_no: str, body: VoucherRequest, runtime: RuntimeDep) -> VoucherOut:
    """Issue an e-voucher token to an insured person (an operator or API standing in for the national
    app, which shows it as a QR code)."""
    async with runtime.transaction() as session:
        row = await service.issue(session, psn_no, body.ttl_s)
        return await service.resolve(session, row.token)


@router.post("/vouchers/{token}/revocation", response_model=VoucherOut)
async def revoke_voucher(token: str, runtime: RuntimeDep) -> VoucherOut:
    """Revoke an e-voucher token (the person lost the phone, or the app withdrew it): every later use is
    refused. Refused: 404 VOUCHER_NOT_FOUND for a token not issued here; 409 VOUCHER_REVOKED if it
    already was."""
    async with runtime.transaction() as session:
        await service.revoke(session, token)
        return await service.resolve(session, token)


@router.get("/vouchers/{token}", response_model=VoucherOut)
async def get_voucher(token: str, runtime: RuntimeDep) -> VoucherOut:
    """Whose the token is and its status (valid, expired, revoked): the gateway asks at each use."""
    async with runtime.db.session() as session:
        return await service.resolve(session, token)
