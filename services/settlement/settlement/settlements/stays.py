"""What a stay's surviving settlements add up to, for its next part (中途结算, 2303/2304 with
mid_setl_flag): the engine pays the stay's entitlement on the cumulative cost less this
(``settlement.adjudication.engine.StaySoFar``), so a stay settled in parts pays what it would settled once.

Read after the person's accumulator is locked: a reversal of a part takes that lock before it marks the
part reversed, so what is read here is what survives."""

from __future__ import annotations

from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from settlement.adjudication.engine import StaySoFar
from settlement.settlements.models import Settlement


async def so_far(session: AsyncSession, mdtrt_id: str) -> StaySoFar | None:
    """The stay's surviving settlements summed; None when none survives (the next part is its first).
    The stay's deductible is the one its first surviving part fixed; a part stored before settlements kept
    their layers counts the deductible its parts applied."""
    parts = (
        await session.execute(
            sa_select(
                col(Settlement.policy_range_fen),
                col(Settlement.deductible_fen),
                col(Settlement.pooled_fund_paid_fen),
                col(Settlement.layers),
            )
            .where(col(Settlement.mdtrt_id) == mdtrt_id, col(Settlement.status) == "settled")
            .order_by(col(Settlement.id))
        )
    ).all()
    if not parts:
        return None
    deductible = sum(p.deductible_fen for p in parts)
    fixed = next((p.layers["stay_deductible_fen"] for p in parts if "stay_deductible_fen" in p.layers), None)
    return StaySoFar(
        policy_range_fen=sum(p.policy_range_fen for p in parts),
        deductible_fen=deductible,
        pooled_fen=sum(p.pooled_fund_paid_fen for p in parts),
        stay_deductible_fen=deductible if fixed is None else int(fixed),
    )
