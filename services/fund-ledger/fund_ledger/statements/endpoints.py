"""Statements of a pooling region's scheme sub-ledger: income and expenditure, balance sheet, fund risk."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from fund_ledger.config import LedgerSettings
from fund_ledger.pooling.service import pooled_regions
from fund_ledger.statements import service
from fund_ledger.statements.schemas import (
    BalanceSheetOut,
    CodeTotalOut,
    DisclosureLineOut,
    DisclosureOut,
    FundRiskOut,
    IncomeExpenditureOut,
)
from shared.errors import Unprocessable
from shared.money import fen_to_yuan
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])

Admdvs = Annotated[str, Query(pattern=r"^\d{6}$")]
#: ``region``: the pooling region's own books; ``city``: a city and the counties pooled into it (市级统筹),
#: consolidated.
View = Annotated[Literal["region", "city"], Query()]


async def _scope(session: AsyncSession, admdvs: str, view: str, on: date) -> service.Regions:
    if view == "region":
        return admdvs
    return tuple(await pooled_regions(session, admdvs, on))


Insutype = Annotated[str, Query(pattern=r"^\d{3}$")]


def _lines(totals: list[service.CodeTotal]) -> list[CodeTotalOut]:
    return [CodeTotalOut(code=t.code, name=t.name, amount_fen=t.amount_fen) for t in totals]


@router.get("/income-expenditure", response_model=IncomeExpenditureOut)
async def income_expenditure(
    runtime: RuntimeDep,
    admdvs: Admdvs,
    insutype: Insutype,
    date_from: date,
    date_to: date,
    view: View = "region",
) -> IncomeExpenditureOut:
    """The fund's income and expenditure statement of a region and scheme for a period.
    Refused: 422 BAD_PERIOD."""
    if date_from > date_to:
        raise Unprocessable("起始日期不能晚于结束日期", code="BAD_PERIOD")
    async with runtime.db.session() as session:
        scope = await _scope(session, admdvs, view, date_to)
        result = await service.income_expenditure(session, scope, insutype, date_from, date_to)
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
    runtime: RuntimeDep, admdvs: Admdvs, insutype: Insutype, as_of: date, view: View = "region"
) -> BalanceSheetOut:
    """The fund's balance sheet of a region and scheme at a date (region or city view)."""
    async with runtime.db.session() as session:
        result = await service.balance_sheet(
            session, await _scope(session, admdvs, view, as_of), insutype, as_of
        )
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
    """Months of payment the fund's balance covers at a date, and the risk level it stands
    at."""
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


@router.get(
    "/disclosure",
    response_model=DisclosureOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def disclosure(
    runtime: RuntimeDep,
    admdvs: Admdvs,
    insutype: Insutype,
    date_from: date,
    date_to: date,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    view: View = "region",
) -> DisclosureOut | Response:
    """The public disclosure of the fund (基金收支情况公示): income by source, spending by benefit, the
    balance at the start and end of the period, in yuan. ``format=csv`` gives the same as a CSV file
    (UTF-8 with BOM, as spreadsheet programs in China expect)."""
    if date_from > date_to:
        raise Unprocessable("起始日期不能晚于结束日期", code="BAD_PERIOD")
    async with runtime.db.session() as session:
        scope = await _scope(session, admdvs, view, date_to)
        result = await service.disclosure(session, scope, insutype, date_from, date_to)
    out = DisclosureOut(
        admdvs=admdvs,
        insutype=insutype,
        date_from=date_from,
        date_to=date_to,
        opening_balance=fen_to_yuan(result.opening_balance_fen),
        income=[DisclosureLineOut(item=i, amount=fen_to_yuan(a)) for i, a in result.income],
        income_total=fen_to_yuan(result.income_total_fen),
        expenditure=[DisclosureLineOut(item=i, amount=fen_to_yuan(a)) for i, a in result.expenditure],
        expenditure_total=fen_to_yuan(result.expenditure_total_fen),
        surplus=fen_to_yuan(result.surplus_fen),
        closing_balance=fen_to_yuan(result.closing_balance_fen),
        settlements=result.settlements,
    )
    if format == "json":
        return out
    return Response(
        _disclosure_csv(out),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": (
                f'attachment; filename="disclosure-{admdvs}-{insutype}-{date_from}-{date_to}.csv"'
            )
        },
    )


def _disclosure_csv(out: DisclosureOut) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["统筹区", out.admdvs, "险种", out.insutype, "期间", f"{out.date_from} 至 {out.date_to}"])
    writer.writerow(["类别", "项目", "金额（元）"])
    writer.writerow(["期初", "基金累计结余", out.opening_balance])
    for line in out.income:
        writer.writerow(["收入", line.item, line.amount])
    writer.writerow(["收入", "收入合计", out.income_total])
    for line in out.expenditure:
        writer.writerow(["支出", line.item, line.amount])
    writer.writerow(["支出", "支出合计", out.expenditure_total])
    writer.writerow(["结余", "本期收支结余", out.surplus])
    writer.writerow(["期末", "基金累计结余", out.closing_balance])
    writer.writerow(["人次", "待遇享受人次（结算笔数，已扣除冲正）", out.settlements])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
