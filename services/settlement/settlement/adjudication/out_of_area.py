"""Out-of-area care (异地就医; docs/domain.md, "Money out"): care outside the insured region without a
filing (备案) loses the policy's ``unfiled_out_of_area_reduction`` in ratio points from the pooled fund's
ratio: the outpatient-pooling ratio (pharmacy and ordinary outpatient care) and the inpatient ratio or
every inpatient band. Filed care (a referral / out-of-area filing in force, ``filings``) loses the
policy's filed points for the filing's kind instead (``FilingRules.filed_reduction``: resident elsewhere,
referred or temporary, each defaulting to ``filed_out_of_area_reduction``; none in the demo: the local
ratio). Maternity is a fixed
sum, and the chronic benefit a
fixed sum plus a ratio the policy does not lower: neither is reduced (the trace still notes the care as
unfiled out-of-area)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from settlement.adjudication.model import Encounter
from settlement.policy.document import PolicyDocument

#: 异地就医备案类别 → the policy kind whose filed ratio applies (docs/domain.md, "Filings").
POLICY_KIND = {
    "01": "resident",  # 异地安置退休
    "02": "resident",  # 异地长期居住
    "03": "resident",  # 常驻异地工作
    "04": "referred",  # 异地转诊
    "05": "temporary",  # 异地急诊抢救
    "06": "temporary",  # 其他临时外出就医
}
KIND_NAMES = {"resident": "异地长期居住", "referred": "转诊转院", "temporary": "临时外出就医"}


def filed_points(policy: PolicyDocument, dcla_type: str | None) -> Decimal:
    """What filed care of this 异地就医备案类别 loses under the policy (0 without filing rules)."""
    if policy.filings is None:
        return Decimal(0)
    return policy.filings.filed_reduction(POLICY_KIND.get(dcla_type or ""))


@dataclass(frozen=True, slots=True)
class Reduction:
    points: Decimal
    note: str | None


def reduction(encounter: Encounter, policy: PolicyDocument) -> Reduction:
    if encounter.out_of_area and not encounter.filed and policy.unfiled_out_of_area_reduction:
        points = policy.unfiled_out_of_area_reduction
        return Reduction(points, f"异地就医未备案，统筹支付比例降低 {points}")
    points = filed_points(policy, encounter.filed_kind)
    if encounter.out_of_area and encounter.filed and points:
        kind = KIND_NAMES.get(POLICY_KIND.get(encounter.filed_kind or "", ""), "备案")
        return Reduction(points, f"异地就医已备案（{kind}），统筹支付比例降低 {points}")
    return Reduction(Decimal(0), None)
