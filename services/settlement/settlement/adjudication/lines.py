"""Layer 1, the fee lines (docs/domain.md, "Money out", step 1): a code not on the list, 丙, or a
restricted item without the hospital's approval is fully self-paid; a unit price above the cap (by
hospital level where the list says so) leaves the excess self-paid; 乙 has its self-pay-first share; the
rest of each line is the policy range (符合政策范围金额) the funds compute on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from settlement.adjudication.model import CLASS_B, CLASS_C, FeeLine, LineResult, ListEntry, ListFlags, yuan
from shared.money import apply_ratio, round_half_up_fen


def classify_line(
    line: FeeLine, entry: ListEntry | None, level: str, admdvs: str | None = None
) -> LineResult:
    """The line's classification, with the catalogue's marks of its entry (none for an unlisted code), at an
    institution of ``level`` in the treating region ``admdvs`` (its price caps)."""
    if entry is None:
        return LineResult(
            line, CLASS_C, Decimal(1), None, "14", line.amount_fen, 0, 0, 0, "非医保目录内项目，全自费"
        )
    flags = entry.flags
    if flags.restricted != entry.restricted:  # copied once per line only where the two differ
        flags = replace(flags, restricted=entry.restricted)
    return _classify(line, entry, level, admdvs, flags)


def _classify(
    line: FeeLine, entry: ListEntry, level: str, admdvs: str | None, flags: ListFlags
) -> LineResult:
    cap = entry.cap_for(level, admdvs)
    if entry.chrgitm_lv == CLASS_C:
        return LineResult(
            line,
            CLASS_C,
            Decimal(1),
            cap,
            entry.med_chrgitm_type,
            line.amount_fen,
            0,
            0,
            0,
            "丙类，全自费",
            flags,
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
            flags,
        )
    over_cap = 0
    memo: list[str] = []
    if cap is not None and line.pric > cap:
        # The allowed amount is the count at the capped price, rounded half-up once (a count need not
        # be whole: 1.5 boxes at a capped 8.00 allow 12.00).
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
        flags,
    )


@dataclass(frozen=True, slots=True)
class Lines:
    """The classified lines and their totals: total = fully self-paid + over the cap + self-pay-first +
    policy range."""

    results: list[LineResult]
    total_fen: int
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int

    @property
    def note(self) -> str:
        return (
            f"医疗费总额 {yuan(self.total_fen)} = 全自费 {yuan(self.fully_self_paid_fen)} + 超限价 "
            f"{yuan(self.over_price_cap_fen)} + 先行自付 {yuan(self.self_pay_first_fen)} "
            f"+ 政策范围内 {yuan(self.policy_range_fen)}"
        )


def classify(
    lines: list[FeeLine], catalogue: dict[str, ListEntry], level: str, admdvs: str | None = None
) -> Lines:
    results = [classify_line(line, catalogue.get(line.med_list_codg), level, admdvs) for line in lines]
    return Lines(
        results,
        sum(line.amount_fen for line in lines),
        sum(r.fully_self_paid_fen for r in results),
        sum(r.over_price_cap_fen for r in results),
        sum(r.self_pay_first_fen for r in results),
        sum(r.policy_range_fen for r in results),
    )
