"""Settlement lists (医保结算清单, 4101/4101A/4102/4103; docs/domain.md, "Settlement lists"): one per
inpatient settlement in force, its amounts those of the settlement, and the report of the lists still
missing some days after discharge."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.catalogue import codes as national_codes
from settlement.encounters.models import Encounter
from settlement.setl_lists.models import SettlementList
from settlement.settlements.models import Settlement, SettlementFund, SettlementLine
from shared.clock import CHINA_TZ
from shared.contracts.v1.setl_lists import (
    ListDiagnosis,
    ListFund,
    ListItem,
    ListOperation,
    OverdueList,
    OverdueReport,
    SettlementListOut,
    SettlementListUpload,
    StatusChange,
)
from shared.db import utcnow
from shared.errors import Conflict, DomainError, NotFound, Unprocessable
from shared.money import fen_to_yuan

#: The kinds of care a settlement list is made for (a stay, a delivery).
LIST_KINDS = ("inpatient", "maternity")

OVERDUE = Gauge(
    "settlement_lists_overdue",
    "Inpatient settlements in force whose settlement list is not uploaded N days after discharge",
)


async def _settlement(session: AsyncSession, setl_id: str, fixmedins_code: str) -> Settlement:
    found = await session.scalar(select(Settlement).where(Settlement.setl_id == setl_id))
    if found is None:
        raise NotFound(f"结算记录不存在: {setl_id}", code="SETTLEMENT_NOT_FOUND")
    if found.fixmedins_code != fixmedins_code:
        raise DomainError("只能查询本机构的结算", code="NOT_YOUR_SETTLEMENT", status_code=403)
    return found


async def _items(session: AsyncSession, s: Settlement) -> list[ListItem]:
    """The settlement's fees by 医疗收费项目类别, from its classified lines."""
    lines = await session.scalars(select(SettlementLine).where(SettlementLine.setl_id == s.setl_id))
    by_type: dict[str, int] = defaultdict(int)
    for line in lines:
        by_type[line.med_chrgitm_type] += line.amount_fen
    return [ListItem(med_chrgitm_type=t, amount_fen=by_type[t]) for t in sorted(by_type)]


async def _funds(session: AsyncSession, s: Settlement) -> list[ListFund]:
    rows = await session.scalars(
        select(SettlementFund).where(SettlementFund.setl_id == s.setl_id).order_by(col(SettlementFund.id))
    )
    return [ListFund(fund_pay_type=f.fund_pay_type, paid_fen=f.paid_fen) for f in rows if f.paid_fen]


def _check_amounts(
    req: SettlementListUpload, s: Settlement, funds: list[ListFund], items: list[ListItem]
) -> None:
    """4101: the fund split must be the settlement's, fund by fund, and the fee classes must add up to its
    total (the list states what was settled: it does not settle again)."""
    problems = []
    if req.funds is not None:
        theirs: dict[str, int] = defaultdict(int)
        for f in req.funds:
            theirs[f.fund_pay_type] += f.paid_fen
        ours = {f.fund_pay_type: f.paid_fen for f in funds}
        for fund in sorted(set(theirs) | set(ours)):
            stated, settled = fen_to_yuan(theirs.get(fund, 0)), fen_to_yuan(ours.get(fund, 0))
            if stated != settled:
                problems.append(f"基金 {fund} 清单 {stated} 与结算 {settled} 不符")
    if req.items is not None:
        listed = sum(i.amount_fen for i in req.items)
        if listed != s.medfee_sumamt_fen:
            problems.append(
                f"收费项目合计 {fen_to_yuan(listed)} 与结算医疗费总额 {fen_to_yuan(s.medfee_sumamt_fen)} 不符"
            )
    if problems:
        raise Unprocessable("结算清单金额与结算不符: " + "；".join(problems), code="SETL_LIST_AMOUNTS")


async def _check_codes(session: AsyncSession, req: SettlementListUpload) -> None:
    """4101: every diagnosis (``diseinfo``) must be on the diagnosis list (1307) and every operation
    (``oprninfo``) on the procedure list (1308) in force on the day of discharge; the rows that are not are
    named by their place in the list (docs/domain.md, "Settlement lists")."""
    day = req.dscg_time.astimezone(CHINA_TZ).date()
    problems = [
        f"diseinfo 第 {number} 行诊断编码 {d.diag_code}"
        for number, d in enumerate(req.diagnoses, start=1)
        if not await national_codes.in_force(session, "dise", d.diag_code, day)
    ]
    problems += [
        f"oprninfo 第 {number} 行手术操作编码 {o.oprn_oprt_code}"
        for number, o in enumerate(req.operations, start=1)
        if not await national_codes.in_force(session, "oprn", o.oprn_oprt_code, day)
    ]
    if problems:
        raise Unprocessable(
            f"结算清单编码不在出院日 {day} 有效的疾病与诊断(1307)或手术操作(1308)目录中: "
            + "；".join(problems),
            code="SETL_LIST_CODE",
        )


