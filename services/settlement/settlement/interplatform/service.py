"""The insured platform's answers to a treating platform (docs/interface.md, "Between platforms"): the
person's eligibility, yearly totals and filings for a day of care. Reads only."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility, Person
from settlement.filings import service as filings
from settlement.policy import service as policies
from settlement.schemes import service as schemes
from shared.clock import CHINA_TZ
from shared.contracts.v1.interplatform import (
    EligibilityAnswer,
    EligibilityQuery,
    PeerEnrollment,
    PeerIdentity,
    PersonAnswer,
    PersonQuery,
)
from shared.errors import DomainError, NotFound


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


async def person_of(session: AsyncSession, query: PersonQuery) -> PersonAnswer:
    """The person with the ID number (or active card) as this platform holds them: identity, every year's
    cover (a terminated one included, so the treating side shows how it ended) and identity categories.
    An unknown person or card is 404 ``PERSON_NOT_FOUND``; a lost or replaced card 422 ``CARD_NOT_ACTIVE``."""
    if query.card_no is not None:
        card = await eligibility.find_card(session, query.card_no)
        if card is None or (query.card_sn is not None and card.card_sn != query.card_sn):
            raise NotFound("参保地平台未查询到该社保卡的参保人员", code="PERSON_NOT_FOUND")
        if card.status != "active":
            raise DomainError("该社保卡已挂失或已换卡，不能使用", code="CARD_NOT_ACTIVE", status_code=422)
        where = Eligibility.psn_no == card.psn_no
    else:
        where = Eligibility.certno == (query.certno or "").upper()
    rows = list(await session.scalars(select(Eligibility).where(where)))
    if not rows:
        raise NotFound("参保地平台未查询到该人员的参保信息", code="PERSON_NOT_FOUND")
    psn_no = rows[0].psn_no
    person = await session.get(Person, psn_no)
    latest = max(rows, key=lambda r: (r.year, r.coverage_begin))
    who = eligibility.require_identity(latest)
    return PersonAnswer(
        psn_no=psn_no,
        certno=who.certno,
        psn_name=who.psn_name,
        gend=who.gend,
        brdy=who.brdy,
        naty=(person.naty if person is not None else None) or latest.naty or "",
        enrollments=[
            PeerEnrollment(
                year=r.year,
                insutype=r.insutype,
                psn_type=r.psn_type,
                insuplc_admdvs=r.insuplc_admdvs,
                status=r.status,
                coverage_begin=r.coverage_begin,
                coverage_end=r.coverage_end,
                terminated_on=r.terminated_on,
                continuous_years=r.continuous_years,
                psn_insu_date=r.psn_insu_date,
            )
            for r in sorted(rows, key=lambda r: (r.year, r.insutype))
        ],
        identities=[
            PeerIdentity(
                psn_idet_type=str(i["psn_idet_type"]),
                begin_date=date.fromisoformat(i["begin_date"]),
                end_date=date.fromisoformat(i["end_date"]) if i.get("end_date") else None,
            )
            for i in latest.identities
        ],
    )
