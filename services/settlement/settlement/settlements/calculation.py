"""Every check and the calculation of a settlement, without writing anything: what a settlement, a
pre-settlement and a manual claim share. The records it builds are what ``settle`` writes and what a
pre-settlement shows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from settlement.adjudication.engine import (
    Adjudication,
    Encounter,
    FeeLine,
    NotEligible,
    YearToDate,
    adjudicate,
    flag_columns,
)
from settlement.catalogue import service as catalogue
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility
from settlement.filings import service as filings
from settlement.institutions import service as institutions
from settlement.institutions.models import Institution
from settlement.policy import service as policies
from settlement.schemes import service as schemes
from settlement.settlements import stays
from settlement.settlements.claims import MAX_CLOCK_SKEW, Claim, check_line_amounts
from settlement.settlements.models import Settlement, SettlementFund, VoucherUse
from settlement.supervision import service as supervision
from shared import voucher
from shared.clock import CHINA_TZ, now_china
from shared.db import flush_unique, transient, utcnow
from shared.errors import DomainError

YTD_FIELDS = eligibility.TOTAL_COLUMNS


@dataclass
class Prepared:
    claim: Claim
    institution: Institution
    person: Eligibility
    policy_id: int
    result: Adjudication
    care_day: date


async def prepare(
    session: AsyncSession, claim: Claim, totals: eligibility.Totals, year_rows: dict[str, Eligibility]
) -> Prepared:
    """Every check and the calculation, without writing anything. ``year_rows``: the person's coverage
    rows of the year of care (``with_scheme``)."""
    if claim.begntime - now_china() > MAX_CLOCK_SKEW:
        raise DomainError("就诊/购药时间晚于当前时间", code="FUTURE_TIME", status_code=422)
    check_line_amounts(claim)
    care_day = claim.begntime.astimezone(CHINA_TZ).date()
    institution = await settling_institution(session, claim, care_day)
    person = await eligibility.covered(
        session, claim.psn_no, claim.coverage_insutype or claim.insutype, care_day, year_rows
    )
    await check_certificate(session, claim.mdtrt_cert_type, claim.mdtrt_cert_no, person)
    await supervision.require_not_self_advance(session, person.psn_no, care_day)
    if person.insuplc_admdvs != claim.insuplc_admdvs:
        raise DomainError(
            f"参保地区划 {claim.insuplc_admdvs} 与人员参保地 {person.insuplc_admdvs} 不符",
            code="ADMDVS_MISMATCH",
            status_code=422,
        )
    policy, document = await policies.in_force_with_document(
        session, person.insuplc_admdvs, claim.insutype, care_day
    )
    entries = await catalogue.find_entries(session, {line.med_list_codg for line in claim.lines}, care_day)
    ytd = YearToDate(*(getattr(totals, name) for name in YTD_FIELDS))
    # Read under the accumulator's lock (``stays``): a part reversed meanwhile is not counted.
    stay = await stays.so_far(session, claim.mdtrt_id) if claim.continuing_stay and claim.mdtrt_id else None
    out_of_area = institution.admdvs != person.insuplc_admdvs
    # The filings in force on the day of care (docs/domain.md, "Filings"), read only where a filing can
    # matter: chronic care, an injury (22) or referral (23) stay, care outside the insured region. An
    # ordinary purchase or stay at home makes no extra round trip for them.
    filings_matter = claim.kind == "chronic" or claim.med_type.startswith(("22", "23")) or out_of_area
    encounter = Encounter(
        kind=claim.kind,
        service_date=care_day,
        institution_level=institution.hosp_lv,
        admission_sequence=ytd.admissions + 1,
        out_of_area=out_of_area,
        filed=claim.filed,
        delivery_type=claim.delivery_type,
        chronic_disease=claim.chronic_disease,
        stay=stay,
        standing=await filings.standing(session, person.psn_no, care_day) if filings_matter else None,
        med_type=claim.med_type,
        fixmedins_code=institution.fixmedins_code,
        mdtrtarea_admdvs=institution.admdvs,
    )
    try:
        result = adjudicate(
            [
                FeeLine(x.feedetl_sn, x.med_list_codg, x.cnt, x.pric, x.amount_fen, x.hosp_appr_flag)
                for x in claim.lines
            ],
            entries,
            encounter,
            eligibility.identities_on(person, care_day),
            document,
            ytd,
        )
    except NotEligible as exc:
        raise DomainError(str(exc), code="NOT_ELIGIBLE", status_code=422) from exc
    assert policy.id is not None
    return Prepared(claim, institution, person, policy.id, result, care_day)


async def settling_institution(session: AsyncSession, claim: Claim, care_day: date) -> Institution:
    """The treating institution, of a kind the transaction settles at, in the envelope's treating region
    and able to settle on the day (就医地管理): checked alike for this platform's insured and a peer's."""
    institution = await institutions.settling(session, claim.fixmedins_code)
    if institution.fixmedins_type not in claim.institution_types:
        if claim.institution_types == ("2",):
            raise DomainError("药店结算只适用于定点零售药店", code="NOT_A_PHARMACY", status_code=422)
        raise DomainError("门诊和住院结算只适用于定点医疗机构", code="NOT_A_HOSPITAL", status_code=422)
    if institution.admdvs != claim.mdtrtarea_admvs:
        raise DomainError(
            f"就医地区划 {claim.mdtrtarea_admvs} 与机构所在区划 {institution.admdvs} 不符",
            code="ADMVS_MISMATCH",
            status_code=422,
        )
    await institutions.require_can_settle_on(session, institution, care_day)
    return institution


def coverage_key(claim: Claim) -> eligibility.CoverageKey:
    """What ``with_scheme(..., lock=True)`` reads for ``claim``: the coverage of the year of care, the
    accumulator of the scheme requested, and a card swipe's card (mdtrt_cert_type 03), read in the same
    statement (``eligibility.find_card`` then has it)."""
    card_no = claim.mdtrt_cert_no.strip() if claim.mdtrt_cert_type == "03" else None
    year = claim.begntime.astimezone(CHINA_TZ).year
    return eligibility.CoverageKey(claim.psn_no, year, claim.insutype, card_no)


async def with_scheme(
    session: AsyncSession, claim: Claim, *, lock: bool = False
) -> tuple[Claim, dict[str, Eligibility], eligibility.Totals | None]:
    """The claim under the scheme the person settles under on the day of care (dual track, switch-over),
    the person's coverage rows of that year and, with ``lock``, the accumulator of the claim's scheme read
    and locked beside them (None: not read, or none yet)."""
    day = claim.begntime.astimezone(CHINA_TZ).date()
    locked = None
    if lock:
        key = coverage_key(claim)
        rows, locked = await eligibility.coverage_and_lock(
            session, key.psn_no, key.year, key.insutype, card_no=key.card_no
        )
    else:
        rows = await schemes.year_coverage(session, claim.psn_no, day.year)
    coverage, effective = await schemes.resolve(session, claim.psn_no, claim.insutype, day, rows)
    if (coverage, effective) == (claim.insutype, claim.insutype):
        return claim, rows, locked
    changed = replace(
        claim, insutype=effective, coverage_insutype=coverage if coverage != effective else None
    )
    # Settled under another scheme than requested: its accumulator is locked by the caller.
    return changed, rows, locked if effective == claim.insutype else None


def records(
    prepared: Prepared, *, setl_id: str, mdtrt_id: str, at: datetime, status: str
) -> tuple[Settlement, list[SettlementFund], list[dict[str, Any]]]:
    """The settlement record, its fund shares and its lines (as rows) for a calculation: what ``settle``
    writes and what a pre-settlement shows without writing."""
    claim, result = prepared.claim, prepared.result
    # Built as transient records (``shared.db.transient``): they are written by Core statements
    # (``NewSettlement``) and read as attributes; SQLModel's constructor cost more than the calculation.
    settlement = transient(
        Settlement,
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        msgid=claim.msgid,
        request_sha256=claim.digest,
        fixmedins_code=prepared.institution.fixmedins_code,
        institution_level=prepared.institution.hosp_lv,
        psn_no=prepared.person.psn_no,
        insutype=claim.insutype,
        psn_type=prepared.person.psn_type,
        insuplc_admdvs=prepared.person.insuplc_admdvs,
        mdtrtarea_admvs=claim.mdtrtarea_admvs,
        med_type=claim.med_type,
        clr_type=claim.clr_type,
        mdtrt_cert_type=claim.mdtrt_cert_type,
        invono=claim.invono,
        policy_id=prepared.policy_id,
        begntime=claim.begntime,
        setl_time=at,
        medfee_sumamt_fen=result.medfee_sumamt_fen,
        fully_self_paid_fen=result.fully_self_paid_fen,
        over_price_cap_fen=result.over_price_cap_fen,
        self_pay_first_fen=result.self_pay_first_fen,
        policy_range_fen=result.policy_range_fen,
        deductible_fen=result.deductible_fen,
        pool_ratio=result.pool_ratio,
        pooled_fund_paid_fen=result.pooled_fen,
        catastrophic_paid_fen=result.catastrophic_fen,
        assistance_paid_fen=result.assistance_fen,
        fund_paid_total_fen=result.fund_paid_total_fen,
        personal_burden_fen=result.personal_burden_fen,
        account_paid_fen=0,
        cash_paid_fen=result.cash_paid_fen,
        calc_trace="\n".join(result.trace),
        encounter_kind=claim.kind,
        status=status,
        ytd_delta={name: getattr(result.delta, name) for name in YTD_FIELDS},
        layers=result.layers,
    )
    funds = [
        transient(
            SettlementFund,
            setl_id=setl_id,
            fund_pay_type=share.fund_pay_type,
            policy_range_fen=share.base_fen,
            payable_limit_fen=share.room_fen,
            paid_fen=share.paid_fen,
            calc_trace=share.trace,
        )
        for share in result.funds
    ]
    wire_lines = {x.feedetl_sn: x for x in claim.lines}
    # Lines as rows (one multi-row INSERT): building ORM objects cost more than the calculation itself.
    lines = [
        {
            "setl_id": setl_id,
            "feedetl_sn": line.line.feedetl_sn,
            "med_list_codg": line.line.med_list_codg,
            "medins_list_codg": wire_lines[line.line.feedetl_sn].medins_list_codg,
            "cnt": line.line.cnt,
            "pric": line.line.pric,
            "amount_fen": line.line.amount_fen,
            "price_cap": line.price_cap,
            "selfpay_prop": line.selfpay_prop,
            "chrgitm_lv": line.chrgitm_lv,
            "med_chrgitm_type": line.med_chrgitm_type,
            "fully_self_paid_fen": line.fully_self_paid_fen,
            "over_price_cap_fen": line.over_price_cap_fen,
            "self_pay_first_fen": line.self_pay_first_fen,
            "policy_range_fen": line.policy_range_fen,
            "memo": line.memo[:200],
            **flag_columns(line.flags),
            "prd_days": wire_lines[line.line.feedetl_sn].prd_days,
        }
        for line in result.lines
    ]
    return settlement, funds, lines


def _voucher_used() -> DomainError:
    return DomainError(
        "医保电子凭证已使用过，请患者刷新电子凭证二维码后重新出示", code="E_VOUCHER_USED", status_code=422
    )


async def use_voucher(
    session: AsyncSession, cert_type: str, cert_no: str, *, psn_no: str, msgid: str, fixmedins_code: str
) -> None:
    """Record the use of an e-voucher token (checked by ``check_certificate``) with what it was used for,
    in the caller's transaction; a second use is refused ``E_VOUCHER_USED`` (its transaction rolls back)."""
    if cert_type != "01":
        return
    token = voucher.decode(cert_no, utcnow()).token
    session.add(VoucherUse(token=token, psn_no=psn_no, msgid=msgid, fixmedins_code=fixmedins_code))
    await flush_unique(session, _voucher_used())


