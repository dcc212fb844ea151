"""Out-of-area care (异地就医; docs/domain.md, "Money out"): care outside the insured region without a
filing (备案) loses the policy's ``unfiled_out_of_area_reduction`` in ratio points from the pooled fund's
ratio: the outpatient-pooling ratio (pharmacy and ordinary outpatient care) and the inpatient ratio or
every inpatient band. Filed care (a referral / out-of-area filing in force, ``filings``) loses the
policy's ``filed_out_of_area_reduction`` instead (none in the demo: the local ratio). Maternity is a fixed
sum, and the chronic benefit a
fixed sum plus a ratio the policy does not lower: neither is reduced (the trace still notes the care as
unfiled out-of-area)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from settlement.adjudication.model import Encounter
from settlement.policy.document import PolicyDocument


@dataclass(frozen=True, slots=True)
class Reduction:
    points: Decimal
    note: str | None


def reduction(encounter: Encounter, policy: PolicyDocument) -> Reduction:
    if encounter.out_of_area and not encounter.filed and policy.unfiled_out_of_area_reduction:
        points = policy.unfiled_out_of_area_reduction
        return Reduction(points, f"异地就医未备案，统筹支付比例降低 {points}")
    filed_points = policy.filings.filed_out_of_area_reduction if policy.filings is not None else Decimal(0)
    if encounter.out_of_area and encounter.filed and filed_points:
        return Reduction(filed_points, f"异地就医已备案，统筹支付比例降低 {filed_points}（备案待遇）")
    return Reduction(Decimal(0), None)
