"""The benefit engine: fee lines, encounter, person, institution, policy and year-to-date totals in; the
per-line classification, each fund's share, the patient's cash, the new totals and a readable trace out.
Pure: no I/O, no clock. Every amount is integer fen; every ratio is applied once, rounded half-up.

``adjudicate`` runs the benefit layers in order, one module each (docs/domain.md, "Money out"):

0. ``filings``: what the person's filings in force on the day of care allow (a refusal with its reason:
   chronic care of an unregistered patient, an injury stay without a filing or with a liable third party,
   an unfiled referral stay) and whether out-of-area care is filed.
1. ``lines``: what of each fee line is self-paid (not listed, 丙, unapproved restricted item, over the
   price cap, 乙's self-pay-first share) and what is the policy range (符合政策范围金额).
2. ``out_of_area``: out-of-area care without a filing loses ratio points from the pooled fund (filed care
   the policy's filed points, none in the demo).
3. The pooled fund (390100) by kind of care: ``deductible_ratio`` (outpatient pooling and pharmacy;
   inpatient deductible once per stay, ratio by level or ``bands``), ``chronic`` (fixed sum, ratio above
   the threshold, yearly cap), ``maternity`` (fixed sum per delivery). Inpatient, chronic and maternity
   payments share the pooled yearly ceiling.
4. ``catastrophic`` (390200) on the year's policy-range personal burden above its threshold, in bands.
5. ``assistance`` (610100) for subsidised identities on what remains of the policy-range burden.
6. What the funds do not pay is the patient's cash: residents have no personal account.

Layered benefits are paid as "entitlement on the cumulative costs, this settlement included, minus what
the surviving settlements already got from the layer, never below zero" (issue 23): a stay's deductible,
ratio or bands and maternity sum on the stay's cumulative cost (``StaySoFar``); the chronic, catastrophic
and assistance layers on the year's surviving totals (``YearToDate``: a reversal takes back the costs AND
the payments of the settlement it undoes). However care is split into settlements, each fund pays what one
settlement of the whole pays.
"""

from __future__ import annotations

from settlement.adjudication import (
    assistance,
    catastrophic,
    chronic,
    deductible_ratio,
    filings,
    lines,
    maternity,
    out_of_area,
)
from settlement.adjudication.bands import banded
from settlement.adjudication.lines import classify_line
from settlement.adjudication.model import (
    ASSISTANCE_FUND,
    CATASTROPHIC_FUND,
    CLASS_A,
    CLASS_B,
    CLASS_C,
    MAJOR_KINDS,
    POOLED_FUND,
    Adjudication,
    Encounter,
    FeeLine,
    FundShare,
    Kind,
    LayerPayment,
    LineResult,
    ListEntry,
    ListFlags,
    NotEligible,
    PooledPayment,
    StaySoFar,
    YearToDate,
    flag_columns,
    yuan,
)
from settlement.policy.document import PolicyDocument

__all__ = [
    "ASSISTANCE_FUND",
    "CATASTROPHIC_FUND",
    "CLASS_A",
    "CLASS_B",
    "CLASS_C",
    "MAJOR_KINDS",
    "POOLED_FUND",
    "Adjudication",
    "Encounter",
    "FeeLine",
    "FundShare",
    "Kind",
    "LineResult",
    "ListEntry",
    "ListFlags",
    "NotEligible",
    "StaySoFar",
    "YearToDate",
    "adjudicate",
    "banded",
    "classify_line",
    "flag_columns",
]


def pooled_layer(
    in_range: int,
    encounter: Encounter,
    policy: PolicyDocument,
    ytd: YearToDate,
    reduction: out_of_area.Reduction,
) -> PooledPayment:
    """The pooled fund's layer for the kind of care."""
    if encounter.kind in ("pharmacy", "outpatient"):
        return deductible_ratio.outpatient(in_range, policy, ytd, reduction.points)
    if encounter.kind == "chronic":
        return chronic.pay(in_range, encounter, policy, ytd)
    if encounter.kind == "inpatient":
        return deductible_ratio.inpatient(in_range, encounter, policy, ytd, reduction.points)
    return maternity.pay(in_range, encounter, policy, ytd)


def adjudicate(
    fee_lines: list[FeeLine],
    catalogue: dict[str, ListEntry],
    encounter: Encounter,
    identities: list[str],
    policy: PolicyDocument,
    ytd: YearToDate,
) -> Adjudication:
    encounter, filed_notes = filings.layer(encounter, policy)
    # 就医地目录: the treating institution's level and region decide the price caps.
    counted = lines.classify(
        fee_lines, catalogue, encounter.institution_level, encounter.mdtrtarea_admdvs or None
    )
    trace = [counted.note, *filed_notes]
    reduction = out_of_area.reduction(encounter, policy)
    if reduction.note:
        trace.append(reduction.note)

    pooled = pooled_layer(counted.policy_range_fen, encounter, policy, ytd, reduction)
    burden = counted.policy_range_fen - pooled.paid_fen  # policy-range cost the person still bears
    cat = catastrophic.pay(burden, encounter, policy, ytd)
    aid = assistance.pay(burden - (cat.paid_fen if cat else 0), encounter, identities, policy, ytd)

    paid: list[LayerPayment] = [layer for layer in (pooled, cat, aid) if layer is not None]
    delta = YearToDate()
    layers: dict[str, int] = {}
    for layer in paid:
        trace.append(layer.share.trace)
        delta = delta.plus(layer.delta)
        layers.update(layer.layers)
    funds = [layer.share for layer in paid]
    fund_total = sum(f.paid_fen for f in funds)
    cash = counted.total_fen - fund_total
    trace.append(f"基金支付合计 {yuan(fund_total)}；个人现金支付 {yuan(cash)}（居民医保无个人账户）")
    return Adjudication(
        lines=counted.results,
        medfee_sumamt_fen=counted.total_fen,
        fully_self_paid_fen=counted.fully_self_paid_fen,
        over_price_cap_fen=counted.over_price_cap_fen,
        self_pay_first_fen=counted.self_pay_first_fen,
        policy_range_fen=counted.policy_range_fen,
        deductible_fen=pooled.deductible_fen,
        pool_ratio=pooled.ratio,
        pooled_fen=pooled.paid_fen,
        catastrophic_fen=cat.paid_fen if cat else 0,
        assistance_fen=aid.paid_fen if aid else 0,
        funds=funds,
        fund_paid_total_fen=fund_total,
        cash_paid_fen=cash,
        delta=delta,
        trace=trace,
        layers=layers,
    )
