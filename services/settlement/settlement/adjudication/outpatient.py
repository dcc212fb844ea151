"""Adjudication of a pharmacy purchase or outpatient bill under outpatient pooling (门诊统筹). Pure: plain
data in, a result with its calculation trace out, no I/O.

Order of the rules (domain.md, "Money out"; research doc 3.6):
1. Per line: not in the list or 丙类 -> fully self-paid (全自费); price above the unit cap -> the excess is
   self-paid (超限价); 乙类 -> the self-pay-first share (先行自付) is paid by the person; what remains is the
   policy-range amount (符合政策范围金额) the funds compute on.
2. The yearly deductible (起付线) is taken from the policy-range total first.
3. The pooled fund pays its ratio of the rest, rounded half-up to the fen once, never more than what is
   left of the yearly cap (最高支付限额).
4. Residents have no personal account: what the funds do not pay is the person's cash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from shared.money import apply_ratio, fen_to_yuan, round_half_up_fen

POOLED_FUND = "390100"
CHRGITM_CLASS_A = "1"  # 甲类
CHRGITM_CLASS_B = "2"  # 乙类
CHRGITM_CLASS_C = "3"  # 丙类 (self-paid)


@dataclass(frozen=True, slots=True)
class FeeLine:
    feedetl_sn: str
    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ListEntry:
    """What the catalogue says about a code."""

    chrgitm_lv: str
    selfpay_prop: Decimal
    price_cap: Decimal | None
    med_chrgitm_type: str = "09"


@dataclass(frozen=True, slots=True)
class OutpatientPolicy:
    deductible_fen: int
    pool_ratio: Decimal
    annual_cap_fen: int


@dataclass(frozen=True, slots=True)
class YearToDate:
    deductible_used_fen: int = 0
    fund_paid_fen: int = 0


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
class Adjudication:
    lines: list[LineResult]
    medfee_sumamt_fen: int
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Decimal
    cap_remaining_fen: int
    pooled_fund_paid_fen: int
    fund_paid_total_fen: int
    personal_burden_fen: int
    cash_paid_fen: int
    year_to_date_after: YearToDate
    trace: list[str] = field(default_factory=list)


def classify_line(line: FeeLine, entry: ListEntry | None) -> LineResult:
    if entry is None:
        return LineResult(
            line,
            CHRGITM_CLASS_C,
            Decimal(1),
            None,
            "14",
            line.amount_fen,
            0,
            0,
            0,
            "非医保目录内项目，全自费",
        )
    if entry.chrgitm_lv == CHRGITM_CLASS_C:
        return LineResult(
            line,
            entry.chrgitm_lv,
            Decimal(1),
            entry.price_cap,
            entry.med_chrgitm_type,
            line.amount_fen,
            0,
            0,
            0,
            "丙类，全自费",
        )
    over_cap = 0
    memo = []
    if entry.price_cap is not None and line.pric > entry.price_cap:
        allowed_fen = round_half_up_fen(line.cnt * entry.price_cap * 100)
        over_cap = max(0, line.amount_fen - allowed_fen)
        memo.append(f"单价{line.pric}超限价{entry.price_cap}，超出部分自费")
    allowed = line.amount_fen - over_cap
    if entry.chrgitm_lv == CHRGITM_CLASS_B:
        first = apply_ratio(allowed, entry.selfpay_prop)
        memo.append(f"乙类，先行自付比例{entry.selfpay_prop}")
        prop = entry.selfpay_prop
    else:
        first = 0
        memo.append("甲类")
        prop = Decimal(0)
    return LineResult(
        line,
        entry.chrgitm_lv,
        prop,
        entry.price_cap,
        entry.med_chrgitm_type,
        0,
        over_cap,
        first,
        allowed - first,
        "；".join(memo),
    )


def adjudicate(
    lines: list[FeeLine],
    catalogue: dict[str, ListEntry],
    policy: OutpatientPolicy,
    ytd: YearToDate,
) -> Adjudication:
    results = [classify_line(line, catalogue.get(line.med_list_codg)) for line in lines]
    total = sum(line.amount_fen for line in lines)
    fully = sum(r.fully_self_paid_fen for r in results)
    over = sum(r.over_price_cap_fen for r in results)
    first = sum(r.self_pay_first_fen for r in results)
    in_range = sum(r.policy_range_fen for r in results)
    trace = [
        f"医疗费总额 {fen_to_yuan(total)} = 全自费 {fen_to_yuan(fully)} + 超限价 {fen_to_yuan(over)} "
        f"+ 先行自付 {fen_to_yuan(first)} + 政策范围内 {fen_to_yuan(in_range)}",
    ]

    deductible_left = max(0, policy.deductible_fen - ytd.deductible_used_fen)
    deductible = min(in_range, deductible_left)
    trace.append(
        f"起付线 {fen_to_yuan(policy.deductible_fen)}，年内已累计 {fen_to_yuan(ytd.deductible_used_fen)}，"
        f"本次计入起付线 {fen_to_yuan(deductible)}"
    )
    base = in_range - deductible
    by_ratio = apply_ratio(base, policy.pool_ratio)
    cap_left = max(0, policy.annual_cap_fen - ytd.fund_paid_fen)
    pooled = min(by_ratio, cap_left)
    trace.append(
        f"统筹基金 = ({fen_to_yuan(in_range)} - {fen_to_yuan(deductible)}) × {policy.pool_ratio} = "
        f"{fen_to_yuan(by_ratio)}；年度限额剩余 {fen_to_yuan(cap_left)}；支付 {fen_to_yuan(pooled)}"
    )
    personal = total - pooled
    trace.append(f"个人负担 {fen_to_yuan(personal)}（居民医保无个人账户，全部现金支付）")
    return Adjudication(
        lines=results,
        medfee_sumamt_fen=total,
        fully_self_paid_fen=fully,
        over_price_cap_fen=over,
        self_pay_first_fen=first,
        policy_range_fen=in_range,
        deductible_fen=deductible,
        pool_ratio=policy.pool_ratio,
        cap_remaining_fen=cap_left,
        pooled_fund_paid_fen=pooled,
        fund_paid_total_fen=pooled,
        personal_burden_fen=personal,
        cash_paid_fen=personal,
        year_to_date_after=YearToDate(
            deductible_used_fen=ytd.deductible_used_fen + deductible,
            fund_paid_fen=ytd.fund_paid_fen + pooled,
        ),
        trace=trace,
    )
