"""When care may be dated (issue 23): a fee line or a discharge dated in the future is refused (it would
settle on this year's totals for care that has not happened), and so is a fee line of a day the person was
not covered. A fee line before admission is refused unless the policy allows pre-admission tests within
``Inpatient.pre_admission_days`` days (入院前检查), and then only inside cover like any other line. Each
refusal names the line and the date; nothing is stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility
from settlement.encounters.models import Encounter
from settlement.encounters.schemas import FeeUpload
from settlement.policy import service as policies
from settlement.schemes import service as schemes
from settlement.settlements import service as settlements
from shared.clock import CHINA_TZ, now_china
from shared.errors import DomainError

#: A time may run ahead of the platform's clock by this much (HIS clocks drift); beyond it, it is future.
MAX_CLOCK_SKEW = timedelta(minutes=10)


def _future(at: datetime) -> bool:
    return at - now_china() > MAX_CLOCK_SKEW


def _fee_day(line: FeeUpload) -> date:
    """The line's day in China; a line dated in the future is refused."""
    if _future(line.fee_ocur_time):
        raise DomainError(
            f"费用明细 {line.feedetl_sn} 的发生时间晚于当前时间", code="FUTURE_TIME", status_code=422
        )
    return line.fee_ocur_time.astimezone(CHINA_TZ).date()


def require_discharge_not_future(endtime: datetime) -> None:
    if _future(endtime):
        raise DomainError(
            f"出院时间 {endtime.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} 晚于当前时间",
            code="FUTURE_TIME",
            status_code=422,
        )


async def require_fee_dates(
    session: AsyncSession,
    encounter: Encounter,
    lines: Sequence[FeeUpload],
    peers: settlements.PeerRoute | None = None,
) -> None:
    """Every line dated no later than now, on a day the person was covered, and not before the
    admission or visit except for pre-admission tests the policy allows. ``peers``: a person insured on a
    peer platform (跨省) is covered as the peer says, day by day; their policy is not held here, so no
    pre-admission test is allowed."""
    admitted = encounter.begntime.astimezone(CHINA_TZ).date()
    if peers is not None and peers.hosts(encounter.insuplc_admdvs):
        await _peer_fee_dates(encounter, lines, peers)
        return
    allowed_from: date | None = None
    for line in lines:
        day = _fee_day(line)
        if day < admitted:
            if allowed_from is None:
                _, document = await policies.in_force_with_document(
                    session, encounter.insuplc_admdvs, encounter.insutype, admitted
                )
                allowed_from = admitted - timedelta(days=document.inpatient.pre_admission_days)
            if day < allowed_from:
                raise DomainError(
                    f"费用明细 {line.feedetl_sn} 发生于 {day}，早于入院/就诊日期 {admitted}"
                    f"（政策允许入院前 {(admitted - allowed_from).days} 日内的检查费用）",
                    code="FEE_BEFORE_ADMISSION",
                    status_code=422,
                )
    years: dict[int, dict[str, Eligibility]] = {}
    for day in sorted({line.fee_ocur_time.astimezone(CHINA_TZ).date() for line in lines}):
        if day.year not in years:
            years[day.year] = await schemes.year_coverage(session, encounter.psn_no, day.year)
        rows = years[day.year]
        coverage, _ = await schemes.resolve(session, encounter.psn_no, encounter.insutype, day, rows)
        try:
            await eligibility.covered(session, encounter.psn_no, coverage, day, rows)
        except DomainError as exc:
            raise DomainError(
                f"费用发生日期 {day} 不在参保待遇享受期内，不能结算：{exc.message}",
                code="FEE_NOT_COVERED",
                status_code=422,
            ) from exc


async def _peer_fee_dates(
    encounter: Encounter, lines: Sequence[FeeUpload], peers: settlements.PeerRoute
) -> None:
    admitted = encounter.begntime.astimezone(CHINA_TZ).date()
    first: dict[date, datetime] = {}
    for line in lines:
        day = _fee_day(line)
        if day < admitted:
            raise DomainError(
                f"费用明细 {line.feedetl_sn} 发生于 {day}，早于入院/就诊日期 {admitted}"
                "（跨省异地就医不结算入院前费用）",
                code="FEE_BEFORE_ADMISSION",
                status_code=422,
            )
        first.setdefault(day, line.fee_ocur_time)
    for day, at in sorted(first.items()):
        asked = settlements.PeerAdmission(
            msgid=f"F{encounter.mdtrt_id}"[:40], psn_no=encounter.psn_no, insutype=encounter.insutype,
            insuplc_admdvs=encounter.insuplc_admdvs, begntime=at, med_type=encounter.med_type,
            mdtrt_cert_type=encounter.mdtrt_cert_type, mdtrt_cert_no=encounter.mdtrt_cert_no,
        )  # fmt: skip
        try:
            await peers.admit(asked)
        except DomainError as exc:
            if exc.code != "NOT_COVERED":
                raise
            raise DomainError(
                f"费用发生日期 {day} 不在参保待遇享受期内，不能结算：{exc.message}",
                code="FEE_NOT_COVERED",
                status_code=422,
            ) from exc
