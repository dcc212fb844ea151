from __future__ import annotations

from fastapi import APIRouter

from settlement.policy import service
from settlement.policy.schemas import PolicyCreate, PolicyOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])


@router.post("", status_code=201, response_model=PolicyOut)
async def create_policy(body: PolicyCreate, runtime: RuntimeDep) -> PolicyOut:
    """Add a benefit policy (deductible, ratios by level, yearly caps) for a region, scheme
    and period. Refused: 409 POLICY_OVERLAP."""
    async with runtime.transaction() as session:
        return PolicyOut.model_validate(await service.create(session, body))


@router.get("", response_model=list[PolicyOut])
async def list_policies(runtime: RuntimeDep) -> list[PolicyOut]:
    """Every benefit policy, with the period it applies to."""
    async with runtime.db.session() as session:
        return [PolicyOut.model_validate(p) for p in await service.list_all(session)]
