"""Chart of accounts of the residents' medical insurance fund, after social-insurance fund accounting
(社会保险基金会计制度), as code.

Codes: 1xxx assets, 2xxx liabilities, 3xxx fund balance, 4xxx income, 5xxx expenditure. An account in the
books is a code kept per pooling region (``admdvs``), scheme sub-ledger (``insutype``: 390 merged residents'
scheme, 391 legacy URBMI, 380 legacy NCMS - 基金统一管理、分账运行, never used for each other) and fund
(``fund_pay_type``: 390100 basic pooled fund, 390200 catastrophic insurance, 610100 medical assistance);
some are also kept per counterparty (payables per institution, subsidy receivable per government level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Scheme sub-ledgers (insutype).
RESIDENTS_SCHEME: Final = "390"
URBMI_SCHEME: Final = "391"
NCMS_SCHEME: Final = "380"
SCHEMES: Final = frozenset({RESIDENTS_SCHEME, URBMI_SCHEME, NCMS_SCHEME})

#: Funds (fund_pay_type).
POOLED_FUND: Final = "390100"
CATASTROPHIC_FUND: Final = "390200"
ASSISTANCE_FUND: Final = "610100"
FUNDS: Final = frozenset({POOLED_FUND, CATASTROPHIC_FUND, ASSISTANCE_FUND})

PAYABLE_TO_INSTITUTION = "2101"


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    #: asset, liability, equity, income, expense.
    kind: str


# --- assets (资产) ---------------------------------------------------------------------------------------
INCOME_ACCOUNT_DEPOSIT = AccountSpec("1001", "收入户存款", "asset")
FISCAL_SPECIAL_ACCOUNT_DEPOSIT = AccountSpec("1002", "财政专户存款", "asset")
EXPENDITURE_ACCOUNT_DEPOSIT = AccountSpec("1003", "支出户存款", "asset")
ADVANCES = AccountSpec("1101", "暂付款", "asset")
#: Kept per government level (counterparty = the level).
SUBSIDY_RECEIVABLE = AccountSpec("1201", "应收财政补助", "asset")
#: City-level pooling (统收统支): what a county has handed up to the city pool, less what the city's fund-use
#: plans have paid back to it (a county that drew more than it handed up holds a credit balance here).
POOLING_DUE_FROM_CITY = AccountSpec("1301", "市级统筹往来-上解市级", "asset")
#: Out-of-area care (异地就医) within the platform, the treating region's side: what an insured region owes
#: it for the care its institutions gave that region's insured (counterparty = the insured region's admdvs).
INTER_REGION_DUE_FROM = AccountSpec("1302", "异地就医往来-应收参保地", "asset")
#: 跨省 care between platforms (docs/interface.md, "Between platforms"), the treating platform's side: what a
#: peer platform owes for the care this platform's institutions gave its insured (counterparty = the peer).
INTER_PLATFORM_DUE_FROM = AccountSpec("1303", "跨省异地就医往来-应收参保地平台", "asset")
#: A legacy fund's accumulated deficit at the merger, which the same-level finance bureau must cover.
DEFICIT_RECEIVABLE = AccountSpec("1202", "应收同级财政弥补赤字款", "asset")

# --- liabilities (负债) ----------------------------------------------------------------------------------
#: Kept per institution (counterparty = fixmedins_code).
PAYABLE = AccountSpec(PAYABLE_TO_INSTITUTION, "应付定点医药机构款", "liability")
QUALITY_DEPOSIT_WITHHELD = AccountSpec("2102", "代扣质量保证金", "liability")
SUSPENSE = AccountSpec("2201", "暂收款", "liability")
#: City-level pooling, the city's side: what it holds for each county (counterparty = the county admdvs).
POOLING_DUE_TO_COUNTY = AccountSpec("2301", "市级统筹往来-代管县级", "liability")
#: Benefits a legacy scheme still owed at its opening in this ledger (audited, not per institution).
LEGACY_BENEFITS_PAYABLE = AccountSpec("2103", "应付历史待遇款", "liability")
#: Manual reimbursements (零星报销) approved and not yet paid to the person (counterparty = psn_no).
PAYABLE_TO_INSURED = AccountSpec("2104", "应付参保人员待遇款", "liability")

#: Out-of-area care, the insured region's side: what it owes a treating region for its insured's care there
#: (counterparty = the treating region's admdvs), settled by the monthly inter-region clearing.
INTER_REGION_DUE_TO = AccountSpec("2105", "异地就医往来-应付就医地", "liability")

#: 跨省 care, the insured platform's side: what it owes a treating platform for its insured's care there
#: (counterparty = the treating platform), settled by the monthly inter-platform clearing.
INTER_PLATFORM_DUE_TO = AccountSpec("2106", "跨省异地就医往来-应付就医地平台", "liability")

# --- fund balance (基金结余) -----------------------------------------------------------------------------
FUND_BALANCE = AccountSpec("3001", "基金结余", "equity")
RISK_RESERVE = AccountSpec("3002", "风险储备金", "equity")

# --- income (收入) ---------------------------------------------------------------------------------------
#: Contribution income (缴费收入) by payer, as ``PaymentReceived.payer`` names them.
CONTRIBUTION_INCOME_BY_PAYER: dict[str, AccountSpec] = {
    "individual": AccountSpec("4001", "个人缴费收入", "income"),
    "medical_assistance": AccountSpec("4002", "医疗救助资助参保收入", "income"),
    "village_collective": AccountSpec("4003", "集体扶持收入", "income"),
    "employer": AccountSpec("4004", "单位资助收入", "income"),
}
#: Government subsidy income (财政补助收入) by level, as ``SubsidyShare.level`` names them, in this order.
SUBSIDY_INCOME_BY_LEVEL: dict[str, AccountSpec] = {
    "central": AccountSpec("4101", "财政补助收入-中央", "income"),
    "provincial": AccountSpec("4102", "财政补助收入-省级", "income"),
    "city": AccountSpec("4103", "财政补助收入-市级", "income"),
    "county": AccountSpec("4104", "财政补助收入-县级", "income"),
}
INTEREST_INCOME = AccountSpec("4201", "利息收入", "income")

# --- expenditure (支出) ----------------------------------------------------------------------------------
#: Basic pooled fund (390100) benefit expenditure by clearing type (clr_type): 11 outpatient, 21 inpatient,
#: 41 pharmacy, 99 other; chronic-disease outpatient care (med_type 14xx, 门诊慢特病) and deliveries
#: (med_type 52, 生育住院) in their own accounts whatever the clearing type: the Jinzhai report (002)
#: accounts for 慢性病门诊补偿 and 住院分娩补偿 apart from ordinary outpatient and inpatient compensation.
BENEFIT_EXPENSE_BY_CLR_TYPE: dict[str, AccountSpec] = {
    "11": AccountSpec("5101", "基本医疗保险待遇支出-门诊", "expense"),
    "21": AccountSpec("5102", "基本医疗保险待遇支出-住院", "expense"),
    "41": AccountSpec("5103", "基本医疗保险待遇支出-药店购药", "expense"),
    "99": AccountSpec("5109", "基本医疗保险待遇支出-其他", "expense"),
}
CHRONIC_DISEASE_EXPENSE = AccountSpec("5104", "基本医疗保险待遇支出-门诊慢特病", "expense")
MATERNITY_EXPENSE = AccountSpec("5105", "基本医疗保险待遇支出-生育", "expense")
CATASTROPHIC_EXPENSE = AccountSpec("5201", "大病保险支出", "expense")
ASSISTANCE_EXPENSE = AccountSpec("5301", "医疗救助支出", "expense")

#: Every account of the chart, by code.
CHART: dict[str, AccountSpec] = {
    spec.code: spec
    for spec in (
        INCOME_ACCOUNT_DEPOSIT,
        FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
        EXPENDITURE_ACCOUNT_DEPOSIT,
        ADVANCES,
        SUBSIDY_RECEIVABLE,
        POOLING_DUE_FROM_CITY,
        INTER_REGION_DUE_FROM,
        INTER_PLATFORM_DUE_FROM,
        DEFICIT_RECEIVABLE,
        PAYABLE,
        QUALITY_DEPOSIT_WITHHELD,
        SUSPENSE,
        LEGACY_BENEFITS_PAYABLE,
        PAYABLE_TO_INSURED,
        INTER_REGION_DUE_TO,
        INTER_PLATFORM_DUE_TO,
        POOLING_DUE_TO_COUNTY,
        FUND_BALANCE,
        RISK_RESERVE,
        *CONTRIBUTION_INCOME_BY_PAYER.values(),
        *SUBSIDY_INCOME_BY_LEVEL.values(),
        INTEREST_INCOME,
        *BENEFIT_EXPENSE_BY_CLR_TYPE.values(),
        CHRONIC_DISEASE_EXPENSE,
        MATERNITY_EXPENSE,
        CATASTROPHIC_EXPENSE,
        ASSISTANCE_EXPENSE,
    )
}

#: Which side increases an account of each kind.
DEBIT_NORMAL = {"asset", "expense"}


#: 医疗类别 prefixes of the care the pooled fund books apart (settlement's kinds chronic and maternity).
CHRONIC_MED_TYPE_PREFIX = "14"
MATERNITY_MED_TYPE_PREFIX = "52"


def benefit_expense_for(fund_pay_type: str, clr_type: str, med_type: str | None = None) -> AccountSpec | None:
    """The expenditure account a settlement's payment from one fund is booked to; None when the fund (or,
    for the pooled fund, the clearing type) has no account in the chart. ``med_type`` None: not told (an
    event from before it was), booked by clearing type."""
    if fund_pay_type == POOLED_FUND:
        if med_type is not None and med_type.startswith(CHRONIC_MED_TYPE_PREFIX):
            return CHRONIC_DISEASE_EXPENSE
        if med_type is not None and med_type.startswith(MATERNITY_MED_TYPE_PREFIX):
            return MATERNITY_EXPENSE
        return BENEFIT_EXPENSE_BY_CLR_TYPE.get(clr_type)
    if fund_pay_type == CATASTROPHIC_FUND:
        return CATASTROPHIC_EXPENSE
    if fund_pay_type == ASSISTANCE_FUND:
        return ASSISTANCE_EXPENSE
    return None
