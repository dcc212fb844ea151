"""What an institution may read back (5201-5206; docs/interface.md, "Queries"): its own visits and their
settled fee lines; a person's chronic-disease drug records and yearly totals, which any institution
treating the person reads (the interface names the dispensing institution on each drug record: checking
what another institution already dispensed is the point of 5205)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.catalogue.downloads import ITEM_TYPES
from settlement.catalogue.mappings import applies
from settlement.catalogue.models import CatalogueItem, CatalogueMapping
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility, YearAccumulator
from settlement.encounters.models import Encounter, EncounterDiagnosis, FeeLineRecord
from settlement.institutions.models import Institution
from settlement.policy import service as policies
from settlement.settlements.models import Settlement, SettlementLine
from shared.clock import CHINA_TZ
from shared.contracts.v1.queries import AccumulationOut, DiagnosisOut, FeeDetailOut, Operator, VisitOut
from shared.errors import DomainError, NotFound

#: 医疗收费项目类别 of drugs: 09 西药费, 10 中药饮片费, 11 中成药费.
DRUG_CHARGE_TYPES = ("09", "10", "11")
#: 14 门诊慢特病 and its provincial sub-codes (140104 门诊慢病, 140201 门诊特病...).
CHRONIC_MED_TYPE_PREFIX = "14"
#: 目录类别 of each item list (the lists the 13xx downloads split the catalogue into by 医疗收费项目类别):
#: 101 西药中成药 (1301), 102 中药饮片 (1302), 201 医疗服务项目 (1305), 301 医用耗材 (1306).
LIST_TYPES = {"drugs": "101", "herbs": "102", "services": "201", "materials": "301"}
_LIST_TYPE_OF = {t: LIST_TYPES[name] for name, types in ITEM_TYPES.items() for t in types}


@dataclass(frozen=True)
class VisitFilter:
    psn_no: str
    fixmedins_code: str
    begntime: datetime | None = None
    endtime: datetime | None = None
    med_type: str | None = None
    mdtrt_id: str | None = None


async def visits(session: AsyncSession, f: VisitFilter) -> list[VisitOut]:
    """The institution's encounters of the person begun in the period, and its pharmacy purchases (a
    purchase is its own visit: 2102 makes its ``mdtrt_id``), oldest first."""
    found: list[VisitOut] = []
    query = select(Encounter).where(
        Encounter.psn_no == f.psn_no, Encounter.fixmedins_code == f.fixmedins_code
    )
    if f.mdtrt_id:
        query = query.where(Encounter.mdtrt_id == f.mdtrt_id)
    if f.med_type:
        query = query.where(Encounter.med_type == f.med_type)
    if f.begntime:
        query = query.where(Encounter.begntime >= f.begntime)
    if f.endtime:
        query = query.where(Encounter.begntime <= f.endtime)
    encounters = (await session.scalars(query)).all()
    discharge_main = await _discharge_main_diagnoses(session, [e.mdtrt_id for e in encounters])
    for e in encounters:
        found.append(
            VisitOut(
                mdtrt_id=e.mdtrt_id,
                psn_no=e.psn_no,
                fixmedins_code=e.fixmedins_code,
                ipt_otp_no=e.ipt_otp_no,
                insutype=e.insutype,
                med_type=e.med_type,
                begntime=e.begntime,
                endtime=e.endtime,
                dise_codg=e.dise_codg,
                dise_name=e.dise_name,
                matn_type=e.matn_type,
                status=e.status,
                setting=e.setting,
                mdtrt_cert_type=e.mdtrt_cert_type,
                insuplc_admdvs=e.insuplc_admdvs,
                dscg_maindiag_code=discharge_main.get(e.mdtrt_id, (None, None))[0],
                dscg_maindiag_name=discharge_main.get(e.mdtrt_id, (None, None))[1],
                ipt_days=_stay_days(e.begntime, e.endtime) if e.setting == "inpatient" else None,
                details=e.details,
                registered_by=Operator(opter_id=e.opter_id, opter_name=e.opter_name, opt_time=e.created_at),
            )
        )
    purchases = select(Settlement).where(
        Settlement.psn_no == f.psn_no,
        Settlement.fixmedins_code == f.fixmedins_code,
        Settlement.encounter_kind == "pharmacy",
        Settlement.status != "reversal",
    )
    if f.mdtrt_id:
        purchases = purchases.where(Settlement.mdtrt_id == f.mdtrt_id)
    if f.med_type:
        purchases = purchases.where(Settlement.med_type == f.med_type)
    if f.begntime:
        purchases = purchases.where(Settlement.begntime >= f.begntime)
    if f.endtime:
        purchases = purchases.where(Settlement.begntime <= f.endtime)
    for s in (await session.scalars(purchases)).all():
        found.append(
            VisitOut(
                mdtrt_id=s.mdtrt_id,
                psn_no=s.psn_no,
                fixmedins_code=s.fixmedins_code,
                ipt_otp_no=None,
                insutype=s.insutype,
                med_type=s.med_type,
                begntime=s.begntime,
                endtime=s.setl_time,
                dise_codg=None,
                dise_name=None,
                matn_type=None,
                status=s.status,
                setting="pharmacy",
                mdtrt_cert_type=s.mdtrt_cert_type,
                insuplc_admdvs=s.insuplc_admdvs,
                registered_by=Operator(opt_time=s.created_at),
            )
        )
    people = await _people(session, f.psn_no)
    return [
        await _with_person(session, v, people) for v in sorted(found, key=lambda v: (v.begntime, v.mdtrt_id))
    ]


def _stay_days(begntime: datetime, endtime: datetime | None) -> int | None:
    """住院天数 of a discharged stay: the days from the admission day to the discharge day in Beijing (算入
    不算出), a stay begun and ended the same day counting 1; None while the stay is open."""
    if endtime is None:
        return None
    days = (endtime.astimezone(CHINA_TZ).date() - begntime.astimezone(CHINA_TZ).date()).days
    return max(days, 1)


async def _discharge_main_diagnoses(
    session: AsyncSession, mdtrt_ids: list[str]
) -> dict[str, tuple[str, str]]:
    """Per stay, its discharge's main diagnosis (2402 ``diseinfo`` row flagged main) as code and name."""
    if not mdtrt_ids:
        return {}
    rows = await session.scalars(
        select(EncounterDiagnosis)
        .where(
            col(EncounterDiagnosis.mdtrt_id).in_(mdtrt_ids),
            EncounterDiagnosis.inout_diag_type == "2",
            EncounterDiagnosis.maindiag_flag == "1",
        )
        .order_by(col(EncounterDiagnosis.diag_srt_no), col(EncounterDiagnosis.id))
    )
    found: dict[str, tuple[str, str]] = {}
    for r in rows:
        found.setdefault(r.mdtrt_id, (r.diag_code, r.diag_name))
    return found


