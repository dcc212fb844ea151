"""Catastrophic insurance (大病保险, fund 390200; docs/domain.md, "Money out", step 3): on the year's
policy-range personal burden, of the kinds of care the policy counts (``Catastrophic.kinds``; Yutian 000
speaks of 住院 costs), above a threshold, in bands, within a yearly cap; paid as the entitlement on the
year's surviving burden less what surviving settlements got."""

from __future__ import annotations

from settlement.adjudication.bands import banded
from settlement.adjudication.model import (
    CATASTROPHIC_FUND,
    MAJOR_KINDS,
    Encounter,
    FundShare,
    LayerPayment,
    YearToDate,
    owed,
    yuan,
)
from settlement.policy.document import Catastrophic, PolicyDocument


def entitlement(rules: Catastrophic, burden_fen: int) -> int:
    """The year's catastrophic benefit on ``burden_fen`` of counted policy-range personal burden."""
    return min(banded(max(0, burden_fen - rules.threshold_fen), rules.bands), rules.annual_cap_fen)


def pay(burden: int, encounter: Encounter, policy: PolicyDocument, ytd: YearToDate) -> LayerPayment | None:
    """``burden``: this settlement's policy-range cost the pooled fund left to the person. None when the
    policy has no catastrophic insurance or does not count this kind of care."""
    rules = policy.catastrophic
    if encounter.kind not in MAJOR_KINDS or rules is None or encounter.kind not in rules.kinds:
        return None
    after = ytd.catastrophic_burden_fen + burden
    entitled = entitlement(rules, after)
    room = max(0, rules.annual_cap_fen - ytd.catastrophic_paid_fen)
    paid = max(0, min(owed(entitled, ytd.catastrophic_paid_fen), burden, room))
    note = (
        f"大病保险：年内政策范围内个人负担 {yuan(ytd.catastrophic_burden_fen)} → {yuan(after)}，"
        f"起付 {yuan(rules.threshold_fen)}，年内应享 {yuan(entitled)}，"
        f"已付 {yuan(ytd.catastrophic_paid_fen)}，支付 {yuan(paid)}"
    )
    return LayerPayment(
        FundShare(
            CATASTROPHIC_FUND,
            max(0, after - max(ytd.catastrophic_burden_fen, rules.threshold_fen)),
            room,
            paid,
            note,
        ),
        YearToDate(catastrophic_burden_fen=burden, catastrophic_paid_fen=paid),
        {"catastrophic_entitled_fen": entitled, "catastrophic_before_fen": ytd.catastrophic_paid_fen},
    )
