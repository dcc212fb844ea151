"""Chronic-disease outpatient care (门诊慢性病, docs/domain.md, "Money out", step 2): a fixed sum up to a
yearly threshold, a ratio on the year's cost above it, within a yearly cap, for a disease on the policy's
list; paid as the entitlement on the year's surviving chronic cost less what surviving settlements got,
within the pooled yearly ceiling (chronic, inpatient and maternity payments share it)."""

from __future__ import annotations

from settlement.adjudication.model import (
    POOLED_FUND,
    Encounter,
    FundShare,
    NotEligible,
    PooledPayment,
    YearToDate,
    owed,
    pooled_room,
    yuan,
)
from settlement.policy.document import ChronicOutpatient, PolicyDocument
from shared.money import apply_ratio


def entitlement(rules: ChronicOutpatient, cost_fen: int) -> int:
    """The year's chronic benefit on ``cost_fen`` of policy-range chronic cost."""
    earned = min(rules.fixed_fen, cost_fen) + apply_ratio(
        max(0, cost_fen - rules.threshold_fen), rules.ratio_above
    )
    return min(earned, rules.annual_cap_fen)


def pay(in_range: int, encounter: Encounter, policy: PolicyDocument, ytd: YearToDate) -> PooledPayment:
    rules = policy.chronic
    if rules is None or encounter.chronic_disease not in rules.diseases:
        raise NotEligible(f"病种 {encounter.chronic_disease} 不在本地区门诊慢性病病种范围内")
    after = ytd.chronic_cost_fen + in_range
    entitled = entitlement(rules, after)
    earned = owed(entitled, ytd.chronic_paid_fen)
    room = pooled_room(policy.pooled_annual_ceiling_fen, ytd)
    pooled = min(earned, room, in_range)
    note = (
        f"门诊慢性病：年内费用 {yuan(ytd.chronic_cost_fen)} → {yuan(after)}；"
        f"{yuan(rules.threshold_fen)} 以下定额 {yuan(rules.fixed_fen)}，"
        f"以上部分 × {rules.ratio_above}，"
        f"年度封顶 {yuan(rules.annual_cap_fen)}；年内应享 {yuan(entitled)}，已付 "
        f"{yuan(ytd.chronic_paid_fen)}，本次应付 {yuan(earned)}；"
        f"统筹年度限额剩余 {yuan(room)}；支付 {yuan(pooled)}"
    )
    return PooledPayment(
        FundShare(POOLED_FUND, in_range, room, pooled, note),
        YearToDate(chronic_cost_fen=in_range, chronic_paid_fen=pooled, pooled_paid_fen=pooled),
        {"chronic_entitled_fen": entitled, "chronic_before_fen": ytd.chronic_paid_fen},
        ratio=rules.ratio_above,
    )
