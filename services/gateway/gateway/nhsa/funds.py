"""Fund types (基金支付类型, research doc §3.4) and the setlinfo column each one is reported in."""

from __future__ import annotations

from typing import Any

FUND_NAMES = {
    "390100": "城乡居民基本医疗保险基金",
    "390200": "城乡居民大病医疗保险基金",
    "610100": "医疗救助基金",
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


def setlinfo_fund_columns(funds: list[dict[str, Any]]) -> dict[str, int]:
    columns = dict.fromkeys(SETLINFO_FUND_COLUMNS, 0)
    for fund in funds:
        columns[_COLUMN_OF_FUND.get(fund["fund_pay_type"], "oth_pay")] += int(fund["paid_fen"])
    return columns
