"""The insured platform's answers to a treating platform (docs/interface.md, "Between platforms"): the
person's eligibility, yearly totals and filings for a day of care. Reads only."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from settlement.eligibility import service as eligibility
from settlement.filings import service as filings
from settlement.policy import service as policies
from settlement.schemes import service as schemes
from shared.clock import CHINA_TZ
from shared.contracts.v1.interplatform import EligibilityAnswer, EligibilityQuery
from shared.errors import DomainError


async def eligibility_of(session: AsyncSession, query: EligibilityQuery) -> EligibilityAnswer:
    """Covered on the day, under which scheme and region, with a policy in force there; the year's totals
    as they stand (not locked: a reservation locks them) and the filings in force."""
    day = query.begntime.astimezone(CHINA_TZ).date()
    try:
        coverage, effective = await schemes.resolve(session, query.psn_no, query.insutype, day)
        person = await eligibility.covered(session, query.psn_no, coverage, day)
        await policies.in_force_with_document(session, person.insuplc_admdvs, effective, day)
    except DomainError as refused:
        return EligibilityAnswer(
            psn_no=query.psn_no, on=day, covered=False, reason=f"[{refused.code}] {refused.message}"
        )
    totals = await eligibility.peek_accumulator(session, query.psn_no, day.year, effective)
    standing = await filings.standing(session, query.psn_no, day)
    who = eligibility.require_identity(person)
    return EligibilityAnswer(
        psn_no=query.psn_no,
        on=day,
        covered=True,
        insutype=effective,
        coverage_insutype=coverage,
        insuplc_admdvs=person.insuplc_admdvs,
        psn_type=person.psn_type,
        identities=eligibility.identities_on(person, day),
        totals={name: int(getattr(totals, name)) for name in eligibility.TOTAL_COLUMNS},
        settlement_count=totals.settlement_count,
        chronic_diseases=sorted(standing.chronic_diseases),
        referral_regions=sorted(standing.referral_regions),
        referral_facilities=sorted(standing.referral_facilities),
        referral_kinds={
            place: sorted(k for p, k in standing.referral_kinds if p == place)
            for place in sorted({p for p, _ in standing.referral_kinds})
        },
        psn_name=who.psn_name,
        certno=who.certno,
        gend=who.gend,
        brdy=who.brdy,
        naty=person.naty or "",
    )
