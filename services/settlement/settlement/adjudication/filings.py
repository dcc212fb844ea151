"""The filings layer (docs/domain.md, "Filings"): what the person's filings in force on the day of care
allow, before any fund is computed. Pure: the caller reads the filings (``Standing``) and the policy's
``FilingRules``; this decides.

- 门慢门特 (chronic) care: only for a registered patient, the disease filed and in force on the day
  (Jinzhai 002: "中心认定、乡镇公示、专家复查"; Tianjin art. 20: 经门诊特定疾病鉴定机构鉴定), and, when the
  policy says so, at the facility filed for the patient (Tianjin art. 20: 门诊特定疾病实行定点就医);
- injury stays (med_type 22) need an injury filing (2507) in force; one declaring a liable third party or a
  work injury is refused with that reason (Tianjin art. 18: 应当从工伤保险基金中支付的 / 应当由第三人负担的);
- referral stays (med_type 23) need a referral filing (2501) in force when the policy says so;
- care in a region (or at an institution) a referral / out-of-area filing names is "filed": the engine
  applies the policy's filed ratio for the filing's kind (异地就医备案类别: resident elsewhere, referred,
  temporary) instead of the unfiled cut (Jinzhai 002: 电话备案并给予定点待遇); with several filings for the
  place, the kind with the smallest cut (the person's best filing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from settlement.adjudication.model import Encounter, InjuryFiling, Standing
from settlement.adjudication.out_of_area import filed_points
from settlement.policy.document import FilingRules, PolicyDocument
from shared.errors import DomainError

__all__ = ["Care", "InjuryFiling", "Outcome", "Standing", "apply", "best_kind", "layer", "refusal"]

INJURY_MED_TYPE = "22"  # 外伤住院
REFERRAL_MED_TYPE = "23"  # 转外诊治住院


@dataclass(frozen=True, slots=True)
class Care:
    """The care being settled, as far as filings matter."""

    kind: str
    med_type: str
    fixmedins_code: str
    mdtrtarea_admdvs: str
    chronic_disease: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    #: Covered by a referral / out-of-area filing: the policy's filed ratio applies out of area.
    filed: bool
    notes: tuple[str, ...] = ()
    #: The 异地就医备案类别 of the filings covering the care (none for a filing stored without one).
    kinds: frozenset[str] = frozenset()


def refusal(care: Care, standing: Standing, rules: FilingRules) -> DomainError | None:
    """Why the filings in force do not allow this care (None: they do)."""
    day = standing.on
    chronic = care.kind == "chronic"
    if (
        chronic
        and rules.chronic_requires_registration
        and care.chronic_disease not in standing.chronic_diseases
    ):
        return DomainError(
            f"人员在 {day} 没有病种 {care.chronic_disease} 的有效门慢门特备案，不能享受门诊慢特病待遇"
            "（须经认定备案，2503）",
            code="CHRONIC_NOT_FILED",
            status_code=422,
        )
    designated = care.fixmedins_code in standing.designated_facilities
    if chronic and rules.chronic_requires_designated_facility and not designated:
        return DomainError(
            f"机构 {care.fixmedins_code} 不是该门慢门特患者在 {day} 有效的定点机构"
            "（门诊特定疾病实行定点就医，须先办理人员定点备案，2505）",
            code="CHRONIC_NOT_DESIGNATED",
            status_code=422,
        )
    if care.med_type.startswith(INJURY_MED_TYPE):
        payable = [i for i in standing.injuries if not i.third_party_liable and not i.work_injury]
        if not payable and standing.injuries:
            first = standing.injuries[0]
            if first.work_injury:
                return DomainError(
                    f"意外伤害备案 {first.trt_dcla_detl_sn} 申报为工伤：应当从工伤保险基金中支付的医疗费用，"
                    "基本医疗保险基金不予支付",
                    code="EXCLUDED_WORK_INJURY",
                    status_code=422,
                )
            return DomainError(
                f"意外伤害备案 {first.trt_dcla_detl_sn} 申报有第三方责任：应当由第三人负担的医疗费用，"
                "基本医疗保险基金不予支付",
                code="EXCLUDED_THIRD_PARTY",
                status_code=422,
            )
        if not payable and rules.injury_requires_filing:
            return DomainError(
                f"人员在 {day} 没有有效的意外伤害备案（2507，须声明无第三方责任），外伤住院不能结算",
                code="INJURY_NOT_FILED",
                status_code=422,
            )
    referral = care.med_type.startswith(REFERRAL_MED_TYPE)
    if referral and rules.referral_requires_filing and not _filed(care, standing):
        return DomainError(
            f"人员在 {day} 没有转往就医地 {care.mdtrtarea_admdvs} 或机构 {care.fixmedins_code} 的有效转院备案"
            "（2501），转外诊治住院不能结算",
            code="REFERRAL_NOT_FILED",
            status_code=422,
        )
    return None


def _filed(care: Care, standing: Standing) -> bool:
    return (
        care.mdtrtarea_admdvs in standing.referral_regions
        or care.fixmedins_code in standing.referral_facilities
    )


def apply(care: Care, standing: Standing, rules: FilingRules) -> Outcome:
    """The filings layer: refuses care the filings do not allow (a ``DomainError`` with its code), else
    says whether the care is filed out-of-area / referral care."""
    refused = refusal(care, standing, rules)
    if refused is not None:
        raise refused
    notes: list[str] = []
    if care.kind == "chronic" and rules.chronic_requires_registration:
        notes.append(f"门慢门特备案：病种 {care.chronic_disease} 在 {standing.on} 有效")
    filed = _filed(care, standing)
    kinds = frozenset(
        kind
        for place, kind in standing.referral_kinds
        if place in (care.mdtrtarea_admdvs, care.fixmedins_code)
    )
    if filed:
        named = f"（类别 {'、'.join(sorted(kinds))}）" if kinds else ""
        notes.append(f"转院/异地就医备案：就医地 {care.mdtrtarea_admdvs} 在 {standing.on} 已备案{named}")
    return Outcome(filed=filed, notes=tuple(notes), kinds=kinds)


def best_kind(outcome: Outcome, policy: PolicyDocument) -> str | None:
    """The 异地就医备案类别 whose filed ratio applies to care ``outcome`` covers: of several filings for the
    place, the kind with the fewest points off (the person's best filing); None when none covers it."""
    return min(sorted(outcome.kinds), key=lambda k: filed_points(policy, k), default=None)


def layer(encounter: Encounter, policy: PolicyDocument) -> tuple[Encounter, tuple[str, ...]]:
    """The filings layer as the engine runs it, first: the encounter as filed (``filed`` set for care a
    referral / out-of-area filing covers) and the trace notes; a refusal raised. Skipped (the encounter as
    it is) when the filings were not read or the policy predates filing rules."""
    if encounter.standing is None or policy.filings is None:
        return encounter, ()
    care = Care(
        encounter.kind,
        encounter.med_type,
        encounter.fixmedins_code,
        encounter.mdtrtarea_admdvs,
        encounter.chronic_disease,
    )
    outcome = apply(care, encounter.standing, policy.filings)
    kind = best_kind(outcome, policy) or encounter.filed_kind
    return replace(encounter, filed=encounter.filed or outcome.filed, filed_kind=kind), outcome.notes
