"""City-level pooling: counties joining a city's pool, and the city's monthly fund-use plans."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fund_ledger.pooling import service
from fund_ledger.pooling.schemas import CityPoolingIn, CityPoolingOut, FundPlanIn, FundPlanOut
from shared.clock import now_china
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["city pooling"])


@router.post("/city-pooling", response_model=CityPoolingOut, status_code=201)
async def join_city_pool(body: CityPoolingIn, runtime: RuntimeDep, response: Response) -> CityPoolingOut:
    """A county joins its city's pool from a date (统收统支). The same request again answers 200."""
    async with runtime.db.transaction() as session:
        pooling, created = await service.join(session, **body.model_dump())
        out = CityPoolingOut.model_validate(pooling)
    if not created:
        response.status_code = 200
    return out


@router.get("/city-pooling", response_model=list[CityPoolingOut])
async def list_city_pools(runtime: RuntimeDep) -> list[CityPoolingOut]:
    """The counties pooled at city level (统收统支), with their city and the date it took effect."""
    async with runtime.db.session() as session:
        return [CityPoolingOut.model_validate(p) for p in await service.list_all(session)]


@router.post("/fund-plans", response_model=FundPlanOut, status_code=201)
async def pay_fund_plan(body: FundPlanIn, runtime: RuntimeDep, response: Response) -> FundPlanOut:
    """The city pays a pooled county's expenditure account per its monthly fund-use plan; the city's
    special account can never go below zero. The same plan id again answers 200 and pays nothing."""
    plan = service.FundPlan(**body.model_dump())
    async with runtime.db.transaction() as session:
        entry_id, created = await service.pay_fund_plan(session, plan, now_china().date())
    if not created:
        response.status_code = 200
    return FundPlanOut(
        plan_id=plan.plan_id, entry_id=entry_id, amount_fen=plan.amount_fen, replayed=not created
    )
