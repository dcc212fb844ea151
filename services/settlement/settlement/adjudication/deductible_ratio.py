"""The pooled fund's (390100) deductible and ratio (docs/domain.md, "Money out", step 2):

- outpatient pooling (pharmacy purchases and ordinary outpatient care): a yearly deductible, one ratio, a
  yearly cap;
- inpatient: a deductible by hospital level, scaled by the admission's number in the year, met once per
  stay on the stay's cumulative policy-range cost (Jinzhai 002: 住院医药费用起付线为300元), then a ratio by
  level or amount bands (``bands``) on the stay's total above it; a later part of a stay (中途结算) pays
  the stay's entitlement less what its surviving earlier parts got. Within the pooled yearly ceiling.

Out-of-area care without a filing arrives here as ``reduction`` points off every ratio (``out_of_area``).
"""

from __future__ import annotations

from decimal import Decimal

from settlement.adjudication import bands as banding
from settlement.adjudication.model import (
    POOLED_FUND,
    Encounter,
    FundShare,
    PooledPayment,
    StaySoFar,
    YearToDate,
    owed,
    pooled_room,
    yuan,
)
from settlement.policy.document import PolicyDocument
from shared.money import apply_ratio


def outpatient(in_range: int, policy: PolicyDocument, ytd: YearToDate, reduction: Decimal) -> PooledPayment:
    rules = policy.outpatient
    deductible = min(in_range, max(0, rules.deductible_fen - ytd.outpatient_deductible_fen))
    ratio = max(Decimal(0), rules.ratio - reduction)
    room = max(0, rules.annual_cap_fen - ytd.outpatient_paid_fen)
    by_ratio = apply_ratio(in_range - deductible, ratio)
    pooled = min(by_ratio, room)
    note = (
        f"门诊统筹：起付线 {yuan(rules.deductible_fen)}（年内已计 {yuan(ytd.outpatient_deductible_fen)}，"
        f"本次 "
        f"{yuan(deductible)}）；({yuan(in_range)} - {yuan(deductible)}) × {ratio} = {yuan(by_ratio)}；"
        f"年度限额 {yuan(rules.annual_cap_fen)}，已付 {yuan(ytd.outpatient_paid_fen)}，剩余 "
        f"{yuan(room)}；支付 {yuan(pooled)}"
    )
    return PooledPayment(
        FundShare(POOLED_FUND, in_range - deductible, room, pooled, note),
        YearToDate(outpatient_deductible_fen=deductible, outpatient_paid_fen=pooled),
        {
            "outpatient_cap_entitled_fen": rules.annual_cap_fen,
            "outpatient_cap_before_fen": ytd.outpatient_paid_fen,
        },
        deductible_fen=deductible,
        ratio=ratio,
    )


def inpatient(
    in_range: int, encounter: Encounter, policy: PolicyDocument, ytd: YearToDate, reduction: Decimal
) -> PooledPayment:
    rules = policy.inpatient
    level = encounter.institution_level
    stay = encounter.stay or StaySoFar()
    if encounter.stay is None:
        factors = rules.admission_deductible_factors
        factor = factors[min(max(encounter.admission_sequence, 1), len(factors)) - 1]
        stay_deductible = apply_ratio(rules.deductible_by_level[level], factor)
        whose = (
            f"{level}级医院第{encounter.admission_sequence}次住院起付线 "
            f"{yuan(rules.deductible_by_level[level])} × {factor} = {yuan(stay_deductible)}"
        )
    else:
        stay_deductible = stay.stay_deductible_fen
        whose = f"中途结算续结：本次住院起付线 {yuan(stay_deductible)}（已结 {yuan(stay.policy_range_fen)}）"
    # "起付线 per admission" (docs/domain.md): once per stay, on the stay's cumulative policy-range cost;
    # the ratio or bands apply to the stay's total above it.
    stay_in_range = stay.policy_range_fen + in_range
    stay_met = min(stay_in_range, stay_deductible)
    deductible = max(0, stay_met - stay.deductible_fen)
    base = stay_in_range - stay_met
    level_bands = rules.bands_by_level.get(level)
    if level_bands:
        by_ratio = banding.banded(base, banding.lowered(level_bands, reduction))
        ratio = level_bands[0].ratio - reduction
        how = banding.describe(level_bands)
    else:
        ratio = max(Decimal(0), rules.ratio_by_level[level] - reduction)
        by_ratio = apply_ratio(base, ratio)
        how = f"比例 {ratio}"
    earned = owed(by_ratio, stay.pooled_fen)
    room = pooled_room(policy.pooled_annual_ceiling_fen, ytd)
    pooled = min(earned, room, in_range)
    note = (
        f"住院：{whose}，本次 {yuan(deductible)}；"
        f"本次住院政策范围内累计 {yuan(stay_in_range)}，({yuan(stay_in_range)} - {yuan(stay_met)}) {how} "
        f"= {yuan(by_ratio)}，本次住院已付 {yuan(stay.pooled_fen)}，本次应付 {yuan(earned)}；"
        f"统筹年度限额 {yuan(policy.pooled_annual_ceiling_fen)}，已付 {yuan(ytd.pooled_paid_fen)}，"
        f"剩余 {yuan(room)}；支付 {yuan(pooled)}"
    )
    return PooledPayment(
        FundShare(POOLED_FUND, in_range - deductible, room, pooled, note),
        YearToDate(pooled_paid_fen=pooled, admissions=0 if encounter.continuing_stay else 1),
        {
            "stay_deductible_fen": stay_deductible,
            "stay_entitled_fen": by_ratio,
            "stay_before_fen": stay.pooled_fen,
            "pooled_ceiling_entitled_fen": policy.pooled_annual_ceiling_fen,
            "pooled_ceiling_before_fen": ytd.pooled_paid_fen,
        },
        deductible_fen=deductible,
        ratio=ratio,
    )
