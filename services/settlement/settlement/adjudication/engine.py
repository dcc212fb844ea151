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
   (of the kinds of care the policy counts: Yutian's 住院 costs), in bands, within a yearly cap.
4. Medical assistance (610100) for subsidised identities on what remains of the policy-range personal
   burden, after its own yearly deductible, within a yearly cap.
5. What the funds do not pay is the patient's cash: residents have no personal account.

Layered benefits are paid as "entitlement on the cumulative costs, this settlement included, minus what
the surviving settlements already got from the layer, never below zero" (issue 23):
- a stay (one admission, settled in parts by 中途结算): its deductible, ratio or bands and maternity sum on
  the stay's cumulative policy-range cost, less what its earlier surviving parts got (``StaySoFar``); the
  deductible is met once per stay and bands continue from the stay's total;
- a year: the chronic thresholds and cap, catastrophic threshold and bands, assistance deductible and cap
  on the year's surviving totals (``YearToDate``: a reversal takes back the costs AND the payments of the
  settlement it undoes), less what the surviving settlements got. Paying "entitlement after − entitlement
  before" instead left the year wrong once an earlier settlement was reversed: the settlements after it
  had been computed on totals that included it.
Either way, however care is split into settlements, each fund pays what one settlement of the whole pays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
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
#: Kinds whose pooled payments count against the pooled yearly ceiling and that open medical assistance
#: (and catastrophic insurance, for those of them the policy counts: ``Catastrophic.kinds``).
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
class ListFlags:
    """What the catalogue marks an entry as, shown on every classified line (2204/2301 ``result``,
    ``detlcutinfo``: ``bas_medn_flag``, ``hi_nego_drug_flag``...; docs/interface.md). They do not change
    the classification, except ``restricted`` (which ``ListEntry.restricted`` applies)."""

    #: 基本药物 (national essential medicines list).
    essential_drug: bool = False
    #: 医保谈判药品 (a drug whose price was negotiated nationally).
    negotiated_drug: bool = False
    #: 儿童用药.
    child_medicine: bool = False
    #: 目录特项: 特检特治 items or special drugs.
    special_item: bool = False
    #: 限制使用 (paid only with the hospital's approval).
    restricted: bool = False
    #: 直报: a line the fund pays the institution for directly outside the settlement's own layers.
    direct_reimbursement: bool = False


NO_FLAGS = ListFlags()


def flag_columns(flags: ListFlags) -> dict[str, bool]:
    """The marks as the columns of a stored line (``settlement_lines``) and of ``LineOut``."""
    return {f.name: getattr(flags, f.name) for f in fields(flags)}


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
    #: The entry's other marks, shown on its lines (``flags.restricted`` mirrors ``restricted``).
    flags: ListFlags = NO_FLAGS

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
    #: A later settlement of a stay already settled in part (中途结算): what its surviving earlier parts
    #: added up to. None: the stay's first settlement (or not a stay).
    stay: StaySoFar | None = None

    @property
    def continuing_stay(self) -> bool:
        return self.stay is not None


@dataclass(frozen=True, slots=True)
class StaySoFar:
    """A stay's surviving earlier settlements (中途结算 parts), summed: the next part pays the stay's
    entitlement on the cumulative cost less these."""

    policy_range_fen: int = 0
    deductible_fen: int = 0
    pooled_fen: int = 0
    #: The stay's deductible, fixed by its first settlement (hospital level, admission number in the year).
    stay_deductible_fen: int = 0


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
    flags: ListFlags = NO_FLAGS


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
    #: Per layer, the entitlement on the cumulative costs and what earlier surviving settlements had got
    #: (``<layer>_entitled_fen`` / ``<layer>_before_fen``), and the stay's deductible: stored with the
    #: settlement (its next part reads ``stay_deductible_fen``) and shown in the trace.
    layers: dict[str, int] = field(default_factory=dict)

    @property
    def personal_burden_fen(self) -> int:
        return self.medfee_sumamt_fen - self.fund_paid_total_fen


def classify_line(line: FeeLine, entry: ListEntry | None, level: str) -> LineResult:
    result = _classify(line, entry, level)
    if entry is None:
        return result
    return replace(result, flags=replace(entry.flags, restricted=entry.restricted))


def _classify(line: FeeLine, entry: ListEntry | None, level: str) -> LineResult:
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


