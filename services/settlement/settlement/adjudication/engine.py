"""The benefit engine: fee lines, encounter, person, institution, policy and year-to-date totals in; the
per-line classification, each fund's share, the patient's cash, the new totals and a readable trace out.
Pure: no I/O, no clock. Every amount is integer fen; every ratio is applied once, rounded half-up.

Order (docs/domain.md, "Money out"):
1. Lines: not listed / 丙 / restricted item without hospital approval -> fully self-paid; a unit price
   above the cap (by hospital level if the list says so) -> the excess is self-paid; 乙 -> the
   self-pay-first share; the rest is the policy range (符合政策范围金额).
2. Pooled fund (390100) by kind of care: outpatient pooling (yearly deductible, ratio, yearly cap) for
   pharmacy and ordinary outpatient care; chronic-disease outpatient (fixed sum up to a yearly threshold,
   a ratio above it, a yearly cap); inpatient (deductible by level and admission sequence, ratio by level
   or by amount bands); maternity (fixed sum by delivery type). Out-of-area care without a filing loses
   some ratio points. Inpatient, chronic and maternity payments share the pooled yearly ceiling.
3. Catastrophic insurance (390200) on the yearly policy-range personal burden above its threshold
   (inpatient, chronic and maternity care), in bands, within a yearly cap.
4. Medical assistance (610100) for subsidised identities on what remains of the policy-range personal
   burden, after its own yearly deductible, within a yearly cap.
5. What the funds do not pay is the patient's cash: residents have no personal account.

Cumulative benefits (chronic, catastrophic, assistance) are computed as the difference of the yearly
entitlement before and after this settlement, so a year's total never depends on how it was split.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Literal

from settlement.policy.document import Band, PolicyDocument
from shared.money import apply_ratio, fen_to_yuan, round_half_up_fen

POOLED_FUND = "390100"
CATASTROPHIC_FUND = "390200"
ASSISTANCE_FUND = "610100"
CLASS_A, CLASS_B, CLASS_C = "1", "2", "3"  # 甲, 乙, 丙

Kind = Literal["pharmacy", "outpatient", "chronic", "inpatient", "maternity"]
#: Kinds whose pooled payments count against the pooled yearly ceiling and that open catastrophic
#: insurance and medical assistance.
MAJOR_KINDS = ("chronic", "inpatient", "maternity")


class NotEligible(ValueError):
    """The encounter does not qualify for the benefit it asks for (e.g. an unregistered chronic disease)."""


@dataclass(frozen=True, slots=True)
class FeeLine:
    feedetl_sn: str
    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    amount_fen: int
    #: hosp_appr_flag: 0 no approval needed, 1 approved, 2 refused.
    hosp_appr_flag: str = "0"


@dataclass(frozen=True, slots=True)
class ListEntry:
    """What the catalogue says about a code on the day of service."""

    chrgitm_lv: str
    selfpay_prop: Decimal
    price_cap: Decimal | None
    med_chrgitm_type: str = "09"
    #: Price caps that differ by hospital level ("1", "2", "3"), overriding ``price_cap``.
    price_cap_by_level: dict[str, Decimal] = field(default_factory=dict)
    #: 限制使用: covered only with the hospital's approval (hosp_appr_flag 1).
    restricted: bool = False

    def cap_for(self, level: str) -> Decimal | None:
        return self.price_cap_by_level.get(level, self.price_cap)


@dataclass(frozen=True, slots=True)
class Encounter:
    kind: Kind
    service_date: date
    institution_level: str
    #: This admission's number in the year (inpatient), 1 for the first.
    admission_sequence: int = 1
    out_of_area: bool = False
    filed: bool = False
    delivery_type: Literal["normal", "caesarean"] | None = None
    chronic_disease: str | None = None
    #: A later settlement of a stay already settled in part (中途结算): the admission's deductible was
    #: applied then, and it is the same admission.
    continuing_stay: bool = False


@dataclass(frozen=True, slots=True)
class YearToDate:
    """A person's totals for the year, by what they limit."""

    outpatient_deductible_fen: int = 0
    outpatient_paid_fen: int = 0
    pooled_paid_fen: int = 0  # inpatient, chronic and maternity: against the pooled yearly ceiling
    chronic_cost_fen: int = 0
    chronic_paid_fen: int = 0
    catastrophic_burden_fen: int = 0
    catastrophic_paid_fen: int = 0
    assistance_base_fen: int = 0
    assistance_paid_fen: int = 0
    admissions: int = 0

    def plus(self, other: YearToDate) -> YearToDate:
        return YearToDate(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    def minus(self, other: YearToDate) -> YearToDate:
        return YearToDate(*(a - b for a, b in zip(_values(self), _values(other), strict=True)))


def _values(ytd: YearToDate) -> tuple[int, ...]:
    return tuple(getattr(ytd, name) for name in YearToDate.__slots__)


@dataclass(frozen=True, slots=True)
class LineResult:
    line: FeeLine
    chrgitm_lv: str
    selfpay_prop: Decimal
    price_cap: Decimal | None
    med_chrgitm_type: str
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    memo: str


@dataclass(frozen=True, slots=True)
class FundShare:
    fund_pay_type: str
    #: The amount this fund computed on (its policy-range base).
    base_fen: int
    #: What was left of its yearly room before this settlement.
    room_fen: int
    paid_fen: int
    trace: str


@dataclass(frozen=True, slots=True)
class Adjudication:
    lines: list[LineResult]
    medfee_sumamt_fen: int
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Decimal
    pooled_fen: int
    catastrophic_fen: int
    assistance_fen: int
    funds: list[FundShare]
    fund_paid_total_fen: int
    cash_paid_fen: int
    #: What this settlement adds to the year's totals (a reversal subtracts exactly this).
    delta: YearToDate
    trace: list[str]

    @property
    def personal_burden_fen(self) -> int:
        return self.medfee_sumamt_fen - self.fund_paid_total_fen


def classify_line(line: FeeLine, entry: ListEntry | None, level: str) -> LineResult:
    if entry is None:
        return LineResult(
            line, CLASS_C, Decimal(1), None, "14", line.amount_fen, 0, 0, 0, "非医保目录内项目，全自费"
        )
    cap = entry.cap_for(level)
    if entry.chrgitm_lv == CLASS_C:
        return LineResult(
            line, CLASS_C, Decimal(1), cap, entry.med_chrgitm_type, line.amount_fen, 0, 0, 0, "丙类，全自费"
        )
    if entry.restricted and line.hosp_appr_flag != "1":
        why = "医院审批不通过" if line.hosp_appr_flag == "2" else "限制使用项目未经医院审批"
        return LineResult(
            line,
            entry.chrgitm_lv,
            Decimal(1),
            cap,
            entry.med_chrgitm_type,
            line.amount_fen,
            0,
            0,
            0,
            f"{why}，全自费",
        )
    over_cap = 0
    memo: list[str] = []
    if cap is not None and line.pric > cap:
        over_cap = max(0, line.amount_fen - round_half_up_fen(line.cnt * cap * 100))
        memo.append(f"单价{line.pric}超限价{cap}，超出部分自费")
    allowed = line.amount_fen - over_cap
    if entry.chrgitm_lv == CLASS_B:
        first = apply_ratio(allowed, entry.selfpay_prop)
        memo.append(f"乙类，先行自付比例{entry.selfpay_prop}")
        prop = entry.selfpay_prop
    else:
        first, prop = 0, Decimal(0)
        memo.append("甲类")
    return LineResult(
        line,
        entry.chrgitm_lv,
        prop,
        cap,
        entry.med_chrgitm_type,
        0,
        over_cap,
        first,
        allowed - first,
        "；".join(memo),
    )


def banded(amount_fen: int, bands: list[Band]) -> int:
    """Each band's ratio on the part of ``amount_fen`` inside it, rounded half-up once on the total."""
    total = Decimal(0)
    floor = 0
    for band in bands:
        top = amount_fen if band.upto_fen is None else min(amount_fen, band.upto_fen)
        if top > floor:
            total += Decimal(top - floor) * band.ratio
        if band.upto_fen is None or amount_fen <= band.upto_fen:
            break
        floor = band.upto_fen
    return round_half_up_fen(total)


def _y(fen: int) -> str:
    return str(fen_to_yuan(fen))


def adjudicate(
    lines: list[FeeLine],
    catalogue: dict[str, ListEntry],
    encounter: Encounter,
    identities: list[str],
    policy: PolicyDocument,
    ytd: YearToDate,
) -> Adjudication:
    level = encounter.institution_level
    results = [classify_line(line, catalogue.get(line.med_list_codg), level) for line in lines]
    total = sum(line.amount_fen for line in lines)
    fully = sum(r.fully_self_paid_fen for r in results)
    over = sum(r.over_price_cap_fen for r in results)
    first = sum(r.self_pay_first_fen for r in results)
    in_range = sum(r.policy_range_fen for r in results)
    trace = [
        f"医疗费总额 {_y(total)} = 全自费 {_y(fully)} + 超限价 {_y(over)} + 先行自付 {_y(first)} "
        f"+ 政策范围内 {_y(in_range)}"
    ]
    delta = YearToDate()
    reduction = Decimal(0)
    if encounter.out_of_area and not encounter.filed and policy.unfiled_out_of_area_reduction:
        reduction = policy.unfiled_out_of_area_reduction
        trace.append(f"异地就医未备案，统筹支付比例降低 {reduction}")

    deductible, ratio, pooled, pooled_room = 0, Decimal(0), 0, 0
    pooled_note = ""
    if encounter.kind in ("pharmacy", "outpatient"):
        rules = policy.outpatient
        deductible = min(in_range, max(0, rules.deductible_fen - ytd.outpatient_deductible_fen))
        ratio = max(Decimal(0), rules.ratio - reduction)
        pooled_room = max(0, rules.annual_cap_fen - ytd.outpatient_paid_fen)
        by_ratio = apply_ratio(in_range - deductible, ratio)
        pooled = min(by_ratio, pooled_room)
        pooled_note = (
            f"门诊统筹：起付线 {_y(rules.deductible_fen)}（年内已计 {_y(ytd.outpatient_deductible_fen)}，"
            f"本次 "
            f"{_y(deductible)}）；({_y(in_range)} - {_y(deductible)}) × {ratio} = {_y(by_ratio)}；"
            f"年度限额剩余 "
            f"{_y(pooled_room)}；支付 {_y(pooled)}"
        )
        delta = replace(delta, outpatient_deductible_fen=deductible, outpatient_paid_fen=pooled)
    elif encounter.kind == "chronic":
        chronic = policy.chronic
        if chronic is None or encounter.chronic_disease not in chronic.diseases:
            raise NotEligible(f"病种 {encounter.chronic_disease} 不在本地区门诊慢性病病种范围内")

        def entitlement(cost: int) -> int:
            earned = min(chronic.fixed_fen, cost) + apply_ratio(
                max(0, cost - chronic.threshold_fen), chronic.ratio_above
            )
            return min(earned, chronic.annual_cap_fen)

        before, after = ytd.chronic_cost_fen, ytd.chronic_cost_fen + in_range
        earned = entitlement(after) - entitlement(before)
        pooled_room = max(0, policy.pooled_annual_ceiling_fen - ytd.pooled_paid_fen)
        pooled = min(earned, pooled_room)
        ratio = chronic.ratio_above
        pooled_note = (
            f"门诊慢性病：年内费用 {_y(before)} → {_y(after)}；{_y(chronic.threshold_fen)} 以下定额 "
            f"{_y(chronic.fixed_fen)}，以上部分 × {chronic.ratio_above}，"
            f"年度封顶 {_y(chronic.annual_cap_fen)}；"
            f"本次应付 {_y(earned)}，统筹年度限额剩余 {_y(pooled_room)}；支付 {_y(pooled)}"
        )
        delta = replace(delta, chronic_cost_fen=in_range, chronic_paid_fen=pooled, pooled_paid_fen=pooled)
    elif encounter.kind == "inpatient":
        rules_in = policy.inpatient
        factors = rules_in.admission_deductible_factors
        factor = factors[min(max(encounter.admission_sequence, 1), len(factors)) - 1]
        line_deductible = (
            0 if encounter.continuing_stay else apply_ratio(rules_in.deductible_by_level[level], factor)
        )
        deductible = min(in_range, line_deductible)
        base = in_range - deductible
        bands = rules_in.bands_by_level.get(level)
        if bands:
            by_ratio = banded(
                base, [Band(upto_fen=b.upto_fen, ratio=max(Decimal(0), b.ratio - reduction)) for b in bands]
            )
            ratio = bands[0].ratio - reduction
            how = "分段比例 " + "，".join(
                f"{'以上' if b.upto_fen is None else _y(b.upto_fen)}:{b.ratio}" for b in bands
            )
        else:
            ratio = max(Decimal(0), rules_in.ratio_by_level[level] - reduction)
            by_ratio = apply_ratio(base, ratio)
            how = f"比例 {ratio}"
        pooled_room = max(0, policy.pooled_annual_ceiling_fen - ytd.pooled_paid_fen)
        pooled = min(by_ratio, pooled_room)
        pooled_note = (
            f"住院：{level}级医院第{encounter.admission_sequence}次住院起付线 "
            f"{_y(rules_in.deductible_by_level[level])} × {factor} = {_y(line_deductible)}，"
            f"本次 {_y(deductible)}；"
            f"({_y(in_range)} - {_y(deductible)}) {how} = {_y(by_ratio)}；"
            f"统筹年度限额剩余 {_y(pooled_room)}；"
            f"支付 {_y(pooled)}"
        )
        delta = replace(delta, pooled_paid_fen=pooled, admissions=0 if encounter.continuing_stay else 1)
    else:  # maternity
        maternity = policy.maternity
        if maternity is None or encounter.delivery_type is None:
            raise NotEligible("本地区未设置住院分娩定额补助，或未说明分娩方式")
        fixed = maternity.normal_fen if encounter.delivery_type == "normal" else maternity.caesarean_fen
        pooled_room = max(0, policy.pooled_annual_ceiling_fen - ytd.pooled_paid_fen)
        pooled = min(fixed, in_range, pooled_room)
        pooled_note = (
            f"住院分娩（{'顺产' if encounter.delivery_type == 'normal' else '剖宫产'}）定额 {_y(fixed)}，"
            f"政策范围内 {_y(in_range)}；支付 {_y(pooled)}"
        )
        delta = replace(delta, pooled_paid_fen=pooled, admissions=1)
    trace.append(pooled_note)
    funds = [FundShare(POOLED_FUND, in_range - deductible, pooled_room, pooled, pooled_note)]

    burden = in_range - pooled  # policy-range cost the person still bears
    catastrophic = 0
    assistance = 0
    if encounter.kind in MAJOR_KINDS:
        cat_rules = policy.catastrophic
        if cat_rules is not None:

            def cat_entitlement(b: int) -> int:
                return min(
                    banded(max(0, b - cat_rules.threshold_fen), cat_rules.bands), cat_rules.annual_cap_fen
                )

            before, after = ytd.catastrophic_burden_fen, ytd.catastrophic_burden_fen + burden
            room = max(0, cat_rules.annual_cap_fen - ytd.catastrophic_paid_fen)
            catastrophic = min(cat_entitlement(after) - cat_entitlement(before), burden, room)
            note = (
                f"大病保险：年内政策范围内个人负担 {_y(before)} → {_y(after)}，"
                f"起付 {_y(cat_rules.threshold_fen)}，"
                f"支付 {_y(catastrophic)}"
            )
            trace.append(note)
            funds.append(
                FundShare(
                    CATASTROPHIC_FUND,
                    max(0, after - max(before, cat_rules.threshold_fen)),
                    room,
                    catastrophic,
                    note,
                )
            )
            delta = replace(delta, catastrophic_burden_fen=burden, catastrophic_paid_fen=catastrophic)
        rules_for = [(code, policy.assistance[code]) for code in identities if code in policy.assistance]
        if rules_for:
            code, aid = max(rules_for, key=lambda item: (item[1].ratio, item[1].annual_cap_fen))
            base = burden - catastrophic

            def aid_entitlement(b: int) -> int:
                return min(apply_ratio(max(0, b - aid.deductible_fen), aid.ratio), aid.annual_cap_fen)

            before, after = ytd.assistance_base_fen, ytd.assistance_base_fen + base
            room = max(0, aid.annual_cap_fen - ytd.assistance_paid_fen)
            assistance = min(aid_entitlement(after) - aid_entitlement(before), base, room)
            note = (
                f"医疗救助（身份 {code}）：年内救助基数 {_y(before)} → {_y(after)}，"
                f"起付 {_y(aid.deductible_fen)}，"
                f"比例 {aid.ratio}，支付 {_y(assistance)}"
            )
            trace.append(note)
            funds.append(FundShare(ASSISTANCE_FUND, base, room, assistance, note))
            delta = replace(delta, assistance_base_fen=base, assistance_paid_fen=assistance)

    fund_total = sum(f.paid_fen for f in funds)
    cash = total - fund_total
    trace.append(f"基金支付合计 {_y(fund_total)}；个人现金支付 {_y(cash)}（居民医保无个人账户）")
    return Adjudication(
        lines=results,
        medfee_sumamt_fen=total,
        fully_self_paid_fen=fully,
        over_price_cap_fen=over,
        self_pay_first_fen=first,
        policy_range_fen=in_range,
        deductible_fen=deductible,
        pool_ratio=ratio,
        pooled_fen=pooled,
        catastrophic_fen=catastrophic,
        assistance_fen=assistance,
        funds=funds,
        fund_paid_total_fen=fund_total,
        cash_paid_fen=cash,
        delta=delta,
        trace=trace,
    )
