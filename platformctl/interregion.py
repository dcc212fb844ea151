"""``python -m platformctl inter-region-clearing``: a month's reconciliation report of out-of-area care
between the platform's regions, and (``--run``) its clearing, from the fund ledger's REST API
(docs/architecture.md, "Out-of-area care (异地就医) and the inter-region clearing")."""

from __future__ import annotations

from typing import Any

import httpx

from shared.money import fen_to_yuan


class CommandFailed(Exception):
    pass


async def fetch(client: httpx.AsyncClient, month: str, insutype: str, *, run: bool) -> dict[str, Any]:
    """The month's report (``run``: after clearing it; a month cleared before answers its stored clearing)."""
    if run:
        response = await client.post(
            "/api/v1/inter-region-clearings", json={"month": month, "insutype": insutype}
        )
    else:
        response = await client.get(f"/api/v1/inter-region-clearings/{month}", params={"insutype": insutype})
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            raise CommandFailed(f"[{error['code']}] {error['message']}")
        except (ValueError, KeyError, TypeError):
            raise CommandFailed(f"HTTP {response.status_code}") from None
    report: dict[str, Any] = response.json()
    return report


COLUMNS = (
    ("参保地", "insured_admdvs"),
    ("就医地", "treating_admdvs"),
    ("基金", "fund_pay_type"),
    ("结算", "settlements"),
    ("撤销", "reversals"),
    ("上期结转", "brought_forward_fen"),
    ("本月参保地账", "period_owed_fen"),
    ("本月就医地账", "treating_period_fen"),
    ("对账", "agrees"),
    ("应付", "owed_fen"),
    ("已付", "paid_fen"),
    ("结转下期", "carried_forward_fen"),
    ("状态", "status"),
)


def render(report: dict[str, Any]) -> str:
    """The report as a tab-separated table (amounts in yuan) with a heading line."""
    state = "已清算" if report["cleared"] else "未清算"
    balanced = "双方账目一致" if report["reconciled"] else "双方账目不一致"
    lines = [f"异地就医区域间清算 {report['month']} 险种 {report['insutype']}: {state}, {balanced}"]
    lines.append("\t".join(title for title, _ in COLUMNS))
    for pair in report["pairs"]:
        cells = []
        for _, name in COLUMNS:
            value = pair[name]
            if name.endswith("_fen"):
                cells.append(str(fen_to_yuan(int(value))))
            elif name == "agrees":
                cells.append("一致" if value else "不一致")
            else:
                cells.append(str(value))
        lines.append("\t".join(cells))
    if not report["pairs"]:
        lines.append("(本月无异地就医往来)")
    return "\n".join(lines)