def move(totals: eligibility.Totals, delta: YearToDate | dict[str, int], sign: int) -> None:
    """One settlement (+1) or its reversal (-1) on the person's year-to-date totals."""
    totals.move(
        delta if isinstance(delta, dict) else {name: getattr(delta, name) for name in YTD_FIELDS}, sign
    )
    totals.settlement_count += sign


async def check_certificate(session: AsyncSession, cert_type: str, cert_no: str, person: Eligibility) -> None:
    """The certificate presented must be the person's: the ID number (02), a social-security card (03)
    that is registered to them and neither reported lost nor replaced, or an e-voucher token (01) of this
    platform, not expired, issued to them, not revoked (the revocations this service learnt from
    ``enrollment.voucher_revoked``: docs/architecture.md, "E-voucher revocation") and not used before
    (shared/voucher.py). A token is used by ``use_voucher``, in the same transaction."""
    if cert_type == "01":
        try:
            issued = voucher.decode(cert_no, utcnow())
        except voucher.VoucherError as exc:
            if exc.code == "E_VOUCHER_EXPIRED":
                raise DomainError(exc.message, code="E_VOUCHER_EXPIRED", status_code=422) from exc
            raise DomainError(exc.message, code="E_VOUCHER", status_code=422) from exc
        if issued.psn_no != person.psn_no:
            raise DomainError("医保电子凭证不属于该人员", code="E_VOUCHER_PERSON", status_code=422)
        if await eligibility.voucher_revoked(session, issued.token):
            raise DomainError("医保电子凭证已被撤销", code="E_VOUCHER_REVOKED", status_code=422)
        if await session.get(VoucherUse, issued.token) is not None:
            raise _voucher_used()
        return
    if cert_type == "02" and cert_no.strip().upper() != person.certno:
        raise DomainError("就诊凭证号与人员身份证号不符", code="CERT_MISMATCH", status_code=422)
    if cert_type == "03":
        card_no = cert_no.strip()
        card = await eligibility.find_card(session, card_no)
        # A card of someone else is refused like an unknown one: its status is not this cashier's business.
        if card is None or card.psn_no != person.psn_no:
            raise DomainError(
                f"社保卡号 {card_no} 未登记或不属于该人员", code="CERT_MISMATCH", status_code=422
            )
        if card.status != "active":
            raise DomainError("该社保卡已挂失或已换卡，不能结算", code="CARD_NOT_ACTIVE", status_code=422)
