"""City-level pooling (市级统筹, 统收统支), after the Wuxi opinion (docs/domain.md, "Money in"):

* a county joins its city's pool from a date (``join``); nothing moves between regions before that date;
* the daily sweep of a pooled county moves its income account's money to the CITY's special account
  (``fund_ledger.clearing.service.run_sweep``): Dr county 1301 due from the city pool / Cr county 1001, and
  Dr city 1002 / Cr city 2301 held for the county - one ``pooling_transfer`` entry, each region balanced;
* the city pays by monthly fund-use plans (``pay_fund_plan``): Dr county 1003 / Cr county 1301, and
  Dr city 2301 / Cr city 1002; the county then clears its institutions from its expenditure account;
* the county view of the statements is the county's own books (its income and spending; its 1301 shows
  what it has in the city pool); the city view consolidates the city and its pooled counties, where 1301
  and 2301 cancel out (``pooled_regions`` and ``INTER_REGION_CODES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.books.bank import post_guarded_entry
from fund_ledger.books.chain import lock_chain_head
from fund_ledger.books.chart import (
    EXPENDITURE_ACCOUNT_DEPOSIT,
    FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
    POOLING_DUE_FROM_CITY,
    POOLING_DUE_TO_COUNTY,
    SCHEMES,
)
from fund_ledger.books.journal import POOLING_TRANSFER, Leg
from fund_ledger.books.models import JournalEntry
from fund_ledger.books.service import account_for
from fund_ledger.pooling.models import CityPooling
from shared.errors import Conflict, NotFound, Unprocessable

#: Accounts that only exist between a city and its pooled counties: they cancel out in the city view.
INTER_REGION_CODES = frozenset({POOLING_DUE_FROM_CITY.code, POOLING_DUE_TO_COUNTY.code})


async def join(
    session: AsyncSession,
    county_admdvs: str,
    city_admdvs: str,
    effective_from: date,
    approved_by: str,
    document_ref: str,
) -> tuple[CityPooling, bool]:
    if county_admdvs == city_admdvs:
        raise Unprocessable("县级统筹区与市级统筹区不能相同", code="SAME_REGION")
    if await session.get(CityPooling, city_admdvs) is not None:
        raise Unprocessable(f"{city_admdvs} 本身已并入市级统筹，不能作为市级统筹区", code="CITY_IS_A_COUNTY")
    existing = await session.get(CityPooling, county_admdvs)
    if existing is not None:
        if (existing.city_admdvs, existing.effective_from) != (city_admdvs, effective_from):
            raise Conflict(
                f"{county_admdvs} 已于 {existing.effective_from} 并入 {existing.city_admdvs} 市级统筹",
                code="POOLING_EXISTS",
            )
        return existing, False
    pooling = CityPooling(
        county_admdvs=county_admdvs,
        city_admdvs=city_admdvs,
        effective_from=effective_from,
        approved_by=approved_by,
        document_ref=document_ref,
    )
    session.add(pooling)
    await session.flush()
    return pooling, True


async def pooling_of(session: AsyncSession, county_admdvs: str, on: date) -> CityPooling | None:
    """The county's city pool on that day, if it had joined one by then."""
    pooling = await session.get(CityPooling, county_admdvs)
    if pooling is None or on < pooling.effective_from:
        return None
    return pooling


async def list_all(session: AsyncSession) -> list[CityPooling]:
    return list(await session.scalars(select(CityPooling).order_by(col(CityPooling.county_admdvs))))


async def pooled_regions(session: AsyncSession, city_admdvs: str, on: date) -> list[str]:
    """The city and the counties pooled into it on that day (the city view)."""
    counties = await session.scalars(
        select(CityPooling.county_admdvs).where(
            CityPooling.city_admdvs == city_admdvs, col(CityPooling.effective_from) <= on
        )
    )
    return [city_admdvs, *sorted(counties)]


async def hand_up_legs(
    session: AsyncSession, pooling: CityPooling, insutype: str, fund_pay_type: str, amount_fen: int
) -> list[Leg]:
    """County 1001 -> city 1002 through the pooling accounts (the caller credits the county's 1001)."""
    county, city = pooling.county_admdvs, pooling.city_admdvs
    due_from_city = await account_for(session, POOLING_DUE_FROM_CITY, county, insutype, fund_pay_type)
    city_special = await account_for(session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, city, insutype, fund_pay_type)
    held_for_county = await account_for(session, POOLING_DUE_TO_COUNTY, city, insutype, fund_pay_type, county)
    return [
        Leg(due_from_city, debit_fen=amount_fen),
        Leg(city_special, debit_fen=amount_fen),
        Leg(held_for_county, credit_fen=amount_fen),
    ]


@dataclass(frozen=True)
class FundPlan:
    plan_id: str
    county_admdvs: str
    insutype: str
    fund_pay_type: str
    #: The month the plan funds, YYYY-MM.
    month: str
    amount_fen: int


def _plan_description(plan: FundPlan, city: str) -> str:
    return (
        f"市级统筹基金用款计划 {plan.plan_id}: {city} 拨付 {plan.county_admdvs} 支出户 {plan.amount_fen} 分 "
        f"({plan.month}, 基金 {plan.fund_pay_type})"
    )


async def pay_fund_plan(session: AsyncSession, plan: FundPlan, today: date) -> tuple[int, bool]:
    """The city pays a county's expenditure account per its monthly fund-use plan; (entry id, created).
    The city's special account can never go below zero. Idempotent by plan id."""
    if plan.insutype not in SCHEMES:
        raise Unprocessable(f"未知险种分账: {plan.insutype}", code="UNKNOWN_SCHEME")
    pooling = await pooling_of(session, plan.county_admdvs, today)
    if pooling is None:
        raise NotFound(f"{plan.county_admdvs} 未实行市级统筹", code="NOT_CITY_POOLED")
    await lock_chain_head(session)
    description = _plan_description(plan, pooling.city_admdvs)
    existing = await session.scalar(
        select(JournalEntry).where(
            JournalEntry.source_type == POOLING_TRANSFER, JournalEntry.source_id == plan.plan_id
        )
    )
    if existing is not None:
        assert existing.id is not None
        if existing.description != description:
            raise Conflict(f"用款计划号已用于另一笔拨付: {plan.plan_id}", code="PLAN_ID_REUSED")
        return existing.id, False
    county, city = pooling.county_admdvs, pooling.city_admdvs
    key = (plan.insutype, plan.fund_pay_type)
    legs = [
        Leg(await account_for(session, EXPENDITURE_ACCOUNT_DEPOSIT, county, *key), debit_fen=plan.amount_fen),
        Leg(await account_for(session, POOLING_DUE_FROM_CITY, county, *key), credit_fen=plan.amount_fen),
        Leg(await account_for(session, POOLING_DUE_TO_COUNTY, city, *key, county), debit_fen=plan.amount_fen),
        Leg(
            await account_for(session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, city, *key), credit_fen=plan.amount_fen
        ),
    ]
    entry = await post_guarded_entry(
        session,
        source_type=POOLING_TRANSFER,
        source_id=plan.plan_id,
        description=description,
        admdvs=county,
        insutype=plan.insutype,
        legs=legs,
    )
    assert entry.id is not None
    return entry.id, True
