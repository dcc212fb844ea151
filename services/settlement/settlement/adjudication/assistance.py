"""Medical assistance (医疗救助, fund 610100; docs/domain.md, "Money out", step 4): for a person holding a
subsidised identity (特困 2101, 低保 2102, ...), on the policy-range burden left after the pooled fund and
catastrophic insurance, after the identity's own yearly deductible, at its ratio, within its yearly cap.
A person holding several identities is assisted under the most generous one (highest ratio, then highest
cap). Paid as the entitlement on the year's surviving base less what surviving settlements got."""

from __future__ import annotations

from settlement.adjudication.model import (
    ASSISTANCE_FUND,
    MAJOR_KINDS,
    Encounter,
    FundShare,
    LayerPayment,
    YearToDate,
    owed,
    yuan,
)
from settlement.policy.document import Assistance, PolicyDocument
from shared.money import apply_ratio


def chosen(identities: list[str], policy: PolicyDocument) -> tuple[str, Assistance] | None:
    """The identity whose assistance is the most generous (ratio first, then the yearly cap)."""
    rules_for = [(code, policy.assistance[code]) for code in identities if code in policy.assistance]
    if not rules_for:
        return None
    return max(rules_for, key=lambda item: (item[1].ratio, item[1].annual_cap_fen))


def entitlement(rules: Assistance, base_fen: int) -> int:
    """The year's assistance on ``base_fen`` of assisted policy-range burden."""
    return min(apply_ratio(max(0, base_fen - rules.deductible_fen), rules.ratio), rules.annual_cap_fen)


def pay(
    base: int, encounter: Encounter, identities: list[str], policy: PolicyDocument, ytd: YearToDate
) -> LayerPayment | None:
    """``base``: this settlement's policy-range burden after the pooled fund and catastrophic insurance.
    None when the kind of care opens no assistance or the person holds no assisted identity."""
    if encounter.kind not in MAJOR_KINDS:
        return None
    pick = chosen(identities, policy)
    if pick is None:
        return None
    code, rules = pick
    after = ytd.assistance_base_fen + base
    entitled = entitlement(rules, after)
    room = max(0, rules.annual_cap_fen - ytd.assistance_paid_fen)
    paid = max(0, min(owed(entitled, ytd.assistance_paid_fen), base, room))
    note = (
        f"医疗救助（身份 {code}）：年内救助基数 {yuan(ytd.assistance_base_fen)} → {yuan(after)}，"
        f"起付 {yuan(rules.deductible_fen)}，比例 {rules.ratio}，年内应享 {yuan(entitled)}，"
        f"已付 {yuan(ytd.assistance_paid_fen)}，支付 {yuan(paid)}"
    )
    return LayerPayment(
        FundShare(ASSISTANCE_FUND, base, room, paid, note),
        YearToDate(assistance_base_fen=base, assistance_paid_fen=paid),
        {"assistance_entitled_fen": entitled, "assistance_before_fen": ytd.assistance_paid_fen},
    )
