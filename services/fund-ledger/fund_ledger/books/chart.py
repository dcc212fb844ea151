"""The part of the chart of accounts the spine posts to, after social-insurance fund accounting.

Codes: 2xxx liabilities, 5xxx expenditure. Each account exists per pooling region (admdvs), scheme
sub-ledger (insutype) and fund (fund_pay_type); payables also per institution."""

from __future__ import annotations

from dataclasses import dataclass

PAYABLE_TO_INSTITUTION = "2101"


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    kind: str


#: Benefit expenditure by clearing type (clr_type): 11 outpatient, 21 inpatient, 41 pharmacy.
BENEFIT_EXPENSE_BY_CLR_TYPE: dict[str, AccountSpec] = {
    "11": AccountSpec("5101", "基本医疗保险待遇支出-门诊", "expense"),
    "21": AccountSpec("5102", "基本医疗保险待遇支出-住院", "expense"),
    "41": AccountSpec("5103", "基本医疗保险待遇支出-药店购药", "expense"),
    "99": AccountSpec("5109", "基本医疗保险待遇支出-其他", "expense"),
}
PAYABLE = AccountSpec(PAYABLE_TO_INSTITUTION, "应付定点医药机构款", "liability")

#: Which side increases an account of each kind.
DEBIT_NORMAL = {"asset", "expense"}
