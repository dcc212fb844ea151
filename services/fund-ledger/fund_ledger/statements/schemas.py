from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel


class CodeTotalOut(BaseModel):
    code: str
    name: str
    amount_fen: int


class IncomeExpenditureOut(BaseModel):
    admdvs: str
    insutype: str
    date_from: date
    date_to: date
    income: list[CodeTotalOut]
    expenditure: list[CodeTotalOut]
    income_total_fen: int
    expenditure_total_fen: int
    #: Income minus expenditure (negative: a deficit).
    surplus_fen: int


class BalanceSheetOut(BaseModel):
    admdvs: str
    insutype: str
    as_of: date
    assets: list[CodeTotalOut]
    liabilities: list[CodeTotalOut]
    assets_total_fen: int
    liabilities_total_fen: int
    #: Assets minus liabilities.
    fund_balance_fen: int
    opening_fund_balance_fen: int
    cumulative_income_fen: int
    cumulative_expenditure_fen: int
    #: fund balance == opening fund balance + cumulative income - cumulative expenditure.
    balanced: bool


class FundRiskOut(BaseModel):
    admdvs: str
    insutype: str
    as_of: date
    bank_balance_fen: int
    window_from: date
    window_to: date
    expenditure_12m_fen: int
    average_monthly_expenditure_fen: int
    months_of_payment: Decimal | None
    status: str
    warning_months: Decimal
    danger_months: Decimal


class DisclosureLineOut(BaseModel):
    item: str
    #: Yuan, two decimals (a public report: read by people, not by the books).
    amount: Decimal


class DisclosureOut(BaseModel):
    """基金收支情况公示: the fund's income, spending and balance for the public, in yuan."""

    admdvs: str
    insutype: str
    date_from: date
    date_to: date
    opening_balance: Decimal
    income: list[DisclosureLineOut]
    income_total: Decimal
    expenditure: list[DisclosureLineOut]
    expenditure_total: Decimal
    #: Income minus expenditure of the period (negative: the fund drew on its balance).
    surplus: Decimal
    closing_balance: Decimal
    #: Settlements paid by the funds in the period, net of reversals (待遇享受人次).
    settlements: int
