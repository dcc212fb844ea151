"""The monthly inter-region clearing of out-of-area care and its reconciliation report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fund_ledger.interregion import service
from fund_ledger.interregion.schemas import InterRegionClearingIn, InterRegionReport, PairOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["inter-region clearing"])


def _report(
    month: str, insutype: str, pairs: list[service.Pair], *, cleared: bool, replayed: bool
) -> InterRegionReport:
    return InterRegionReport(
        month=month,
        insutype=insutype,
        cleared=cleared,
        reconciled=all(p.agrees for p in pairs),
        pairs=[
            PairOut(
                clearing_id=p.clearing_id,
                month=f"{p.month:%Y-%m}",
                insured_admdvs=p.insured_admdvs,
                treating_admdvs=p.treating_admdvs,
                insutype=p.insutype,
                fund_pay_type=p.fund_pay_type,
                brought_forward_fen=p.brought_forward_fen,
                period_owed_fen=p.period_owed_fen,
                treating_period_fen=p.treating_period_fen,
                agrees=p.agrees,
                settlements=p.settlements,
                reversals=p.reversals,
                status=p.status,
                owed_fen=p.owed_fen,
                available_fen=p.available_fen,
                paid_fen=p.paid_fen,
                carried_forward_fen=p.carried_forward_fen,
                insured_balance_fen=p.insured_balance_fen,
                treating_balance_fen=p.treating_balance_fen,
            )
            for p in pairs
        ],
        replayed=replayed,
    )


@router.post(
    "/inter-region-clearings",
    response_model=InterRegionReport,
    status_code=201,
    responses={422: {"description": "BAD_PERIOD, UNKNOWN_SCHEME"}},
)
async def run_inter_region_clearing(
    body: InterRegionClearingIn, runtime: RuntimeDep, response: Response
) -> InterRegionReport:
    """Clear a month of out-of-area care between the platform's regions: each insured region pays each
    treating region what it owes (as far as its special account allows; the rest carried forward), after
    reconciling the two regions' books. A month cleared before answers 200 with its stored clearings."""
    async with runtime.db.transaction() as session:
        pairs, created = await service.run(session, body.month, body.insutype)
    if not created:
        response.status_code = 200
    return _report(body.month, body.insutype, pairs, cleared=True, replayed=not created)


@router.get(
    "/inter-region-clearings/{month}",
    response_model=InterRegionReport,
    responses={422: {"description": "BAD_PERIOD, UNKNOWN_SCHEME"}},
)
async def inter_region_report(
    month: str, runtime: RuntimeDep, insutype: Annotated[str, Query(pattern=r"^(390|391|380)$")] = "390"
) -> InterRegionReport:
    """The month's reconciliation report: per insured and treating region and fund, both regions' books,
    the count of out-of-area settlements and reversals, and the clearing if it ran."""
    async with runtime.db.session() as session:
        pairs, cleared = await service.report(session, month, insutype)
    return _report(month, insutype, pairs, cleared=cleared, replayed=False)