def _owed(entitled: int, before: int) -> int:
    """A cumulative layer's payment: its entitlement on the cumulative costs less what surviving
    settlements already got from it, never below zero (a reversal of an earlier settlement may leave the
    survivors with more than the entitlement on what survives; nothing is clawed back from a new one).
    The caller also holds it to this settlement's own policy-range cost (a fund never hands the patient
    cash): a shortfall beyond that is still owed at the next settlement, which sees the same totals."""
    return max(0, entitled - before)


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
    layers: dict[str, int] = {}
    reduction = Decimal(0)
    if encounter.out_of_area and not encounter.filed and policy.unfiled_out_of_area_reduction:
        reduction = policy.unfiled_out_of_area_reduction
        trace.append(f"异地就医未备案，统筹支付比例降低 {reduction}")

    stay = encounter.stay or StaySoFar()
    deductible, ratio, pooled, pooled_room = 0, Decimal(0), 0, 0
    pooled_note = ""
    if encounter.kind in ("pharmacy", "outpatient"):
        rules = policy.outpatient
        deductible = min(in_range, max(0, rules.deductible_fen - ytd.outpatient_deductible_fen))
        ratio = max(Decimal(0), rules.ratio - reduction)
        pooled_room = max(0, rules.annual_cap_fen - ytd.outpatient_paid_fen)
        by_ratio = apply_ratio(in_range - deductible, ratio)
        pooled = min(by_ratio, pooled_room)
        layers.update(
            outpatient_cap_entitled_fen=rules.annual_cap_fen,
            outpatient_cap_before_fen=ytd.outpatient_paid_fen,
        )
        pooled_note = (
            f"门诊统筹：起付线 {_y(rules.deductible_fen)}（年内已计 {_y(ytd.outpatient_deductible_fen)}，"
            f"本次 "
            f"{_y(deductible)}）；({_y(in_range)} - {_y(deductible)}) × {ratio} = {_y(by_ratio)}；"
            f"年度限额 {_y(rules.annual_cap_fen)}，已付 {_y(ytd.outpatient_paid_fen)}，剩余 "
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

        after = ytd.chronic_cost_fen + in_range
        entitled = entitlement(after)
        earned = _owed(entitled, ytd.chronic_paid_fen)
        pooled_room = max(0, policy.pooled_annual_ceiling_fen - ytd.pooled_paid_fen)
        pooled = min(earned, pooled_room, in_range)
        ratio = chronic.ratio_above
        layers.update(chronic_entitled_fen=entitled, chronic_before_fen=ytd.chronic_paid_fen)
        pooled_note = (
            f"门诊慢性病：年内费用 {_y(ytd.chronic_cost_fen)} → {_y(after)}；"
            f"{_y(chronic.threshold_fen)} 以下定额 {_y(chronic.fixed_fen)}，"
            f"以上部分 × {chronic.ratio_above}，"
            f"年度封顶 {_y(chronic.annual_cap_fen)}；年内应享 {_y(entitled)}，已付 "
            f"{_y(ytd.chronic_paid_fen)}，本次应付 {_y(earned)}；"
            f"统筹年度限额剩余 {_y(pooled_room)}；支付 {_y(pooled)}"
        )
        delta = replace(delta, chronic_cost_fen=in_range, chronic_paid_fen=pooled, pooled_paid_fen=pooled)
    elif encounter.kind == "inpatient":
        rules_in = policy.inpatient
        if encounter.stay is None:
            factors = rules_in.admission_deductible_factors
            factor = factors[min(max(encounter.admission_sequence, 1), len(factors)) - 1]
            stay_deductible = apply_ratio(rules_in.deductible_by_level[level], factor)
            whose = (
                f"{level}级医院第{encounter.admission_sequence}次住院起付线 "
                f"{_y(rules_in.deductible_by_level[level])} × {factor} = {_y(stay_deductible)}"
            )
        else:
            stay_deductible = stay.stay_deductible_fen
            whose = f"中途结算续结：本次住院起付线 {_y(stay_deductible)}（已结 {_y(stay.policy_range_fen)}）"
        # "起付线 per admission" (docs/domain.md; Jinzhai 002: 住院医药费用起付线为300元): once per
        # stay, on the stay's cumulative policy-range cost; bands apply to the stay's total above it.
        stay_in_range = stay.policy_range_fen + in_range
        stay_met = min(stay_in_range, stay_deductible)
        deductible = max(0, stay_met - stay.deductible_fen)
        base = stay_in_range - stay_met
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
        earned = _owed(by_ratio, stay.pooled_fen)
        pooled_room = max(0, policy.pooled_annual_ceiling_fen - ytd.pooled_paid_fen)
        pooled = min(earned, pooled_room, in_range)
        layers.update(
            stay_deductible_fen=stay_deductible,
            stay_entitled_fen=by_ratio,
            stay_before_fen=stay.pooled_fen,
            pooled_ceiling_entitled_fen=policy.pooled_annual_ceiling_fen,
            pooled_ceiling_before_fen=ytd.pooled_paid_fen,
        )
        pooled_note = (
            f"住院：{whose}，本次 {_y(deductible)}；"
            f"本次住院政策范围内累计 {_y(stay_in_range)}，({_y(stay_in_range)} - {_y(stay_met)}) {how} "
            f"= {_y(by_ratio)}，本次住院已付 {_y(stay.pooled_fen)}，本次应付 {_y(earned)}；"
            f"统筹年度限额 {_y(policy.pooled_annual_ceiling_fen)}，已付 {_y(ytd.pooled_paid_fen)}，"
            f"剩余 {_y(pooled_room)}；支付 {_y(pooled)}"
        )
        delta = replace(delta, pooled_paid_fen=pooled, admissions=0 if encounter.continuing_stay else 1)
    else:  # maternity
        maternity = policy.maternity
        if maternity is None or encounter.delivery_type is None:
            raise NotEligible("本地区未设置住院分娩定额补助，或未说明分娩方式")
        fixed = maternity.normal_fen if encounter.delivery_type == "normal" else maternity.caesarean_fen
        # One delivery, one fixed sum (Jinzhai 002: 计生定点分娩补偿), whatever the parts of the stay.
        stay_in_range = stay.policy_range_fen + in_range
        entitled = min(fixed, stay_in_range)
        pooled_room = max(0, policy.pooled_annual_ceiling_fen - ytd.pooled_paid_fen)
        pooled = min(_owed(entitled, stay.pooled_fen), pooled_room, in_range)
        layers.update(
            stay_entitled_fen=entitled,
            stay_before_fen=stay.pooled_fen,
            pooled_ceiling_entitled_fen=policy.pooled_annual_ceiling_fen,
            pooled_ceiling_before_fen=ytd.pooled_paid_fen,
        )
        pooled_note = (
            f"住院分娩（{'顺产' if encounter.delivery_type == 'normal' else '剖宫产'}）定额 {_y(fixed)}，"
            f"本次住院政策范围内累计 {_y(stay_in_range)}，应享 {_y(entitled)}，已付 {_y(stay.pooled_fen)}；"
            f"统筹年度限额剩余 {_y(pooled_room)}；支付 {_y(pooled)}"
        )
        delta = replace(delta, pooled_paid_fen=pooled, admissions=0 if encounter.continuing_stay else 1)
    trace.append(pooled_note)
    funds = [FundShare(POOLED_FUND, in_range - deductible, pooled_room, pooled, pooled_note)]

    burden = in_range - pooled  # policy-range cost the person still bears
    catastrophic = 0
    assistance = 0
    if encounter.kind in MAJOR_KINDS:
        cat_rules = policy.catastrophic
        if cat_rules is not None and encounter.kind in cat_rules.kinds:
            after = ytd.catastrophic_burden_fen + burden
            entitled = min(
                banded(max(0, after - cat_rules.threshold_fen), cat_rules.bands), cat_rules.annual_cap_fen
            )
            room = max(0, cat_rules.annual_cap_fen - ytd.catastrophic_paid_fen)
            catastrophic = max(0, min(_owed(entitled, ytd.catastrophic_paid_fen), burden, room))
            layers.update(
                catastrophic_entitled_fen=entitled, catastrophic_before_fen=ytd.catastrophic_paid_fen
            )
            note = (
                f"大病保险：年内政策范围内个人负担 {_y(ytd.catastrophic_burden_fen)} → {_y(after)}，"
                f"起付 {_y(cat_rules.threshold_fen)}，年内应享 {_y(entitled)}，"
                f"已付 {_y(ytd.catastrophic_paid_fen)}，支付 {_y(catastrophic)}"
            )
            trace.append(note)
            funds.append(
                FundShare(
                    CATASTROPHIC_FUND,
                    max(0, after - max(ytd.catastrophic_burden_fen, cat_rules.threshold_fen)),
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
            after = ytd.assistance_base_fen + base
            entitled = min(apply_ratio(max(0, after - aid.deductible_fen), aid.ratio), aid.annual_cap_fen)
            room = max(0, aid.annual_cap_fen - ytd.assistance_paid_fen)
            assistance = max(0, min(_owed(entitled, ytd.assistance_paid_fen), base, room))
            layers.update(assistance_entitled_fen=entitled, assistance_before_fen=ytd.assistance_paid_fen)
            note = (
                f"医疗救助（身份 {code}）：年内救助基数 {_y(ytd.assistance_base_fen)} → {_y(after)}，"
                f"起付 {_y(aid.deductible_fen)}，比例 {aid.ratio}，年内应享 {_y(entitled)}，"
                f"已付 {_y(ytd.assistance_paid_fen)}，支付 {_y(assistance)}"
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
        layers=layers,
    )
