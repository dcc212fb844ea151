"""``python -m platformctl inter-platform-clearing``: a month's reconciliation with a peer platform (跨省)
and, with ``--run``, this platform's side of its clearing booked by the fund ledger (docs/interface.md,
"Between platforms": the clearing)."""

from __future__ import annotations

from typing import Any

import httpx

from shared.money import fen_to_yuan


class CommandFailed(Exception):
    pass


async def fetch(
    settlement: httpx.AsyncClient, ledger: httpx.AsyncClient, month: str, peer: str, *, run: bool
) -> dict[str, Any]:
    """The ledger's clearing (``run``: booked; a month booked before answers what it booked), or the
    settlement service's reconciliation alone; the answer's ``reconciliation`` and, when run, the two
    directions' booking outcomes."""
    body = {"month": month, "peer": peer}
    if run:
        response = await ledger.post("/api/v1/inter-platform-clearings", json=body)
    else:
        response = await settlement.post("/api/v1/interplatform/reconciliations", json=body)
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            raise CommandFailed(f"[{error['code']}] {error['message']}")
        except (ValueError, KeyError, TypeError):
            raise CommandFailed(f"HTTP {response.status_code}") from None
    answer: dict[str, Any] = response.json()
    return answer if run else {"reconciliation": answer}


def _yuan(fen: int) -> str:
    return str(fen_to_yuan(fen))


def render(answer: dict[str, Any]) -> str:
    """The report, one block per direction (amounts in yuan)."""
    report = answer["reconciliation"]
    lines = [f"跨省异地就医对账 {report['month']}: 本平台 {report['platform']} / 对端平台 {report['peer']}"]
    for key, title in (
        ("receivable", "本平台就医、对端参保 (应收)"),
        ("payable", "对端就医、本平台参保 (应付)"),
    ):
        d = report[key]
        state = "双方一致" if d["reconciled"] else "双方不一致"
        lines.append(
            f"{title}: {state}; 本方 {_yuan(d['here_fen'])} 元, 对方 {_yuan(d['there_fen'])} 元; "
            f"相符 {d['matched']} 笔 {_yuan(d['matched_fen'])} 元, 双方已撤销 {d['released']} 笔"
        )
        for name, label in (
            ("only_here", "仅本方有"),
            ("only_there", "仅对方有"),
            ("amount_differences", "金额或状态不符"),
            ("pending", "未决"),
        ):
            for x in d[name]:
                lines.append(
                    f"  {label}\t{x['reservation_id']}\t{x['treating_setl_id'] or ''}\t"
                    f"本方 {x['here_status'] or '-'} {_yuan(x['here_fen'])}\t"
                    f"对方 {x['there_status'] or '-'} {_yuan(x['there_fen'])}"
                )
        for line in d["books"]:
            where = f"{line['admdvs']}\t{line['insutype']}\t{line['fund_pay_type']}"
            lines.append(f"  清算\t{where}\t{_yuan(line['amount_fen'])}")
        if key in answer:
            lines.append(f"  记账: {answer[key]['status']}")
    return "\n".join(lines)


def reconciled(answer: dict[str, Any]) -> bool:
    report = answer["reconciliation"]
    return bool(report["receivable"]["reconciled"] and report["payable"]["reconciled"])
