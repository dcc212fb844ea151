from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from settlement.settlements import service
from settlement.settlements.schemas import PharmacySettlementRequest, SettlementOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["settlements"])


@router.post("/pharmacy-settlements", response_model=SettlementOut)
async def settle_pharmacy(body: PharmacySettlementRequest, runtime: RuntimeDep) -> SettlementOut:
    """Settle a pharmacy purchase (2102). Repeating the same msgid with the same body returns the first
    settlement; with a different body it is refused."""
    try:
        async with runtime.transaction() as session:
            return await service.settle_pharmacy(session, body)
    except IntegrityError:
        # A concurrent request with the same msgid committed first; answer with its settlement.
        async with runtime.db.session() as session:
            return await service.settle_pharmacy(session, body)


@router.get("/settlements/{setl_id}", response_model=SettlementOut)
async def get_settlement(setl_id: str, runtime: RuntimeDep) -> SettlementOut:
    async with runtime.db.session() as session:
        return await service.load(session, setl_id)
