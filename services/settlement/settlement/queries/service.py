"""What an institution may read back (5201-5206; docs/interface.md, "Queries"): its own visits and their
settled fee lines; a person's chronic-disease drug records and yearly totals, which any institution
treating the person reads (the interface names the dispensing institution on each drug record: checking
what another institution already dispensed is the point of 5205)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.eligibility.models import YearAccumulator
from settlement.encounters.models import Encounter, EncounterDiagnosis, FeeLineRecord
from settlement.institutions.models import Institution
from settlement.settlements.models import Settlement, SettlementLine
from shared.contracts.v1.queries import AccumulationOut, DiagnosisOut, FeeDetailOut, VisitOut
from shared.errors import DomainError, NotFound

#: 医疗收费项目类别 of drugs: 09 西药费, 10 中药饮片费, 11 中成药费.
DRUG_CHARGE_TYPES = ("09", "10", "11")
#: 14 门诊慢特病 and its provincial sub-codes (140104 门诊慢病, 140201 门诊特病...).
CHRONIC_MED_TYPE_PREFIX = "14"


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
    for e in (await session.scalars(query)).all():
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
            )
        )
    return sorted(found, key=lambda v: (v.begntime, v.mdtrt_id))


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
            select(SettlementLine, FeeLineRecord.fee_ocur_time)
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
    out = []
    for line, fee_ocur_time in rows:
        s = by_id[line.setl_id]
        out.append(
            FeeDetailOut(
                setl_id=s.setl_id,
                mdtrt_id=s.mdtrt_id,
                psn_no=s.psn_no,
                fixmedins_code=s.fixmedins_code,
                fixmedins_name=names.get(s.fixmedins_code, ""),
                med_type=s.med_type,
                setl_time=s.setl_time,
                fee_ocur_time=fee_ocur_time or s.begntime,
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
            )
        )
    return out


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
