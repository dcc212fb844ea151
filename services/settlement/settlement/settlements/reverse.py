"""Reversals (2103/2208/2305). A reversal is its own settlement record with a new setl_id and negated
amounts that subtracts exactly what the original added to the accumulator."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from settlement import metrics
from settlement.eligibility import service as eligibility
from settlement.interplatform.models import PeerSettlement
from settlement.settlements.answers import load
from settlement.settlements.calculation import move
from settlement.settlements.claims import new_id
from settlement.settlements.models import Settlement, SettlementFund
from settlement.settlements.schemas import SettlementOut
from settlement.settlements.stores import store_for
from shared.clock import CHINA_TZ, now_china
from shared.errors import Conflict, DomainError, NotFound
from shared.events import FundPayment, SettlementReversed

#: The amounts a reversal carries negated.
NEGATED = (
    "medfee_sumamt_fen",
    "fully_self_paid_fen",
    "over_price_cap_fen",
    "self_pay_first_fen",
    "policy_range_fen",
    "deductible_fen",
    "pooled_fund_paid_fen",
    "catastrophic_paid_fen",
    "assistance_paid_fen",
    "fund_paid_total_fen",
    "personal_burden_fen",
    "account_paid_fen",
    "cash_paid_fen",
)


async def reverse(
    session: AsyncSession,
    setl_id: str,
    fixmedins_code: str,
    msgid: str,
    psn_no: str | None = None,
    *,
    any_msgid: bool = False,
) -> SettlementOut:
    """2103/2208/2305: undo one settlement with a new settlement record of negated amounts. Only the
    institution that settled may reverse; a settlement is reversed at most once (decided under the
    settlement's row lock, and by the unique index on ``reversal_of``); repeating the reversal's msgid
    answers with the first reversal. ``any_msgid`` (2601): a settlement already reversed under another
    msgid answers with that reversal, since what the sender asks for (no effect of the original) holds."""
    store = store_for(session)
    earlier = await store.settlement_by_msgid(session, msgid)
    if earlier is not None:
        if earlier.reversal_of != setl_id:
            raise Conflict(f"报文ID {msgid} 已用于另一笔交易", code="MSGID_REUSED")
        return await load(session, earlier.setl_id, replayed=True)
    original = await store.lock_settlement(session, setl_id)
    if original is None or original.status == "reversal":
        raise NotFound(f"结算记录不存在: {setl_id}", code="SETTLEMENT_NOT_FOUND")
    if original.fixmedins_code != fixmedins_code:
        raise DomainError("只能撤销本机构的结算", code="NOT_YOUR_SETTLEMENT", status_code=403)
    if psn_no is not None and psn_no != original.psn_no:
        raise DomainError("人员编号与原结算不符", code="PSN_MISMATCH", status_code=422)
    if original.status == "reversed":
        # Decided under the row lock: a concurrent reversal of the same settlement committed first.
        first = await store.reversal_of(session, original)
        if first is not None and (first.msgid == msgid or any_msgid):
            return await load(session, first.setl_id, replayed=True)
        raise Conflict(f"该结算已于 {original.reversed_by} 撤销，不能重复撤销", code="ALREADY_REVERSED")
    await store.claim_reversal_msgid(session, msgid)
    year = original.begntime.astimezone(CHINA_TZ).year
    totals = await eligibility.lock_accumulator(session, original.psn_no, year, original.insutype)
    now = now_china()
    reversal = _reversal(original, new_id("S", original.mdtrtarea_admvs, now), msgid, now)
    funds = await store.funds_of(session, original.setl_id)
    # A peer platform's insured (跨省, docs/interface.md, "Between platforms"): their totals are the
    # peer's; the reversal owes the peer a release of its reservation, sent after the commit.
    peer = await session.scalar(
        select(PeerSettlement).where(PeerSettlement.setl_id == original.setl_id).with_for_update()
    )
    if peer is None:
        move(totals, original.ytd_delta, -1)
    else:
        peer.status, peer.reversal_setl_id, peer.updated_at = "releasing", reversal.setl_id, now
        peer.release_reason = peer.release_reason or "reversal"
    await store.write_reversal(
        session,
        original,
        reversal,
        [_negated_fund(fund, reversal.setl_id, original.setl_id) for fund in funds],
        totals,
        SettlementReversed(
            setl_id=reversal.setl_id,
            original_setl_id=original.setl_id,
            mdtrt_id=original.mdtrt_id,
            msgid=msgid,
            psn_no=original.psn_no,
            fixmedins_code=original.fixmedins_code,
            insutype=original.insutype,
            insuplc_admdvs=original.insuplc_admdvs,
            mdtrtarea_admvs=original.mdtrtarea_admvs,
            clr_type=original.clr_type,
            med_type=original.med_type,
            setl_time=now,
            medfee_sumamt_fen=-original.medfee_sumamt_fen,
            fund_pay_sumamt_fen=-original.fund_paid_total_fen,
            psn_cash_pay_fen=-original.cash_paid_fen,
            fund_payments=[FundPayment(fund_pay_type=f.fund_pay_type, amount_fen=-f.paid_fen) for f in funds],
            insured_platform=peer.peer if peer is not None else None,
        ),
    )
    metrics.record_reversal(
        session,
        setl_id=reversal.setl_id,
        encounter_kind=original.encounter_kind,
        med_type=original.med_type,
        clr_type=original.clr_type,
        institution_level=original.institution_level,
        funds=[(f.fund_pay_type, f.paid_fen) for f in funds],
        cash_paid_fen=original.cash_paid_fen,
    )
    metrics.record_out_of_area(
        session,
        insuplc_admdvs=original.insuplc_admdvs,
        mdtrtarea_admvs=original.mdtrtarea_admvs,
        fund_fen=original.fund_paid_total_fen,
        operation="reverse",
        pay_loc="4" if peer is not None else None,
    )
    return await load(session, reversal.setl_id)


def _reversal(original: Settlement, setl_id: str, msgid: str, at: datetime) -> Settlement:
    """The reversal record: the original's description, its amounts and year-to-date delta negated."""
    return Settlement(
        setl_id=setl_id,
        mdtrt_id=original.mdtrt_id,
        msgid=msgid,
        request_sha256=original.request_sha256,
        fixmedins_code=original.fixmedins_code,
        institution_level=original.institution_level,
        psn_no=original.psn_no,
        insutype=original.insutype,
        psn_type=original.psn_type,
        insuplc_admdvs=original.insuplc_admdvs,
        mdtrtarea_admvs=original.mdtrtarea_admvs,
        med_type=original.med_type,
        clr_type=original.clr_type,
        mdtrt_cert_type=original.mdtrt_cert_type,
        invono=original.invono,
        policy_id=original.policy_id,
        begntime=original.begntime,
        setl_time=at,
        pool_ratio=original.pool_ratio,
        calc_trace=f"撤销结算 {original.setl_id}",
        encounter_kind=original.encounter_kind,
        status="reversal",
        reversal_of=original.setl_id,
        ytd_delta={name: -int(value) for name, value in original.ytd_delta.items()},
        **{name: -getattr(original, name) for name in NEGATED},
    )


def _negated_fund(fund: SettlementFund, reversal_id: str, original_id: str) -> SettlementFund:
    return SettlementFund(
        setl_id=reversal_id,
        fund_pay_type=fund.fund_pay_type,
        policy_range_fen=-fund.policy_range_fen,
        payable_limit_fen=fund.payable_limit_fen,
        paid_fen=-fund.paid_fen,
        calc_trace=f"撤销 {original_id}",
    )