async def _people(session: AsyncSession, psn_no: str) -> dict[tuple[str, int], Eligibility]:
    rows = await session.scalars(select(Eligibility).where(Eligibility.psn_no == psn_no))
    return {(r.insutype, r.year): r for r in rows}


async def _with_person(
    session: AsyncSession, visit: VisitOut, people: dict[tuple[str, int], Eligibility]
) -> VisitOut:
    """The visit with the person as covered in the visit's year and insurance type: identity, 人员类别,
    age on the day the visit began, and whether an identity they hold that day is one the policy in force
    gives medical assistance."""
    day = visit.begntime.astimezone(CHINA_TZ).date()
    # The cover of the visit's insurance type; a visit settled under the merged scheme a legacy cover
    # switched to (settlement.schemes) reads the person's cover of that year.
    person = people.get((visit.insutype, day.year)) or next(
        (row for (_, year), row in sorted(people.items()) if year == day.year), None
    )
    if person is None:
        return visit
    age = None
    if person.brdy is not None:
        age = day.year - person.brdy.year - ((day.month, day.day) < (person.brdy.month, person.brdy.day))
    return visit.model_copy(
        update={
            "certno": person.certno,
            "psn_name": person.psn_name,
            "gend": person.gend,
            "naty": person.naty,
            "brdy": person.brdy,
            "age": age,
            "psn_type": person.psn_type,
            "maf_psn_flag": "1" if await _assisted(session, person, visit.insuplc_admdvs, day) else "0",
        }
    )


