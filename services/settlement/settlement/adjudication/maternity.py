"""Maternity (住院分娩, docs/domain.md, "Money out", step 2): one fixed sum by delivery type per delivery
(Jinzhai 002: 计生定点分娩补偿), whatever the parts of the stay, never more than the stay's policy-range
cost, within the pooled yearly ceiling."""

from __future__ import annotations

from settlement.adjudication.model import (
    POOLED_FUND,
    Encounter,
    FundShare,
    NotEligible,
    PooledPayment,
    StaySoFar,
    YearToDate,
    owed,
    pooled_room,
    yuan,
)
from settlement.policy.document import PolicyDocument


def pay(in_range: int, encounter: Encounter, policy: PolicyDocument, ytd: YearToDate) -> PooledPayment:
    rules = policy.maternity
    if rules is None or encounter.delivery_type is None:
        raise NotEligible("本地区未设置住院分娩定额补助，或未说明分娩方式")
    fixed = rules.normal_fen if encounter.delivery_type == "normal" else rules.caesarean_fen
    stay = encounter.stay or StaySoFar()
    stay_in_range = stay.policy_range_fen + in_range
    entitled = min(fixed, stay_in_range)
    room = pooled_room(policy.pooled_annual_ceiling_fen, ytd)
    pooled = min(owed(entitled, stay.pooled_fen), room, in_range)
    note = (
        f"住院分娩（{'顺产' if encounter.delivery_type == 'normal' else '剖宫产'}）定额 {yuan(fixed)}，"
        f"本次住院政策范围内累计 {yuan(stay_in_range)}，应享 {yuan(entitled)}，已付 {yuan(stay.pooled_fen)}；"
        f"统筹年度限额剩余 {yuan(room)}；支付 {yuan(pooled)}"
    )
    return PooledPayment(
        FundShare(POOLED_FUND, in_range, room, pooled, note),
        YearToDate(pooled_paid_fen=pooled, admissions=0 if encounter.continuing_stay else 1),
        {
            "stay_entitled_fen": entitled,
            "stay_before_fen": stay.pooled_fen,
            "pooled_ceiling_entitled_fen": policy.pooled_annual_ceiling_fen,
            "pooled_ceiling_before_fen": ytd.pooled_paid_fen,
        },
    )