async def upload(session: AsyncSession, req: SettlementListUpload) -> SettlementListOut:
    s = await _settlement(session, req.setl_id, req.fixmedins_code)
    if s.psn_no != req.psn_no or s.mdtrt_id != req.mdtrt_id:
        raise DomainError(f"人员编号或就诊ID与结算 {s.setl_id} 不符", code="PSN_MISMATCH", status_code=422)
    if s.encounter_kind not in LIST_KINDS:
        raise Unprocessable(
            f"结算 {s.setl_id} 不是住院结算，不需上传结算清单", code="SETL_LIST_NOT_INPATIENT"
        )
    if s.status != "settled":
        raise Conflict(f"结算 {s.setl_id} 已撤销，不能上传结算清单", code="SETL_LIST_REVERSED")
    mains = [d for d in req.diagnoses if d.maindiag_flag == "1"]
    if len(mains) != 1:
        raise Unprocessable(
            f"结算清单须有且仅有一个主诊断（现有 {len(mains)} 个）", code="SETL_LIST_DIAGNOSIS"
        )
    await _check_codes(session, req)
    funds, items = await _funds(session, s), await _items(session, s)
    _check_amounts(req, s, funds, items)
    existing = await session.scalar(
        select(SettlementList).where(SettlementList.setl_id == s.setl_id).with_for_update()
    )
    if existing is not None and existing.stas_type == "1":
        raise Conflict(
            f"结算 {s.setl_id} 的结算清单已上传 (清单流水号 {existing.id:09d})", code="SETL_LIST_EXISTS"
        )
    document = {
        "diagnoses": [d.model_dump() for d in req.diagnoses],
        "operations": [o.model_dump() for o in req.operations],
        "funds": [f.model_dump() for f in funds],
        "items": [i.model_dump() for i in items],
        "content": req.content,
    }
    row = existing or SettlementList(
        setl_id=s.setl_id,
        mdtrt_id=s.mdtrt_id,
        psn_no=s.psn_no,
        fixmedins_code=s.fixmedins_code,
        version=req.version,
        adm_time=req.adm_time,
        dscg_time=req.dscg_time,
        dscg_way=req.dscg_way,
    )
    row.version, row.stas_type, row.adm_time, row.dscg_time = req.version, "1", req.adm_time, req.dscg_time
    row.dscg_way, row.document, row.updated_at = req.dscg_way, document, utcnow()
    session.add(row)
    await session.flush()
    return _out(row, s)


def _out(row: SettlementList, s: Settlement) -> SettlementListOut:
    assert row.id is not None
    doc = row.document
    return SettlementListOut(
        setl_list_id=f"{row.id:09d}",
        setl_id=row.setl_id,
        mdtrt_id=row.mdtrt_id,
        psn_no=row.psn_no,
        fixmedins_code=row.fixmedins_code,
        version=row.version,
        stas_type=row.stas_type,
        adm_time=row.adm_time,
        dscg_time=row.dscg_time,
        dscg_way=row.dscg_way,
        diagnoses=[ListDiagnosis.model_validate(d) for d in doc.get("diagnoses", [])],
        operations=[ListOperation.model_validate(o) for o in doc.get("operations", [])],
        funds=[ListFund.model_validate(f) for f in doc.get("funds", [])],
        items=[ListItem.model_validate(i) for i in doc.get("items", [])],
        content=doc.get("content", {}),
        medfee_sumamt_fen=s.medfee_sumamt_fen,
        uploaded_at=row.uploaded_at,
    )


async def _list(session: AsyncSession, setl_id: str, fixmedins_code: str, psn_no: str) -> SettlementList:
    row = await session.scalar(select(SettlementList).where(SettlementList.setl_id == setl_id))
    if row is None or row.fixmedins_code != fixmedins_code:
        raise NotFound(f"结算 {setl_id} 没有本机构上传的结算清单", code="SETL_LIST_NOT_FOUND")
    if row.psn_no != psn_no:
        raise DomainError(f"人员编号 {psn_no} 与结算 {setl_id} 不符", code="PSN_MISMATCH", status_code=422)
    return row


async def get(session: AsyncSession, setl_id: str, fixmedins_code: str, psn_no: str) -> SettlementListOut:
    row = await _list(session, setl_id, fixmedins_code, psn_no)
    return _out(row, await _settlement(session, setl_id, fixmedins_code))


async def change_status(session: AsyncSession, setl_id: str, req: StatusChange) -> SettlementListOut:
    """4102: withdraw a list (0: it no longer counts as uploaded; the next 4101 replaces it) or let it
    stand again (1)."""
    row = await _list(session, setl_id, req.fixmedins_code, req.psn_no)
    row.stas_type, row.updated_at = req.stas_type, utcnow()
    await session.flush()
    return _out(row, await _settlement(session, setl_id, req.fixmedins_code))


async def overdue(
    session: AsyncSession, deadline_days: int, as_of: datetime, fixmedins_code: str | None = None
) -> OverdueReport:
    """Inpatient settlements in force, discharged ``deadline_days`` or more days before ``as_of``, without
    a standing list. Sets the ``settlement_lists_overdue`` gauge when it covers every institution."""
    cutoff = as_of - timedelta(days=deadline_days)
    query = (
        select(Settlement, Encounter.endtime)
        .join(Encounter, col(Encounter.mdtrt_id) == col(Settlement.mdtrt_id))
        .where(
            col(Settlement.status) == "settled",
            col(Settlement.encounter_kind).in_(LIST_KINDS),
            col(Encounter.endtime).is_not(None),
            col(Encounter.endtime) <= cutoff,
        )
        .order_by(col(Encounter.endtime), col(Settlement.setl_id))
    )
    if fixmedins_code:
        query = query.where(col(Settlement.fixmedins_code) == fixmedins_code)
    rows = (await session.execute(query)).all()
    standing = set(
        await session.scalars(
            select(SettlementList.setl_id).where(
                col(SettlementList.setl_id).in_([s.setl_id for s, _ in rows]), SettlementList.stas_type == "1"
            )
        )
    )
    found = [
        OverdueList(
            setl_id=s.setl_id,
            mdtrt_id=s.mdtrt_id,
            psn_no=s.psn_no,
            fixmedins_code=s.fixmedins_code,
            dscg_time=endtime,
            days_since_discharge=(as_of - endtime).days,
        )
        for s, endtime in rows
        if s.setl_id not in standing
    ]
    if fixmedins_code is None:
        OVERDUE.set(len(found))
    return OverdueReport(as_of=as_of, deadline_days=deadline_days, overdue=found)