async def _assisted(session: AsyncSession, person: Eligibility, admdvs: str, day: date) -> bool:
    held = eligibility.identities_on(person, day)
    if not held:
        return False
    try:
        _, document = await policies.in_force_with_document(session, admdvs, person.insutype, day)
    except DomainError:
        return False  # no policy in force that day: none assists
    return any(code in document.assistance for code in held)


async def diagnoses(
    session: AsyncSession, psn_no: str, fixmedins_code: str, mdtrt_id: str
) -> list[DiagnosisOut]:
    """5202: every diagnosis of one of the institution's visits of the person, the admission's (or the
    visit's) first, then the discharge's, each by its 诊断排序号. A visit whose HIS sent no rows answers its
    main diagnosis (``dise_codg``) alone, a pharmacy purchase none. Not the caller's visit of that person:
    ``ENCOUNTER_NOT_FOUND`` (nothing of it is shown)."""
    found = await visits(session, VisitFilter(psn_no, fixmedins_code, mdtrt_id=mdtrt_id))
    if not found:
        raise NotFound(f"就诊记录不存在: {mdtrt_id}", code="ENCOUNTER_NOT_FOUND")
    (visit,) = found
    rows = (
        await session.scalars(
            select(EncounterDiagnosis)
            .where(EncounterDiagnosis.mdtrt_id == mdtrt_id)
            .order_by(
                col(EncounterDiagnosis.inout_diag_type),
                col(EncounterDiagnosis.diag_srt_no),
                col(EncounterDiagnosis.id),
            )
        )
    ).all()
    if rows:
        return [
            DiagnosisOut(
                diag_info_id=str(r.id),
                mdtrt_id=r.mdtrt_id,
                psn_no=visit.psn_no,
                inout_diag_type=r.inout_diag_type,
                diag_type=r.diag_type,
                maindiag_flag=r.maindiag_flag,
                diag_srt_no=r.diag_srt_no,
                diag_code=r.diag_code,
                diag_name=r.diag_name,
                adm_cond=r.adm_cond,
                diag_dept=r.diag_dept,
                dise_dor_no=r.dise_dor_no,
                dise_dor_name=r.dise_dor_name,
                diag_time=r.diag_time,
                vali_flag=r.vali_flag,
                recorded_by=Operator(opter_id=r.opter_id, opter_name=r.opter_name, opt_time=r.created_at),
            )
            for r in rows
        ]
    if not visit.dise_codg:
        return []
    return [
        DiagnosisOut(
            diag_info_id="",
            mdtrt_id=visit.mdtrt_id,
            psn_no=visit.psn_no,
            inout_diag_type="1",
            diag_type="1",
            maindiag_flag="1",
            diag_srt_no=1,
            diag_code=visit.dise_codg,
            diag_name=visit.dise_name or "",
            recorded_by=visit.registered_by,
        )
    ]


async def fee_details(
    session: AsyncSession, psn_no: str, fixmedins_code: str, mdtrt_id: str, setl_id: str | None
) -> list[FeeDetailOut]:
    """5204: the settled lines of one of the institution's visits: of the settlement named, else of the
    visit's settlements in force (a reversed one no longer counts; a reversal record has no lines)."""
    query = select(Settlement).where(Settlement.mdtrt_id == mdtrt_id, Settlement.status != "reversal")
    if setl_id:
        query = query.where(Settlement.setl_id == setl_id)
    else:
        query = query.where(Settlement.status == "settled")
    settlements = (await session.scalars(query)).all()
    if setl_id and not settlements:
        raise NotFound(f"结算记录不存在: {setl_id}", code="SETTLEMENT_NOT_FOUND")
    for s in settlements:
        if s.fixmedins_code != fixmedins_code:
            raise DomainError("只能查询本机构的结算", code="NOT_YOUR_SETTLEMENT", status_code=403)
        if s.psn_no != psn_no:
            raise DomainError(
                f"人员编号 {psn_no} 与就诊 {mdtrt_id} 不符", code="PSN_MISMATCH", status_code=422
            )
    return await _lines(session, settlements)


