"""2001 人员待遇享受检查 (docs/interface.md, "Filings"; docs/domain.md, "Filings"): what the person may draw
on for the care asked, on a day (today, Beijing time, unless the HIS names the time of care): covered by the
scheme, a policy in force, and the filings the policy requires for that care in force. One row per fund
the care could reach (390100, 390200 when the policy counts that kind of care, 610100 for each identity
with assistance rules), with the reason when it may not (``trt_chk_rslt``). Nothing is written."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from settlement.adjudication.filings import Care, apply, best_kind, refusal
from settlement.eligibility import service as eligibility
from settlement.filings import service as filings
from settlement.filings.schemas import Entitlement, EntitlementRow
from settlement.institutions.models import Institution
from settlement.policy import service as policies
from shared.errors import DomainError

POOLED, CATASTROPHIC, ASSISTANCE = "390100", "390200", "610100"
#: 待遇检查类型, the platform's: which check decided the row (docs/interface.md, "Filings").
CHECK_COVERAGE, CHECK_CHRONIC, CHECK_DESIGNATED, CHECK_REFERRAL, CHECK_INJURY, CHECK_IDENTITY = (
    "01", "02", "03", "04", "05", "06",
)  # fmt: skip
_CHECK_OF = {
    "CHRONIC_NOT_FILED": CHECK_CHRONIC,
    "CHRONIC_NOT_DESIGNATED": CHECK_DESIGNATED,
    "REFERRAL_NOT_FILED": CHECK_REFERRAL,
    "INJURY_NOT_FILED": CHECK_INJURY,
    "EXCLUDED_THIRD_PARTY": CHECK_INJURY,
    "EXCLUDED_WORK_INJURY": CHECK_INJURY,
}
_MAJOR = ("chronic", "inpatient", "maternity")


def kind_of(med_type: str) -> str:
    """The kind of care a med_type asks for, as the engine reads it."""
    if med_type.startswith("52"):
        return "maternity"
    if med_type.startswith("2"):
        return "inpatient"
    if med_type.startswith("14"):
        return "chronic"
    if med_type.startswith("41"):
        return "pharmacy"
    return "outpatient"


async def check(
    session: AsyncSession,
    psn_no: str,
    insutype: str,
    med_type: str,
    fixmedins_code: str,
    on: date,
    dise_codg: str | None = None,
) -> Entitlement:
    kind = kind_of(med_type)
    try:
        person = await eligibility.covered(session, psn_no, insutype, on)
        _, document = await policies.in_force_with_document(session, person.insuplc_admdvs, insutype, on)
    except DomainError as exc:
        refused = EntitlementRow(
            fund_pay_type=POOLED, trt_chk_type=CHECK_COVERAGE, trt_enjymnt_flag="0", begndate=None,
            enddate=None, trt_chk_rslt=f"[{exc.code}] {exc.message}",
        )  # fmt: skip
        return Entitlement(psn_no=psn_no, on=on, rows=[refused])
    institution = await session.scalar(
        select(Institution).where(Institution.fixmedins_code == fixmedins_code)
    )
    region = institution.admdvs if institution is not None else person.insuplc_admdvs
    why = None
    check_type = CHECK_COVERAGE
    dcla_type = None
    if document.filings is not None:
        standing = await filings.standing(session, psn_no, on)
        care = Care(kind, med_type, fixmedins_code, region, dise_codg if kind == "chronic" else None)
        not_allowed = refusal(care, standing, document.filings)
        if not_allowed is not None:
            why = f"[{not_allowed.code}] {not_allowed.message}"
            check_type = _CHECK_OF.get(not_allowed.code, CHECK_COVERAGE)
        else:
            # Care a referral / out-of-area filing covers: the kind whose filed ratio a settlement applies.
            dcla_type = best_kind(apply(care, standing, document.filings), document)
    if kind == "chronic" and (document.chronic is None or dise_codg not in document.chronic.diseases):
        why, check_type = f"病种 {dise_codg} 不在参保地门诊慢特病病种范围内", CHECK_CHRONIC
    flag = "0" if why else "1"

    def row(fund: str, check: str = check_type, reason: str | None = why) -> EntitlementRow:
        return EntitlementRow(
            fund_pay_type=fund,
            trt_chk_type=check,
            trt_enjymnt_flag="0" if reason else "1",
            begndate=person.coverage_begin,
            enddate=person.coverage_end,
            trt_chk_rslt=reason,
            dcla_type=None if reason else dcla_type,
        )

    rows = [row(POOLED)]
    if document.catastrophic is not None and kind in document.catastrophic.kinds:
        rows.append(row(CATASTROPHIC))
    if kind in _MAJOR:
        for identity in eligibility.identities_on(person, on):
            if identity in document.assistance:
                rows.append(row(ASSISTANCE, CHECK_IDENTITY if flag == "1" else check_type))
    return Entitlement(psn_no=psn_no, on=on, rows=rows)
