"""Public reporting (docs/domain.md: compensation lists published monthly per village, Jinzhai; the
fund's income, spending and balance published regularly, Tianjin art. 28). Settlement's own figures come
from its settlements, manual reimbursements and the peer settlements of its insured (confirmed
reservations, ``settlement.interplatform.records``); the enrollment rate and the villages come from
enrollment, the fund's income, spending and balance from the ledger's disclosure statement - reused, never
recomputed."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.eligibility.models import Eligibility
from settlement.interplatform import records
from settlement.manual.models import ManualReimbursement
from settlement.settlements.models import Settlement
from shared.clock import CHINA_TZ

UNKNOWN_VILLAGE = "未登记村(社区)"
KIND_NAMES = {
    "pharmacy": "药店购药",
    "outpatient": "普通门诊",
    "chronic": "门诊慢特病",
    "inpatient": "住院",
    "maternity": "生育",
}
LARGEST = 10


def mask_name(name: str) -> str:
    """张三 -> 张*, 李小明 -> 李*明, 欧阳娜娜 -> 欧**娜: the first character and, from three characters on,
    the last."""
    name = name.strip()
    if len(name) <= 1:
        return name or "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass(frozen=True)
class Compensation:
    """One line of the publicity list: a settlement or a manual reimbursement the funds paid."""

    village: str
    psn_no: str
    masked_name: str
    kind: str
    care_day: date
    source: str
    reference: str
    medfee_fen: int
    fund_paid_fen: int


@dataclass
class Report:
    admdvs: str
    month: str
    compensations: list[Compensation]
    beneficiaries: int
    fund_paid_fen: int
    medfee_fen: int
    inpatient_medfee_fen: int
    inpatient_fund_paid_fen: int
    #: Inpatient actual reimbursement ratio: fund paid / total cost of inpatient care (None without any).
    inpatient_ratio: Decimal | None
    largest: list[Compensation]
    by_village: list[tuple[str, int, int]]
    enrollment: dict[str, Any] | None = None
    disclosure: dict[str, Any] | None = None
    unavailable: list[str] = field(default_factory=list)


class Sources(Protocol):
    """What reporting reads from the other services (HTTP in production, fakes in tests)."""

    async def residences(self, admdvs: str) -> dict[str, str]: ...

    async def enrollment_rate(self, admdvs: str, year: int) -> dict[str, Any]: ...

    async def disclosure(self, admdvs: str, date_from: date, date_to: date) -> dict[str, Any]: ...


class HttpSources:
    def __init__(
        self, enrollment_url: str, ledger_url: str, timeout_s: float, headers: dict[str, str] | None = None
    ) -> None:
        self.enrollment_url = enrollment_url.rstrip("/")
        self.ledger_url = ledger_url.rstrip("/")
        self.timeout_s = timeout_s
        #: The settlement service's own credential (the other services' endpoints are not open).
        self.headers = headers or {}

    async def _get(self, url: str, params: dict[str, str]) -> Any:
        async with httpx.AsyncClient(timeout=self.timeout_s, headers=self.headers) as client:
            response = await client.get(url, params=params)
            response.raise_for_status()
            return response.json()

    async def residences(self, admdvs: str) -> dict[str, str]:
        rows = await self._get(f"{self.enrollment_url}/api/v1/residences", {"admdvs": admdvs})
        return {row["psn_no"]: row["address"] for row in rows}

    async def enrollment_rate(self, admdvs: str, year: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(
            f"{self.enrollment_url}/api/v1/regions/{admdvs}/enrollment-rate", {"year": str(year)}
        )
        return result

    async def disclosure(self, admdvs: str, date_from: date, date_to: date) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(
            f"{self.ledger_url}/api/v1/statements/disclosure",
            {
                "admdvs": admdvs,
                "insutype": "390",
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
            },
        )
        return result


def month_bounds(month: str) -> tuple[date, date]:
    year, number = (int(x) for x in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


async def build(session: AsyncSession, admdvs: str, month: str, sources: Sources) -> Report:
    first, last = month_bounds(month)
    start = datetime.combine(first, time(0), CHINA_TZ)
    end = datetime.combine(last + timedelta(days=1), time(0), CHINA_TZ)
    unavailable: list[str] = []
    try:
        villages = await sources.residences(admdvs)
    except (httpx.HTTPError, ValueError, KeyError):
        villages = {}
        unavailable.append("村(社区)信息 (参保登记服务不可用)")
    # Settlements that stand (a reversed one and its reversal cancel out) and paid something, by the month
    # they were settled in.
    settlements = list(
        await session.scalars(
            select(Settlement).where(
                Settlement.insuplc_admdvs == admdvs,
                Settlement.status == "settled",
                col(Settlement.setl_time) >= start,
                col(Settlement.setl_time) < end,
                col(Settlement.fund_paid_total_fen) > 0,
            )
        )
    )
    manual = list(
        await session.scalars(
            select(ManualReimbursement).where(
                ManualReimbursement.insuplc_admdvs == admdvs,
                col(ManualReimbursement.status).in_(("approved", "paid")),
                col(ManualReimbursement.decided_at) >= start,
                col(ManualReimbursement.decided_at) < end,
                col(ManualReimbursement.fund_paid_total_fen) > 0,
            )
        )
    )
    # This platform's insured treated on a peer platform (a confirmed reservation not released since): the
    # fund paid them as it pays a settlement here (settlement.interplatform.records).
    peer = [
        r
        for r in await records.in_period(session, start, end)
        if r.status == records.SETTLED and r.insuplc_admdvs == admdvs and r.fund_paid_total_fen > 0
    ]
    people = {s.psn_no for s in settlements} | {m.psn_no for m in manual} | {r.psn_no for r in peer}
    names: dict[str, str] = {}
    if people:
        for row in await session.scalars(select(Eligibility).where(col(Eligibility.psn_no).in_(people))):
            names[row.psn_no] = row.psn_name or ""

    def line(
        row: Settlement | ManualReimbursement | records.PeerRecord, source: str, reference: str
    ) -> Compensation:
        return Compensation(
            villages.get(row.psn_no, UNKNOWN_VILLAGE),
            row.psn_no,
            mask_name(names.get(row.psn_no, "")),
            row.encounter_kind,
            row.begntime.astimezone(CHINA_TZ).date(),
            source,
            reference,
            row.medfee_sumamt_fen,
            row.fund_paid_total_fen,
        )

    lines = (
        [line(s, "结算", s.setl_id) for s in settlements]
        + [line(m, "零星报销", m.claim_no) for m in manual]
        + [line(r, "跨省结算", r.setl_id) for r in peer]
    )
    lines.sort(key=lambda c: (c.village, c.psn_no, c.care_day, c.reference))
    inpatient = [c for c in lines if c.kind == "inpatient"]
    inpatient_fee = sum(c.medfee_fen for c in inpatient)
    inpatient_paid = sum(c.fund_paid_fen for c in inpatient)
    totals: dict[str, list[int]] = {}
    for c in lines:
        totals.setdefault(c.village, [0, 0])
        totals[c.village][0] += 1
        totals[c.village][1] += c.fund_paid_fen
    report = Report(
        admdvs=admdvs,
        month=month,
        compensations=lines,
        beneficiaries=len({c.psn_no for c in lines}),
        fund_paid_fen=sum(c.fund_paid_fen for c in lines),
        medfee_fen=sum(c.medfee_fen for c in lines),
        inpatient_medfee_fen=inpatient_fee,
        inpatient_fund_paid_fen=inpatient_paid,
        inpatient_ratio=(
            (Decimal(inpatient_paid) / Decimal(inpatient_fee)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            if inpatient_fee
            else None
        ),
        largest=sorted(lines, key=lambda c: (-c.fund_paid_fen, c.reference))[:LARGEST],
        by_village=[(v, n, paid) for v, (n, paid) in sorted(totals.items())],
        unavailable=unavailable,
    )
    try:
        report.enrollment = await sources.enrollment_rate(admdvs, first.year)
    except (httpx.HTTPError, ValueError, KeyError):
        unavailable.append("参保率 (参保登记服务不可用或未设定应参保人数)")
    try:
        report.disclosure = await sources.disclosure(admdvs, first, last)
    except (httpx.HTTPError, ValueError, KeyError):
        unavailable.append("基金收支 (基金账务服务不可用)")
    return report