async def chronic_drugs(
    session: AsyncSession, psn_no: str, begntime: datetime, endtime: datetime | None
) -> list[FeeDetailOut]:
    """5205: the drugs settled for the person under a chronic-disease med_type (14...) in the period, at
    any institution, settlements in force only."""
    query = select(Settlement).where(
        Settlement.psn_no == psn_no,
        Settlement.status == "settled",
        col(Settlement.med_type).startswith(CHRONIC_MED_TYPE_PREFIX),
        Settlement.setl_time >= begntime,
    )
    if endtime:
        query = query.where(Settlement.setl_time <= endtime)
    lines = await _lines(session, (await session.scalars(query)).all())
    return [line for line in lines if line.med_chrgitm_type in DRUG_CHARGE_TYPES]


async def _lines(session: AsyncSession, settlements: Sequence[Settlement]) -> list[FeeDetailOut]:
    if not settlements:
        return []
    by_id = {s.setl_id: s for s in settlements}
    rows = (
        await session.execute(
            select(SettlementLine, FeeLineRecord)
            .join(Settlement, col(Settlement.setl_id) == col(SettlementLine.setl_id))
            .outerjoin(
                FeeLineRecord,
                and_(
                    col(FeeLineRecord.mdtrt_id) == col(Settlement.mdtrt_id),
                    col(FeeLineRecord.feedetl_sn) == col(SettlementLine.feedetl_sn),
                ),
            )
            .where(col(SettlementLine.setl_id).in_(list(by_id)))
            .order_by(col(SettlementLine.id))
        )
    ).all()
    codes = {s.fixmedins_code for s in settlements}
    names = dict(
        (
            await session.execute(
                select(Institution.fixmedins_code, Institution.fixmedins_name).where(
                    col(Institution.fixmedins_code).in_(sorted(codes))
                )
            )
        ).all()
    )
    items = await _entries(session, {line.med_list_codg for line, _ in rows})
    mappings = await _mappings(session, codes, {line.medins_list_codg for line, _ in rows})
    out = []
    for line, uploaded in rows:
        s = by_id[line.setl_id]
        fee_ocur_time = uploaded.fee_ocur_time if uploaded is not None else s.begntime
        day = fee_ocur_time.astimezone(CHINA_TZ).date()
        item = _on(items.get(line.med_list_codg, []), day)
        mapping = _mapped_on(mappings.get((s.fixmedins_code, line.medins_list_codg), []), day)
        out.append(
            FeeDetailOut(
                setl_id=s.setl_id,
                mdtrt_id=s.mdtrt_id,
                psn_no=s.psn_no,
                fixmedins_code=s.fixmedins_code,
                fixmedins_name=names.get(s.fixmedins_code, ""),
                med_type=s.med_type,
                setl_time=s.setl_time,
                fee_ocur_time=fee_ocur_time,
                feedetl_sn=line.feedetl_sn,
                med_list_codg=line.med_list_codg,
                medins_list_codg=line.medins_list_codg,
                cnt=line.cnt,
                pric=line.pric,
                amount_fen=line.amount_fen,
                price_cap=line.price_cap,
                selfpay_prop=line.selfpay_prop,
                chrgitm_lv=line.chrgitm_lv,
                med_chrgitm_type=line.med_chrgitm_type,
                fully_self_paid_fen=line.fully_self_paid_fen,
                over_price_cap_fen=line.over_price_cap_fen,
                self_pay_first_fen=line.self_pay_first_fen,
                policy_range_fen=line.policy_range_fen,
                prd_days=line.prd_days,
                hilist_name=item.name if item is not None else "",
                list_type=_LIST_TYPE_OF.get(line.med_chrgitm_type, ""),
                medins_list_name=mapping.name if mapping is not None else "",
                restricted=line.restricted,
                essential_drug=line.essential_drug,
                negotiated_drug=line.negotiated_drug,
                child_medicine=line.child_medicine,
                special_item=line.special_item,
                direct_reimbursement=line.direct_reimbursement,
                memo=line.memo,
                hosp_appr_flag=uploaded.hosp_appr_flag if uploaded is not None else None,
                details=uploaded.details if uploaded is not None else {},
                recorded_by=_uploaded_by(uploaded)
                if uploaded is not None
                else Operator(opt_time=s.created_at),
            )
        )
    return out


