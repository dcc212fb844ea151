"""The eligibility read model and the yearly accumulators."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from settlement.eligibility.models import Eligibility, YearAccumulator
from shared.db import utcnow
from shared.errors import DomainError, NotFound
from shared.events import CoverageActivated, EventEnvelope


async def apply_coverage_activated(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler for ``enrollment.coverage_activated``: upsert the person's coverage for the year."""
    event = CoverageActivated.model_validate(envelope.data)
    row = await session.scalar(
        select(Eligibility).where(
            Eligibility.psn_no == event.psn_no,
            Eligibility.insutype == event.insutype,
            Eligibility.year == event.year,
        )
    )
    if row is None:
        row = Eligibility(
            psn_no=event.psn_no,
            insutype=event.insutype,
            year=event.year,
            certno=event.certno,
            psn_name=event.psn_name,
            gend=event.gend,
            brdy=event.brdy,
            psn_type=event.psn_type,
            insuplc_admdvs=event.insuplc_admdvs,
            coverage_begin=event.coverage_begin,
            coverage_end=event.coverage_end,
            enrollment_id=event.enrollment_id,
        )
        session.add(row)
    row.certno, row.psn_name, row.gend, row.brdy = event.certno, event.psn_name, event.gend, event.brdy
    row.psn_type, row.insuplc_admdvs = event.psn_type, event.insuplc_admdvs
    row.coverage_begin, row.coverage_end, row.enrollment_id = (
        event.coverage_begin,
        event.coverage_end,
        event.enrollment_id,
    )
    row.identities = [i.model_dump(mode="json") for i in event.identities]
    row.updated_at = utcnow()
    await session.flush()


async def covered(session: AsyncSession, psn_no: str, insutype: str, on: date) -> Eligibility:
    """The person's coverage on the day of care, or a refusal the cashier can read."""
    row = await session.scalar(
        select(Eligibility).where(
            Eligibility.psn_no == psn_no, Eligibility.insutype == insutype, Eligibility.year == on.year
        )
    )
    if row is None:
        raise DomainError(
            f"人员 {psn_no} 在 {on.year} 年度未参加险种 {insutype}，不能享受待遇",
            code="NOT_COVERED",
            status_code=422,
        )
    if not row.coverage_begin <= on <= row.coverage_end:
        raise DomainError(
            f"就诊日期 {on} 不在待遇享受期 {row.coverage_begin} 至 {row.coverage_end} 内",
            code="NOT_COVERED",
            status_code=422,
        )
    return row


async def list_for_person(session: AsyncSession, psn_no: str) -> list[Eligibility]:
    rows = list(await session.scalars(select(Eligibility).where(Eligibility.psn_no == psn_no)))
    if not rows:
        raise NotFound(f"无该人员的参保信息: {psn_no}", code="NOT_COVERED")
    return rows


async def lock_accumulator(
    session: AsyncSession, psn_no: str, year: int, insutype: str, benefit: str
) -> YearAccumulator:
    """Get the person's accumulator row for the year, created if missing, locked until commit.

    This row lock is the one per-person serialisation point (architecture.md, flow 3): two counters
    settling for the same person at once cannot both spend the same deductible or cap."""
    values = {
        "psn_no": psn_no,
        "year": year,
        "insutype": insutype,
        "benefit": benefit,
        "deductible_used_fen": 0,
        "fund_paid_fen": 0,
        "settlement_count": 0,
        "updated_at": utcnow(),
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    table = YearAccumulator.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    await session.execute(
        insert.values(**values).on_conflict_do_nothing(
            index_elements=["psn_no", "year", "insutype", "benefit"]
        )
    )
    row = await session.scalar(
        select(YearAccumulator)
        .where(
            YearAccumulator.psn_no == psn_no,
            YearAccumulator.year == year,
            YearAccumulator.insutype == insutype,
            YearAccumulator.benefit == benefit,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row
