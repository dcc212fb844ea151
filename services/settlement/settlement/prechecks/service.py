"""Pre-checks (事前事中, 3101/3102; docs/domain.md, "Pre-checks"): the supervision rules that run at
settlement time, run on a prescription or order before it is charged. The proposal is written as a
settlement in the caller's session, judged by the same reads, and rolled back by the caller: nothing of it
remains and no hit is recorded. 3103 keeps the institution's feedback on a warning."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from settlement.prechecks.models import PrecheckFeedback
from settlement.settlements.models import Settlement, SettlementLine
from settlement.supervision import service as supervision
from settlement.supervision.rules import RULES, Finding
from shared.clock import now_china
from shared.contracts.v1.prechecks import (
    FeedbackOut,
    FeedbackRequest,
    PrecheckOut,
    PrecheckRequest,
    Violation,
)
from shared.errors import NotFound, Unprocessable

#: How serious a rule's finding is for the doctor deciding whether to go on (1 严重, 2 一般, 3 提示).
SEVERITY = {
    "overlapping_admissions": "1",
    "card_two_institutions": "2",
    "days_supply": "2",
    "daily_count": "3",
}


def _kind(req: PrecheckRequest) -> str:
    """The kind of care as settlement names it (``encounters.service._kind``, ``claims``)."""
    if req.med_type.startswith("41"):
        return "pharmacy"
    if req.med_type.startswith("52"):
        return "maternity"
    if req.med_type[:1] == "2":
        return "inpatient"
    if req.med_type.startswith("14"):
        return "chronic"
    return "outpatient"


def _proposal(req: PrecheckRequest) -> tuple[Settlement, list[SettlementLine]]:
    key = f"PRE{uuid.uuid4().hex[:24]}"
    total = sum(item.amount_fen for item in req.items)
    anchor = Settlement(
        setl_id=key,
        mdtrt_id=req.mdtrt_id or key,
        msgid=key,
        request_sha256="",
        fixmedins_code=req.fixmedins_code,
        institution_level="",
        psn_no=req.psn_no,
        insutype=req.insutype,
        psn_type="",
        insuplc_admdvs="",
        mdtrtarea_admvs="",
        med_type=req.med_type,
        clr_type="",
        mdtrt_cert_type="",
        policy_id=0,
        begntime=req.begntime,
        setl_time=now_china(),
        medfee_sumamt_fen=total,
        fully_self_paid_fen=0,
        over_price_cap_fen=0,
        self_pay_first_fen=0,
        policy_range_fen=0,
        deductible_fen=0,
        pool_ratio=Decimal(0),
        pooled_fund_paid_fen=0,
        fund_paid_total_fen=0,
        personal_burden_fen=total,
        cash_paid_fen=total,
        calc_trace="pre-check",
        encounter_kind=_kind(req),
    )
    lines = [
        SettlementLine(
            setl_id=key,
            feedetl_sn=str(number),
            med_list_codg=item.med_list_codg,
            medins_list_codg=item.medins_list_codg or item.med_list_codg,
            cnt=item.cnt,
            pric=item.pric,
            amount_fen=item.amount_fen,
            selfpay_prop=Decimal(0),
            chrgitm_lv="",
            med_chrgitm_type="",
            fully_self_paid_fen=0,
            over_price_cap_fen=0,
            self_pay_first_fen=0,
            policy_range_fen=0,
        )
        for number, item in enumerate(req.items, start=1)
    ]
    return anchor, lines


def warning_id(req: PrecheckRequest, finding: Finding, anchor: Settlement) -> str:
    """The same facts about the same order give the same id, whenever asked (3103 names it)."""
    facts = finding.dedupe_key.replace(anchor.setl_id, "proposal")
    text = "|".join((req.fixmedins_code, req.psn_no, req.mdtrt_id or "", facts))
    return "W" + hashlib.sha256(text.encode()).hexdigest()[:40]


async def precheck(session: AsyncSession, req: PrecheckRequest) -> PrecheckOut:
    """The violations the proposal would raise if charged now. Writes it in ``session``: the caller rolls
    the session back."""
    unknown = sorted(set(req.rule_codes) - set(RULES))
    if unknown:
        raise NotFound(f"监管规则不存在: {', '.join(unknown)}", code="RULE_NOT_FOUND")
    anchor, lines = _proposal(req)
    session.add(anchor)
    await session.flush()
    session.add_all(lines)
    await session.flush()
    chosen = set(req.rule_codes) or None
    findings = await supervision.judge_proposal(session, anchor, [x.med_list_codg for x in lines], chosen)
    violations = []
    for finding in findings:
        drug = finding.evidence.get("med_list_codg")
        violations.append(
            Violation(
                jr_id=warning_id(req, finding, anchor),
                rule_code=finding.rule_code,
                rule_name=RULES[finding.rule_code].title,
                severity=SEVERITY.get(finding.rule_code, "3"),
                summary=finding.summary,
                rx_ids=[i.rx_id for i in req.items if drug is not None and i.med_list_codg == drug],
                evidence=finding.evidence,
            )
        )
    return PrecheckOut(violations=violations)


async def record_feedback(session: AsyncSession, req: FeedbackRequest, msgid: str) -> FeedbackOut:
    """3103: one row per warning answered. Going on with an order the rules warned about needs a reason
    (the national rule: 处理原因 is required with 继续执行)."""
    for warn in req.warns:
        if warn.dspo_way == "1" and not warn.dspo_way_rea.strip():
            raise Unprocessable(
                f"违规 {warn.warn_rslt_id} 选择继续执行医嘱时须填写处理原因 dspo_way_rea",
                code="FEEDBACK_REASON",
            )
    # One row per warning: named twice in one feedback, the last answer stands.
    answers = {w.warn_rslt_id: w for w in req.warns}
    session.add_all(
        PrecheckFeedback(
            fixmedins_code=req.fixmedins_code,
            msgid=msgid,
            warn_rslt_id=w.warn_rslt_id,
            warn_type=req.warn_type,
            dspo_way=w.dspo_way,
            dspo_way_rea=w.dspo_way_rea.strip(),
        )
        for w in answers.values()
    )
    await session.flush()
    return FeedbackOut(warn_type=req.warn_type, recorded=list(answers))
