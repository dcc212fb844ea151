"""Statements of a pooling region's scheme sub-ledger: income and expenditure, balance sheet, fund risk."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from fund_ledger.config import LedgerSettings
from fund_ledger.statements import service
from fund_ledger.statements.schemas import BalanceSheetOut, CodeTotalOut, FundRiskOut, IncomeExpenditureOut
from shared.errors import Unprocessable
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])

Admdvs = Annotated[str, Query(pattern=r"^\d{6}$")]
Insutype = Annotated[str, Query(pattern=r"^\d{3}$")]


def _lines(totals: list[service.CodeTotal]) -> list[CodeTotalOut]:
    return [CodeTotalOut(code=t.code, name=t.name, amount_fen=t.amount_fen) for t in totals]


@router.get("/income-expenditure", response_model=IncomeExpenditureOut)
async def income_expenditure(
    runtime: RuntimeDep, admdvs: Admdvs, insutype: Insutype, date_from: date, date_to: date
) -> IncomeExpenditureOut:
    if date_from > date_to:
        raise Unprocessable("起始日期不能晚于结束日期", code="BAD_PERIOD")
    async with runtime.db.session() as session:
        result = await service.income_expenditure(session, admdvs, insutype, date_from, date_to)
    return IncomeExpenditureOut(
        admdvs=admdvs,
        insutype=insutype,
        date_from=date_from,
        date_to=date_to,
        income=_lines(result.income),
        expenditure=_lines(result.expenditure),
        income_total_fen=result.income_total_fen,
        expenditure_total_fen=result.expenditure_total_fen,
        surplus_fen=result.surplus_fen,
    )


@router.get("/balance-sheet", response_model=BalanceSheetOut)
async def balance_sheet(
    runtime: RuntimeDep, admdvs: Admdvs, insutype: Insutype, as_of: date
) -> BalanceSheetOut:
    async with runtime.db.session() as session:
        result = await service.balance_sheet(session, admdvs, insutype, as_of)
    return BalanceSheetOut(
        admdvs=admdvs,
        insutype=insutype,
        as_of=as_of,
        assets=_lines(result.assets),
        liabilities=_lines(result.liabilities),
        assets_total_fen=result.assets_total_fen,
        liabilities_total_fen=result.liabilities_total_fen,
        fund_balance_fen=result.fund_balance_fen,
        opening_fund_balance_fen=result.opening_fund_balance_fen,
        cumulative_income_fen=result.cumulative_income_fen,
        cumulative_expenditure_fen=result.cumulative_expenditure_fen,
        balanced=result.balanced,
    )


@router.get("/fund-risk", response_model=FundRiskOut)
async def fund_risk(runtime: RuntimeDep, admdvs: Admdvs, insutype: Insutype, as_of: date) -> FundRiskOut:
    settings = runtime.settings
    assert isinstance(settings, LedgerSettings)
    async with runtime.db.session() as session:
        result = await service.fund_risk(
            session,
            admdvs,
            insutype,
            as_of,
            warning_months=settings.fund_risk_warning_months,
            danger_months=settings.fund_risk_danger_months,
        )
    return FundRiskOut(admdvs=admdvs, insutype=insutype, as_of=as_of, **asdict(result))
