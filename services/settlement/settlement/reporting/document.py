"""The report as files: CSV (UTF-8 with BOM, as spreadsheet programs in China expect) and a self-contained
HTML document with inline SVG charts (no scripts, no internet), readable in a browser and printable."""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from settlement.reporting.service import KIND_NAMES, Report
from shared.money import fen_to_yuan


def _yuan(fen: int) -> str:
    return f"{fen_to_yuan(fen):.2f}"


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.2f}%"


def publicity_csv(report: Report) -> bytes:
    """公示名单: one row per compensation, names masked, amounts shown, by village."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["村(社区)", "姓名", "就医类别", "就诊日期", "类型", "医疗总费用(元)", "基金支付(元)"])
    for c in report.compensations:
        writer.writerow(
            [c.village, c.masked_name, KIND_NAMES.get(c.kind, c.kind), c.care_day.isoformat(), c.source,
             _yuan(c.medfee_fen), _yuan(c.fund_paid_fen)]
        )  # fmt: skip
    return ("\ufeff" + buffer.getvalue()).encode()


def summary_rows(report: Report) -> list[tuple[str, str]]:
    rows = [
        ("统筹区", report.admdvs),
        ("月份", report.month),
        ("受益人数", str(report.beneficiaries)),
        ("补偿人次", str(len(report.compensations))),
        ("医疗总费用(元)", _yuan(report.medfee_fen)),
        ("基金支付合计(元)", _yuan(report.fund_paid_fen)),
        ("住院医疗总费用(元)", _yuan(report.inpatient_medfee_fen)),
        ("住院基金支付(元)", _yuan(report.inpatient_fund_paid_fen)),
        ("住院实际补偿比", _percent(report.inpatient_ratio)),
    ]
    if report.enrollment:
        e = report.enrollment
        rows += [
            ("应参保人数", str(e.get("target_population"))),
            ("参保人数", str(e.get("covered_persons"))),
            ("参保率", _percent(e.get("rate"))),
        ]
    if report.disclosure:
        d = report.disclosure
        rows += [
            ("期初基金结余(元)", str(d.get("opening_balance"))),
            ("本期基金收入(元)", str(d.get("income_total"))),
            ("本期基金支出(元)", str(d.get("expenditure_total"))),
            ("期末基金结余(元)", str(d.get("closing_balance"))),
        ]
    return [*rows, ("未能取得", "; ".join(report.unavailable))] if report.unavailable else rows


def summary_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["项目", "数值"])
    writer.writerows(summary_rows(report))
    return ("\ufeff" + buffer.getvalue()).encode()


def _label_width(label: str) -> int:
    """Pixels a label takes at font-size 12: a CJK character about 12, any other about 7."""
    return sum(12 if ord(c) >= 0x2E80 else 7 for c in label)


def bars(title: str, items: list[tuple[str, int]]) -> str:
    """A horizontal bar chart in inline SVG; amounts in fen, labelled in yuan. Labels are shown whole (a
    village or institution name is never cut): the label column is as wide as the longest one."""
    if not items:
        return f"<p>{escape(title)}: 无数据</p>"
    top = max(value for _, value in items) or 1
    height = 28 * len(items) + 30
    bar_x = max(180, max(_label_width(label) for label, _ in items) + 12)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{bar_x + 540}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">'
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>'
    ]
    for i, (label, value) in enumerate(items):
        y = 30 + 28 * i
        width = max(1, round(420 * max(value, 0) / top))
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(label)}</text>'
            f'<rect x="{bar_x}" y="{y}" width="{width}" height="20" fill="#3a7bd5"/>'
            f'<text x="{bar_x + 6 + width}" y="{y + 15}" font-size="12">{_yuan(value)} 元</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fen(amount: Any) -> int:
    return round(float(amount) * 100)


def html(report: Report) -> str:
    summary = _table(["项目", "数值"], [[k, v] for k, v in summary_rows(report)])
    villages = bars("各村(社区)基金补偿金额", [(v, paid) for v, _, paid in report.by_village])
    fund = ""
    if report.disclosure:
        d = report.disclosure
        fund = bars(
            "基金收支",
            [("本期收入", _fen(d["income_total"])), ("本期支出", _fen(d["expenditure_total"]))]
            + [(f"支出: {line['item']}", _fen(line["amount"])) for line in d.get("expenditure", [])],
        )
    largest = _table(
        ["村(社区)", "姓名", "就医类别", "就诊日期", "医疗总费用(元)", "基金支付(元)"],
        [
            [c.village, c.masked_name, KIND_NAMES.get(c.kind, c.kind), c.care_day.isoformat(),
             _yuan(c.medfee_fen), _yuan(c.fund_paid_fen)]
            for c in report.largest
        ],
    )  # fmt: skip
    lists = []
    for village, count, paid in report.by_village:
        rows = [
            [c.masked_name, KIND_NAMES.get(c.kind, c.kind), c.care_day.isoformat(), c.source,
             _yuan(c.medfee_fen), _yuan(c.fund_paid_fen)]
            for c in report.compensations
            if c.village == village
        ]  # fmt: skip
        lists.append(
            f"<h3>{escape(village)} (共 {count} 人次, 基金支付 {_yuan(paid)} 元)</h3>"
            + _table(["姓名", "就医类别", "就诊日期", "类型", "医疗总费用(元)", "基金支付(元)"], rows)
        )
    title = f"城乡居民基本医疗保险补偿公示 {report.admdvs} {report.month}"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:.25em .6em;text-align:left}}th{{background:#eee}}</style></head>
<body><h1>{escape(title)}</h1>
<p>依据: 补偿情况按月分村(社区)公示; 基金收支定期公示。姓名已作脱敏处理。</p>
<h2>概况</h2>{summary}
<h2>图表</h2>{villages}{fund}
<h2>单笔补偿金额最高的 {len(report.largest)} 笔</h2>{largest}
<h2>补偿公示名单</h2>{"".join(lists) or "<p>本月无补偿</p>"}
</body></html>
"""
