"""Fund types (基金支付类型, docs/interface.md) and the setlinfo column each one is reported in."""

from __future__ import annotations

from shared.contracts.v1.settlement import FundOut, SettlementOut

FUND_NAMES = {
    "310100": "职工基本医疗保险统筹基金",
    "310200": "职工基本医疗保险个人账户基金",
    "310103": "职工生育基金",
    "320100": "公务员医疗补助基金",
    "330100": "大额医疗费用补助基金",
    "340100": "离休人员医疗保障基金",
    "350100": "一至六级残疾军人医疗补助基金",
    "360100": "财政基金",
    "360300": "保健预支基金",
    "370100": "企业补充医疗保险基金",
    "390100": "城乡居民基本医疗保险基金",
    "390200": "城乡居民大病医疗保险基金",
    "390300": "城乡居民大病补充保险基金",
    "390400": "意外伤害基金",
    "510100": "生育基金",
    "610100": "医疗救助基金",
    "610102": "医疗再救助基金",
    "610103": "健康扶贫基金",
    "610104": "精准脱贫基金",
    "620100": "照护保险基金",
    "640100": "政府兜底基金",
    "999900": "医院垫付",
    "999996": "医院垫付",
    "999901": "区级公务员基金",
    "999997": "其他基金",
}

#: setlinfo amount columns a resident settlement always carries (0.00 when the fund paid nothing).
SETLINFO_FUND_COLUMNS = (
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
)

_COLUMN_OF_FUND = {
    "310100": "hifp_pay",
    "390100": "hifp_pay",
    "390200": "hifmi_pay",
    "330100": "hifob_pay",
    "320100": "cvlserv_pay",
    "370100": "hifes_pay",
    "610100": "maf_pay",
}

#: The settlement answer's summary field for each resident fund, which must agree with its fund rows.
SUMMARY_FIELD_OF_FUND = {
    "390100": "pooled_fund_paid_fen",
    "390200": "catastrophic_paid_fen",
    "610100": "assistance_paid_fen",
}


def setlinfo_fund_columns(funds: list[FundOut]) -> dict[str, int]:
    """Fen per setlinfo column, summed over the fund rows (reversals carry negative amounts)."""
    columns = dict.fromkeys(SETLINFO_FUND_COLUMNS, 0)
    for fund in funds:
        columns[_COLUMN_OF_FUND.get(fund.fund_pay_type, "oth_pay")] += fund.paid_fen
    return columns


def summary_disagreements(settlement: SettlementOut) -> list[str]:
    """Where the fund rows and the summary fields of one settlement answer disagree (empty when they agree):
    setlinfo is built from the rows, so a disagreement would show the HIS amounts the service did not book
    the same way."""
    paid: dict[str, int] = {}
    for fund in settlement.funds:
        paid[fund.fund_pay_type] = paid.get(fund.fund_pay_type, 0) + fund.paid_fen
    problems = []
    for fund_pay_type, field in SUMMARY_FIELD_OF_FUND.items():
        summary = getattr(settlement, field)
        if summary != paid.get(fund_pay_type, 0):
            problems.append(f"{field}={summary} but fund {fund_pay_type} rows={paid.get(fund_pay_type, 0)}")
    if settlement.fund_paid_total_fen != sum(paid.values()):
        problems.append(f"fund_paid_total_fen={settlement.fund_paid_total_fen} but rows={sum(paid.values())}")
    return problems