def _uploaded_by(line: FeeLineRecord) -> Operator:
    return Operator(opter_id=line.opter_id, opter_name=line.opter_name, opt_time=line.created_at)


async def _entries(session: AsyncSession, codes: set[str]) -> dict[str, list[CatalogueItem]]:
    """Every version of the list entries named, by code."""
    found: dict[str, list[CatalogueItem]] = {}
    if codes:
        query = select(CatalogueItem).where(col(CatalogueItem.med_list_codg).in_(sorted(codes)))
        for item in await session.scalars(query.order_by(col(CatalogueItem.effective_from))):
            found.setdefault(item.med_list_codg, []).append(item)
    return found


def _on(versions: list[CatalogueItem], day: date) -> CatalogueItem | None:
    """The version in force on ``day``; the latest before it when none is (an entry ended since)."""
    current = [v for v in versions if v.effective_from <= day]
    return current[-1] if current else None


async def _mappings(
    session: AsyncSession, institutions: set[str], own_codes: set[str]
) -> dict[tuple[str, str], list[CatalogueMapping]]:
    found: dict[tuple[str, str], list[CatalogueMapping]] = {}
    if own_codes:
        query = select(CatalogueMapping).where(
            col(CatalogueMapping.fixmedins_code).in_(sorted(institutions)),
            col(CatalogueMapping.medins_list_codg).in_(sorted(own_codes)),
        )
        for m in await session.scalars(query.order_by(col(CatalogueMapping.id))):
            found.setdefault((m.fixmedins_code, m.medins_list_codg), []).append(m)
    return found


def _mapped_on(mappings: list[CatalogueMapping], day: date) -> CatalogueMapping | None:
    """The institution's mapping of its item that applied on ``day``, the one settling chose
    (``mappings.national_codes``)."""
    applying = [m for m in mappings if applies(m, day)]
    return max(applying, key=lambda m: (m.begndate, m.id or 0)) if applying else None


async def accumulations(session: AsyncSession, psn_no: str, year: int) -> list[AccumulationOut]:
    """5206: the person's totals of the year, one row per insurance type (none before a first settlement)."""
    rows = (
        await session.scalars(
            select(YearAccumulator)
            .where(YearAccumulator.psn_no == psn_no, YearAccumulator.year == year)
            .order_by(YearAccumulator.insutype)
        )
    ).all()
    return [
        AccumulationOut(
            year=r.year,
            insutype=r.insutype,
            outpatient_deductible_fen=r.outpatient_deductible_fen,
            outpatient_paid_fen=r.outpatient_paid_fen,
            pooled_paid_fen=r.pooled_paid_fen,
            chronic_cost_fen=r.chronic_cost_fen,
            chronic_paid_fen=r.chronic_paid_fen,
            catastrophic_burden_fen=r.catastrophic_burden_fen,
            catastrophic_paid_fen=r.catastrophic_paid_fen,
            assistance_paid_fen=r.assistance_paid_fen,
            admissions=r.admissions,
            settlement_count=r.settlement_count,
        )
        for r in rows
    ]
