"""Outpatient visits and inpatient stays: open (2201/2401), describe (2203/2403), upload and withdraw fee
lines (2204/2205, 2301/2302), discharge (2402/2405), then pre-settle and settle (2206/2207, 2303/2304)
through the same settlement transaction as a pharmacy purchase."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import cast

from sqlalchemy import bindparam, delete, null
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from settlement.adjudication.engine import FeeLine, classify_line, flag_columns
from settlement.catalogue import codes as national_codes
from settlement.catalogue import mappings
from settlement.catalogue import service as catalogue
from settlement.eligibility import service as eligibility
from settlement.encounters import care_dates
from settlement.encounters.models import Encounter, EncounterDiagnosis, FeeLineRecord
from settlement.encounters.schemas import (
    DiagnosisUpdate,
    Discharge,
    EncounterOpen,
    EncounterSettle,
    FeesCancel,
    FeesUpload,
)
from settlement.encounters.schemas import EncounterDiagnosis as EncounterDiagnosisIn
from settlement.institutions import service as institutions
from settlement.schemes import service as schemes
from settlement.settlements import service as settlements
from settlement.settlements.models import Settlement
from settlement.settlements.schemas import LineOut, SettlementOut
from shared.clock import CHINA_TZ, now_china
from shared.contracts.v1.settlement import DISCHARGE_DETAILS
from shared.db import flush_unique, run
from shared.errors import Conflict, DomainError, NotFound
from shared.money import fen_to_yuan, round_half_up_fen


async def open_encounter(
    session: AsyncSession, data: EncounterOpen, peers: settlements.PeerRoute | None = None
) -> Encounter:
    """Register a visit or admit a patient. The hospital's own number makes a retry return the same one.
    ``peers``: the peer platforms; a person whose insured region one of them hosts (跨省) is admitted
    as that platform says they are covered (docs/interface.md, "Between platforms")."""
    existing = await session.scalar(
        select(Encounter).where(
            Encounter.fixmedins_code == data.fixmedins_code, Encounter.ipt_otp_no == data.ipt_otp_no
        )
    )
    if existing is not None:
        if existing.psn_no != data.psn_no or existing.setting != data.setting:
            raise Conflict(f"院内就诊流水号 {data.ipt_otp_no} 已用于另一次就诊", code="IPT_OTP_NO_USED")
        return existing
    if data.begntime - now_china() > settlements.MAX_CLOCK_SKEW:
        raise DomainError("就诊时间晚于当前时间", code="FUTURE_TIME", status_code=422)
    day = data.begntime.astimezone(CHINA_TZ).date()
    institution = await institutions.settling(session, data.fixmedins_code)
    if institution.fixmedins_type != "1":
        raise DomainError("门诊挂号和入院办理只适用于定点医疗机构", code="NOT_A_HOSPITAL", status_code=422)
    # The treating region is the hospital's (就医地管理; docs/domain.md, "Out-of-area care"), as at
    # settlement.
    if institution.admdvs != data.mdtrtarea_admvs:
        raise DomainError(
            f"就医地区划 {data.mdtrtarea_admvs} 与机构所在区划 {institution.admdvs} 不符",
            code="ADMVS_MISMATCH",
            status_code=422,
        )
    await institutions.require_can_settle_on(session, institution, day)
    _check_med_type(data.setting, data.med_type)
    peer_insured = peers is not None and peers.hosts(data.insuplc_admdvs)
    if peers is not None and peer_insured:
        # The scheme is the one the insured platform settles the person under on the day.
        effective = await peers.admit(
            settlements.PeerAdmission(
                msgid=data.msgid, psn_no=data.psn_no, insutype=data.insutype,
                insuplc_admdvs=data.insuplc_admdvs, begntime=data.begntime, med_type=data.med_type,
                mdtrt_cert_type=data.mdtrt_cert_type, mdtrt_cert_no=data.mdtrt_cert_no,
            )
        )  # fmt: skip
        data = data.model_copy(update={"insutype": effective})
    else:
        # The scheme of a stay is decided here, at admission, once (see settlement.schemes.service).
        coverage, effective = await schemes.resolve(session, data.psn_no, data.insutype, day)
        data = data.model_copy(update={"insutype": effective})
        person = await eligibility.covered(session, data.psn_no, coverage, day)
        await settlements.check_certificate(session, data.mdtrt_cert_type, data.mdtrt_cert_no, person)
        if person.insuplc_admdvs != data.insuplc_admdvs:
            raise DomainError(
                f"参保地区划 {data.insuplc_admdvs} 与人员参保地 {person.insuplc_admdvs} 不符",
                code="ADMDVS_MISMATCH",
                status_code=422,
            )
    await check_diagnosis(session, data.med_type, data.dise_codg, day)
    await check_coded(session, day, data.diagnoses, data.oprn_oprt_code)
    encounter = Encounter(
        mdtrt_id=settlements.new_id("M", data.mdtrtarea_admvs, now_china()),
        opter_id=data.opter_id,
        opter_name=data.opter_name,
        details=data.details,
        **data.model_dump(exclude={"msgid", "diagnoses", "oprn_oprt_code"}),
    )
    session.add(encounter)
    await flush_unique(session, Conflict(f"院内就诊流水号 {data.ipt_otp_no} 已存在", code="IPT_OTP_NO_USED"))
    await keep_diagnoses(session, encounter.mdtrt_id, ADMISSION_DIAGNOSES, data.diagnoses, data)
    if not peer_insured:  # a peer's insured shows their ID number (02): no voucher of ours
        await settlements.use_voucher(
            session,
            data.mdtrt_cert_type,
            data.mdtrt_cert_no,
            psn_no=data.psn_no,
            msgid=data.msgid,
            fixmedins_code=data.fixmedins_code,
        )
    return encounter


INPATIENT_MED_TYPES = ("2", "52")
#: 出入院诊断类别 of the rows kept: an admission's or an outpatient visit's (1), a discharge's (2).
ADMISSION_DIAGNOSES, DISCHARGE_DIAGNOSES = "1", "2"


async def keep_diagnoses(
    session: AsyncSession,
    mdtrt_id: str,
    inout_diag_type: str,
    rows: Sequence[EncounterDiagnosisIn] | None,
    sent: EncounterOpen | DiagnosisUpdate | Discharge | None = None,
) -> None:
    """The diagnosis rows (``diseinfo``) of a visit or stay as the HIS sent them, with the operator of the
    call that ``sent`` them, replacing the rows of the same kind kept before; None keeps those
    (docs/domain.md, "Diagnoses of a visit")."""
    if rows is None:
        return
    await session.execute(
        delete(EncounterDiagnosis).where(
            col(EncounterDiagnosis.mdtrt_id) == mdtrt_id,
            col(EncounterDiagnosis.inout_diag_type) == inout_diag_type,
        )
    )
    session.add_all(
        EncounterDiagnosis(
            mdtrt_id=mdtrt_id,
            inout_diag_type=inout_diag_type,
            opter_id=sent.opter_id if sent else "",
            opter_name=sent.opter_name if sent else "",
            **row.model_dump(),
        )
        for row in rows
    )
    await session.flush()


async def check_diagnosis(session: AsyncSession, med_type: str, dise_codg: str | None, day: date) -> None:
    """A diagnosis named on a visit or a stay must be on the diagnosis list (1307, ICD-10 医保版) in force
    on the day care began, else ``DISE_CODE_UNKNOWN``. A chronic visit (14xxxx) names the policy's chronic
    disease instead, checked against the policy's list when it settles. See
    docs/domain.md, "Diagnosis and procedure codes"."""
    if not dise_codg or med_type.startswith("14"):
        return
    if not await national_codes.in_force(session, "dise", dise_codg, day):
        raise DomainError(
            f"诊断编码 {dise_codg} 不在 {day} 有效的疾病与诊断目录中（请按【1307】下载的编码填写）",
            code="DISE_CODE_UNKNOWN",
            status_code=422,
        )


#: diag_type of the rows coded in ICD-10 医保版 (1 西医诊断); 2 中医主病 / 3 中医主证 are coded in the TCM
#: lists (1314 / 1315), which the platform does not hold, and are kept unchecked.
ICD_DIAG_TYPE = "1"


async def check_coded(
    session: AsyncSession,
    day: date,
    rows: Sequence[EncounterDiagnosisIn] | None,
    oprn_oprt_code: str | None = None,
) -> None:
    """Every western-medicine diagnosis row (``diseinfo.diag_code``) must be on the diagnosis list (1307)
    and the operation named (``oprn_oprt_code``) on the procedure list (1308) in force on ``day``, else
    ``DISE_CODE_UNKNOWN`` / ``OPRN_CODE_UNKNOWN`` naming the row (1-based, in the order sent). See
    docs/domain.md, "Diagnosis and procedure codes"."""
    for number, row in enumerate(rows or (), start=1):
        if row.diag_type != ICD_DIAG_TYPE:
            continue
        if not await national_codes.in_force(session, "dise", row.diag_code, day):
            raise DomainError(
                f"diseinfo 第 {number} 行诊断编码 {row.diag_code} 不在 {day} 有效的疾病与诊断目录中"
                "（请按【1307】下载的编码填写）",
                code="DISE_CODE_UNKNOWN",
                status_code=422,
            )
    if oprn_oprt_code and not await national_codes.in_force(session, "oprn", oprn_oprt_code, day):
        raise DomainError(
            f"手术操作编码 {oprn_oprt_code} 不在 {day} 有效的手术操作目录中（请按【1308】下载的编码填写）",
            code="OPRN_CODE_UNKNOWN",
            status_code=422,
        )


def _care_day(encounter: Encounter) -> date:
    return encounter.begntime.astimezone(CHINA_TZ).date()


def _check_med_type(setting: str, med_type: str) -> None:
    """医疗类别 21-29 and 52 (生育住院) are stays; the others are outpatient care."""
    inpatient = med_type.startswith(INPATIENT_MED_TYPES)
    if setting == "outpatient" and inpatient:
        raise DomainError(
            f"医疗类别 {med_type} 是住院类别，请用入院办理(2401)", code="MED_TYPE_MISMATCH", status_code=422
        )
    if setting == "inpatient" and not inpatient:
        raise DomainError(f"医疗类别 {med_type} 不是住院类别", code="MED_TYPE_MISMATCH", status_code=422)


async def get_encounter(
    session: AsyncSession, mdtrt_id: str, fixmedins_code: str, *, for_update: bool = False
) -> Encounter:
    """An institution acts only on its own encounters."""
    query = select(Encounter).where(Encounter.mdtrt_id == mdtrt_id)
    if for_update:
        query = query.with_for_update()
    return _own(await session.scalar(query), mdtrt_id, fixmedins_code)


def _own(encounter: Encounter | None, mdtrt_id: str, fixmedins_code: str) -> Encounter:
    if encounter is None:
        raise NotFound(f"就诊记录不存在: {mdtrt_id}", code="ENCOUNTER_NOT_FOUND")
    if encounter.fixmedins_code != fixmedins_code:
        raise DomainError("只能操作本机构的就诊记录", code="NOT_YOUR_ENCOUNTER", status_code=403)
    return encounter


def _require(encounter: Encounter, *statuses: str) -> None:
    if encounter.status not in statuses:
        names = {"open": "就诊中", "discharged": "已出院", "settled": "已结算", "cancelled": "已撤销"}
        raise Conflict(
            f"就诊记录状态为{names.get(encounter.status, encounter.status)}，不能进行此操作",
            code="ENCOUNTER_STATE",
        )


_FEE_LINES = FeeLineRecord.__table__  # type: ignore[attr-defined]
#: The encounter's fee lines not settled yet, as rows (a 100-line stay: no ORM objects to build), in the
#: shape of a claim's lines (``settlements.ClaimLine``; an uploaded line has no days' supply).
_UNSETTLED = (
    sa_select(_FEE_LINES, null().label("prd_days"))
    .where(_FEE_LINES.c.mdtrt_id == bindparam("mdtrt_id"), _FEE_LINES.c.setl_id.is_(None))
    .order_by(_FEE_LINES.c.id)
)
#: A stay already part-settled (中途结算): its next settlement continues the same admission.
_HAS_SETTLED = (
    sa_select(col(Settlement.id))
    .where(col(Settlement.mdtrt_id) == col(Encounter.mdtrt_id), col(Settlement.status) == "settled")
    .exists()
)
#: The encounter to settle with whether it was settled before; for a binding settlement locked until it
#: commits (a second settlement of it waits, then finds it settled and its lines marked).
_TO_PREVIEW = select(Encounter, _HAS_SETTLED.label("continuing")).where(
    Encounter.mdtrt_id == bindparam("mdtrt_id")
)
_TO_SETTLE = _TO_PREVIEW.with_for_update(of=Encounter)


async def _lines(session: AsyncSession, mdtrt_id: str, *, unsettled: bool = True) -> list[FeeLineRecord]:
    query = select(FeeLineRecord).where(FeeLineRecord.mdtrt_id == mdtrt_id)
    if unsettled:
        query = query.where(col(FeeLineRecord.setl_id).is_(None))
    return list(await session.scalars(query.order_by(col(FeeLineRecord.id))))


async def cancel_encounter(session: AsyncSession, mdtrt_id: str, fixmedins_code: str) -> Encounter:
    """2202 / 2404: undo a registration or an admission that nothing has been settled under."""
    encounter = await get_encounter(session, mdtrt_id, fixmedins_code, for_update=True)
    _require(encounter, "open", "discharged")
    settled = [x for x in await _lines(session, mdtrt_id, unsettled=False) if x.setl_id is not None]
    if settled:
        raise Conflict("该就诊已有结算，须先撤销结算", code="HAS_SETTLEMENTS")
    await session.execute(delete(FeeLineRecord).where(col(FeeLineRecord.mdtrt_id) == mdtrt_id))
    encounter.status = "cancelled"
    await session.flush()
    return encounter


async def update_diagnosis(session: AsyncSession, mdtrt_id: str, data: DiagnosisUpdate) -> Encounter:
    encounter = await get_encounter(session, mdtrt_id, data.fixmedins_code, for_update=True)
    _require(encounter, "open", "discharged")
    if data.med_type is not None:
        _check_med_type(encounter.setting, data.med_type)
    await check_diagnosis(session, data.med_type or encounter.med_type, data.dise_codg, _care_day(encounter))
    await check_coded(session, _care_day(encounter), data.diagnoses)
    for name in ("med_type", "dise_codg", "dise_name", "matn_type"):
        value = getattr(data, name)
        if value is not None:
            setattr(encounter, name, value)
    if data.details:
        encounter.details = {**encounter.details, **data.details}
    await keep_diagnoses(session, mdtrt_id, ADMISSION_DIAGNOSES, data.diagnoses, data)
    await session.flush()
    return encounter


async def upload_fees(
    session: AsyncSession, mdtrt_id: str, data: FeesUpload, peers: settlements.PeerRoute | None = None
) -> list[LineOut]:
    """Store the lines and answer with their classification (甲/乙/丙, caps, self-pay-first). ``peers``:
    a peer platform's insured is covered on the fees' days as the peer says."""
    encounter = await get_encounter(session, mdtrt_id, data.fixmedins_code, for_update=True)
    _require(encounter, "open", "discharged")
    await care_dates.require_fee_dates(session, encounter, data.lines, peers)
    institution = await institutions.settling(session, encounter.fixmedins_code)
    mapped = await mappings.national_codes(
        session,
        encounter.fixmedins_code,
        [(line, line.fee_ocur_time.astimezone(CHINA_TZ).date()) for line in data.lines],
    )
    if mapped:  # lines that named only the institution's code, now with the national code mapped for it
        lines = [
            x.model_copy(update={"med_list_codg": mapped.get(x.feedetl_sn, x.med_list_codg)})
            for x in data.lines
        ]
        data = data.model_copy(update={"lines": lines})
    # A drug the list marks as traced is dispensed with its codes, on a visit's lines and on a stay's.
    await catalogue.require_trace_codes(session, data.lines, _care_day(encounter))
    known = {x.feedetl_sn for x in await _lines(session, mdtrt_id, unsettled=False)}
    for line in data.lines:
        if encounter.setting == "outpatient" and not line.chrg_bchno:
            raise DomainError(
                f"门诊费用明细 {line.feedetl_sn} 缺少收费批次号 chrg_bchno",
                code="NO_CHRG_BCHNO",
                status_code=422,
            )
        if line.feedetl_sn in known:
            raise Conflict(f"费用明细流水号 {line.feedetl_sn} 已上传", code="FEE_LINE_EXISTS")
        expected = round_half_up_fen(line.cnt * line.pric * 100)
        if abs(expected - line.amount_fen) > 1:
            raise DomainError(
                f"费用明细 {line.feedetl_sn} 金额 {fen_to_yuan(line.amount_fen)} "
                f"与数量×单价 {fen_to_yuan(expected)} 不符",
                code="LINE_AMOUNT_MISMATCH",
                status_code=422,
            )
        session.add(
            FeeLineRecord(
                mdtrt_id=mdtrt_id,
                opter_id=data.opter_id,
                opter_name=data.opter_name,
                details=line.details,
                **line.model_dump(),
            )
        )
    await flush_unique(session, Conflict("费用明细流水号已上传", code="FEE_LINE_EXISTS"))
    entries = await catalogue.find_entries(
        session, {x.med_list_codg for x in data.lines}, encounter.begntime.astimezone(CHINA_TZ).date()
    )
    out = []
    for line in data.lines:
        r = classify_line(
            FeeLine(
                line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, line.amount_fen, line.hosp_appr_flag
            ),
            entries.get(line.med_list_codg),
            institution.hosp_lv,
            institution.admdvs,
        )
        out.append(
            LineOut(
                feedetl_sn=line.feedetl_sn,
                med_list_codg=line.med_list_codg,
                medins_list_codg=line.medins_list_codg,
                cnt=line.cnt,
                pric=line.pric,
                amount_fen=line.amount_fen,
                price_cap=r.price_cap,
                selfpay_prop=r.selfpay_prop,
                chrgitm_lv=r.chrgitm_lv,
                med_chrgitm_type=r.med_chrgitm_type,
                fully_self_paid_fen=r.fully_self_paid_fen,
                over_price_cap_fen=r.over_price_cap_fen,
                self_pay_first_fen=r.self_pay_first_fen,
                policy_range_fen=r.policy_range_fen,
                memo=r.memo,
                **flag_columns(r.flags),
            )
        )
    return out


async def cancel_fees(session: AsyncSession, mdtrt_id: str, data: FeesCancel) -> int:
    """Withdraw unsettled lines: a charge batch (2205; "0000" = all), or listed lines (2302; none = all)."""
    encounter = await get_encounter(session, mdtrt_id, data.fixmedins_code, for_update=True)
    _require(encounter, "open", "discharged")
    lines = await _lines(session, mdtrt_id)
    if data.chrg_bchno not in (None, "0000"):
        lines = [x for x in lines if x.chrg_bchno == data.chrg_bchno]
    if data.feedetl_sns:
        wanted = set(data.feedetl_sns)
        settled = wanted - {x.feedetl_sn for x in lines}
        if settled:
            raise Conflict(f"费用明细不存在或已结算: {', '.join(sorted(settled))}", code="FEE_LINE_SETTLED")
        lines = [x for x in lines if x.feedetl_sn in wanted]
    for line in lines:
        await session.delete(line)
    await session.flush()
    return len(lines)


async def discharge(session: AsyncSession, mdtrt_id: str, data: Discharge) -> Encounter:
    care_dates.require_discharge_not_future(data.endtime)
    encounter = await get_encounter(session, mdtrt_id, data.fixmedins_code, for_update=True)
    if encounter.setting != "inpatient":
        raise DomainError("门诊就诊无需办理出院", code="NOT_INPATIENT", status_code=422)
    _require(encounter, "open")
    if data.endtime < encounter.begntime:
        raise DomainError("出院时间早于入院时间", code="INVALID_TIME", status_code=422)
    await check_diagnosis(session, encounter.med_type, data.dise_codg, _care_day(encounter))
    await check_coded(session, _care_day(encounter), data.diagnoses, data.oprn_oprt_code)
    encounter.endtime = data.endtime
    encounter.status = "discharged"
    if data.dise_codg:
        encounter.dise_codg, encounter.dise_name = data.dise_codg, data.dise_name
    encounter.details = {**encounter.details, **data.details}
    await keep_diagnoses(session, mdtrt_id, DISCHARGE_DIAGNOSES, data.diagnoses, data)
    await session.flush()
    return encounter


async def undo_discharge(session: AsyncSession, mdtrt_id: str, fixmedins_code: str) -> Encounter:
    """2405: back in hospital (the stay's settlement, if any, must be reversed first)."""
    encounter = await get_encounter(session, mdtrt_id, fixmedins_code, for_update=True)
    _require(encounter, "discharged")
    encounter.status, encounter.endtime = "open", None
    # Back in hospital: the discharge diagnoses and what 2402 told go with the discharge (the next 2402
    # names them again).
    await keep_diagnoses(session, mdtrt_id, DISCHARGE_DIAGNOSES, [])
    encounter.details = {k: v for k, v in encounter.details.items() if k not in DISCHARGE_DETAILS}
    await session.flush()
    return encounter


def _kind(encounter: Encounter) -> str:
    if encounter.med_type.startswith("52"):
        return "maternity"
    if encounter.setting == "inpatient":
        return "inpatient"
    if encounter.med_type.startswith("14"):
        return "chronic"
    return "outpatient"


_SETTING_NAMES = {"outpatient": "门诊", "inpatient": "住院"}


def _check_as_named(encounter: Encounter, data: EncounterSettle) -> None:
    """The encounter is the one the caller means to settle: of the setting, the person and (a visit) the
    med_type it names."""
    mdtrt_id = encounter.mdtrt_id
    if data.setting is not None and data.setting != encounter.setting:
        actual, named = _SETTING_NAMES[encounter.setting], _SETTING_NAMES[data.setting]
        raise DomainError(
            f"就诊ID {mdtrt_id} 是{actual}就诊，不能按{named}结算", code="SETTING_MISMATCH", status_code=422
        )
    if data.psn_no != encounter.psn_no:
        raise DomainError(
            f"人员编号 {data.psn_no} 与就诊ID {mdtrt_id} 登记的人员不符", code="PSN_MISMATCH", status_code=422
        )
    if data.med_type is not None and data.med_type != encounter.med_type:
        raise DomainError(
            f"医疗类别 {data.med_type} 与就诊ID {mdtrt_id} 登记的 {encounter.med_type} 不符："
            "请先用2203上传就诊信息",
            code="MED_TYPE_MISMATCH",
            status_code=422,
        )


async def claim_for(session: AsyncSession, mdtrt_id: str, data: EncounterSettle) -> settlements.Claim:
    return (await _claim(session, mdtrt_id, data))[0]


async def _claim(
    session: AsyncSession, mdtrt_id: str, data: EncounterSettle, *, lock: bool = False
) -> tuple[settlements.Claim, Encounter]:
    """The claim for the encounter's unsettled lines (of the batch, for an outpatient visit), and the
    encounter; ``lock``: held until the transaction ends (a binding settlement)."""
    found = (await session.execute(_TO_SETTLE if lock else _TO_PREVIEW, {"mdtrt_id": mdtrt_id})).first()
    encounter = _own(found[0] if found else None, mdtrt_id, data.fixmedins_code)
    continuing = bool(found[1]) if found else False
    _check_as_named(encounter, data)
    lines = list((await run(session, _UNSETTLED, {"mdtrt_id": mdtrt_id})).all())
    if encounter.setting == "outpatient":
        _require(encounter, "open")
        if not data.chrg_bchno:
            raise DomainError("门诊结算须指定收费批次号 chrg_bchno", code="NO_CHRG_BCHNO", status_code=422)
        lines = [x for x in lines if x.chrg_bchno == data.chrg_bchno]
    else:
        _require(encounter, "open", "discharged")
        if encounter.status == "open" and not data.mid_setl_flag:
            raise Conflict("住院结算须先办理出院(2402)，或按中途结算(mid_setl_flag=1)", code="NOT_DISCHARGED")
    if not lines:
        raise DomainError("没有待结算的费用明细", code="NO_FEE_LINES", status_code=422)
    kind = _kind(encounter)
    if kind == "chronic" and not encounter.dise_codg:
        raise DomainError("门诊慢特病结算须有病种编码(2203 上传)", code="NO_DISEASE", status_code=422)
    if kind == "maternity" and encounter.matn_type not in ("1", "2"):
        raise DomainError(
            "生育住院结算须有分娩方式 matn_type (1 顺产 / 2 剖宫产)", code="NO_MATN_TYPE", status_code=422
        )
    claim = settlements.Claim(
        msgid=data.msgid,
        digest=settlements.digest_of(data),
        fixmedins_code=encounter.fixmedins_code,
        mdtrtarea_admvs=encounter.mdtrtarea_admvs,
        insuplc_admdvs=encounter.insuplc_admdvs,
        psn_no=encounter.psn_no,
        mdtrt_cert_type=data.mdtrt_cert_type,
        mdtrt_cert_no=data.mdtrt_cert_no,
        begntime=encounter.begntime,
        medfee_sumamt_fen=data.medfee_sumamt_fen,
        insutype=encounter.insutype,
        med_type=encounter.med_type,
        clr_type="11" if encounter.setting == "outpatient" else "21",
        kind=kind,  # type: ignore[arg-type]
        # Validated when they were uploaded (2301/2204): the rows as read.
        lines=cast(Sequence[settlements.ClaimLine], lines),
        invono=data.invono,
        mdtrt_id=mdtrt_id,
        institution_types=("1",),
        # Whether the care is filed (referral, out of area) the filings decide at settlement time
        # (settlement.adjudication.filings), not a flag on the encounter.
        delivery_type={"1": "normal", "2": "caesarean"}.get(encounter.matn_type or ""),  # type: ignore[arg-type]
        chronic_disease=encounter.dise_codg if kind == "chronic" else None,
        continuing_stay=continuing and encounter.setting == "inpatient",
    )
    return claim, encounter


async def settle(
    session: AsyncSession,
    mdtrt_id: str,
    data: EncounterSettle,
    peers: settlements.PeerRoute | None = None,
    *,
    with_lines: bool = True,
) -> SettlementOut:
    """2207 / 2304: settle the batch or the stay; the lines are then marked settled under the setl_id. A
    repeat of the msgid answers with the first settlement (claimed first: its lines are settled by now).
    ``peers``: a peer platform's insured is settled through the peer (pay_loc 4). ``with_lines``: False
    builds the answer without its lines (a repeat's and a peer's answer still carry them)."""
    replay = await settlements.claim_msgid(session, data.msgid, settlements.digest_of(data))
    if replay is not None:
        return replay
    claim, encounter = await _claim(session, mdtrt_id, data, lock=True)
    close = encounter.setting == "inpatient" and not data.mid_setl_flag
    stay = settlements.StayLines(mdtrt_id, close=close)
    result = await settlements.settle(
        session, claim, claimed=True, stay=stay, peers=peers, with_lines=with_lines
    )
    if close:  # written by the settlement's statement: the object only learns it
        set_committed_value(encounter, "status", "settled")
    return result
