"""The rules that turn one person's legacy records (one, or one from each scheme) into what is migrated.

Pure functions of the exports, no database: the same exports always give the same plan, so a run resumed
after a crash decides exactly as one clean run would. The rules are listed in docs/legacy-migration.md;
each rule's code below is the one the report shows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from enrollment.enrollments import rules
from enrollment.legacy.exports import Issue, LegacyEnrollment, LegacyPayment, LegacyRecord


@dataclass
class PlannedEnrollment:
    insutype: str
    year: int
    insuplc_admdvs: str
    due_fen: int
    coverage_begin: date
    coverage_end: date
    payments: list[LegacyPayment]
    #: The year the person is covered in now or next (this year or later): cover reaches settlement.
    current: bool

    @property
    def paid_fen(self) -> int:
        return sum(p.amount_fen for p in self.payments)

    @property
    def paid_on(self) -> date:
        return max((p.paid_on for p in self.payments), default=self.coverage_begin)

    @property
    def first_paid_on(self) -> date:
        return min((p.paid_on for p in self.payments), default=self.coverage_begin)


@dataclass
class PlannedIdentity:
    psn_idet_type: str
    begin_date: date
    end_date: date | None


@dataclass
class PlannedCard:
    card_no: str
    card_sn: str
    status: str
    issued_on: date
    changed_on: date
    replaced_by: str | None = None


@dataclass
class PersonPlan:
    """One person as the migration will write them (before looking at the database)."""

    certno: str
    psn_name: str
    gend: str
    brdy: date
    admdvs: str
    #: (insutype, legacy person id) of every record merged into this person.
    sources: list[tuple[str, str]]
    enrollments: list[PlannedEnrollment]
    identities: list[PlannedIdentity]
    cards: list[PlannedCard]
    issues: list[Issue] = field(default_factory=list)

    @property
    def sources_label(self) -> str:
        return "+".join(sorted({s[0] for s in self.sources}, reverse=True))

    def digest(self) -> str:
        """SHA-256 of everything the plan would write (not the issues, not which year is current): equal
        digests, equal person."""
        parts = [
            self.certno,
            self.psn_name,
            self.gend,
            self.brdy.isoformat(),
            self.admdvs,
            repr(self.sources),
        ]
        for e in self.enrollments:
            parts.append(
                f"E|{e.insutype}|{e.year}|{e.insuplc_admdvs}|{e.due_fen}|{e.coverage_begin}|{e.coverage_end}"
            )
            parts.extend(f"P|{p.payer}|{p.amount_fen}|{p.receipt_no}|{p.paid_on}" for p in e.payments)
        parts.extend(f"I|{i.psn_idet_type}|{i.begin_date}|{i.end_date}" for i in self.identities)
        parts.extend(
            f"C|{c.card_no}|{c.card_sn}|{c.status}|{c.issued_on}|{c.changed_on}|{c.replaced_by}"
            for c in self.cards
        )
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _issue(
    records: list[LegacyRecord], rule: str, outcome: str, message: str, *, file: str = "persons.csv"
) -> Issue:
    first = records[0]
    return Issue(
        first.certno,
        "+".join(r.insutype for r in records),
        "+".join(r.psn_id for r in records),
        file,
        first.line if len(records) == 1 else None,
        rule,
        outcome,
        message,
    )


def resolve(records: list[LegacyRecord], today: date) -> tuple[PersonPlan | None, list[Issue]]:
    """The plan for one ID number found in one export or both (URBMI first), or None and why not."""
    issues: list[Issue] = [e for r in records for e in r.errors]
    if issues:
        if len(records) > 1:
            issues.append(
                _issue(
                    records, "RECORD_HAS_ERRORS", "error", "该人员在一个导出中有错误数据，两条记录均未迁移"
                )
            )
        return None, issues
    first = records[0]
    assert first.id_birth is not None and first.id_gend is not None
    for r in records:
        if r.gend != first.id_gend or r.brdy != first.id_birth.isoformat():
            issues.append(
                _issue(
                    [r],
                    "ID_NUMBER_WINS",
                    "resolved",
                    f"导出的性别/出生日期（{r.gend or '空'}, {r.brdy or '空'}）与身份证号不符，"
                    f"以身份证号为准（{first.id_gend}, {first.id_birth}）",
                )
            )
    if len(records) > 1:
        names = {r.psn_name for r in records}
        if len(names) > 1:
            issues.append(
                _issue(
                    records,
                    "NAME_DIFFERS",
                    "unresolved",
                    f"两个导出中的姓名不一致（{' / '.join(r.psn_name for r in records)}），待人工核实",
                )
            )
            return None, issues
        issues.append(
            _issue(records, "IN_BOTH_EXPORTS", "resolved", "同一身份证号在两个原制度中均有记录，合并为一人")
        )

    # Enrollment years: only fully paid years; one scheme per year, the latest paid one.
    chosen: dict[int, tuple[LegacyRecord, LegacyEnrollment]] = {}
    for r in records:
        for e in r.enrollments:
            if e.paid_fen < e.due_fen:
                issues.append(
                    _issue(
                        [r],
                        "UNPAID_YEAR",
                        "resolved",
                        f"{e.year} 年度应缴 {e.due_fen / 100:.2f} 元、已缴 {e.paid_fen / 100:.2f} 元，"
                        "未足额缴费的年度不迁移（不计参保年限，不享受待遇）",
                        file="enrollments.csv",
                    )
                )
                continue
            other = chosen.get(e.year)
            if other is None:
                chosen[e.year] = (r, e)
                continue
            mine, theirs = (
                e.last_paid_on or e.coverage_begin,
                other[1].last_paid_on or other[1].coverage_begin,
            )
            if mine == theirs:
                issues.append(
                    _issue(
                        records,
                        "SAME_YEAR_TIE",
                        "unresolved",
                        f"{e.year} 年度在两个原制度均足额缴费且缴费日期相同（{mine}），待人工确定",
                        file="enrollments.csv",
                    )
                )
                return None, issues
            winner, loser = ((r, e), other) if mine > theirs else (other, (r, e))
            chosen[e.year] = winner
            issues.append(
                _issue(
                    records,
                    "LATEST_PAID_WINS",
                    "resolved",
                    f"{e.year} 年度重复参保：以最后缴费的 {winner[0].insutype}"
                    f"（{winner[1].last_paid_on}）为准，"
                    f"{loser[0].insutype} 的缴费 {loser[1].paid_fen / 100:.2f} 元不迁移，应由原制度退费",
                    file="enrollments.csv",
                )
            )
    enrollments = [
        PlannedEnrollment(
            insutype=r.insutype,
            year=e.year,
            insuplc_admdvs=e.insuplc_admdvs,
            due_fen=e.due_fen,
            coverage_begin=e.coverage_begin,
            coverage_end=e.coverage_end,
            payments=sorted(e.payments, key=lambda p: (p.paid_on, p.receipt_no)),
            current=e.year >= today.year,
        )
        for year, (r, e) in sorted(chosen.items())
    ]

    # The person's region: from the export whose paid year is the latest (URBMI when none is paid).
    latest = max(chosen.items())[1][0] if chosen else first
    if len({r.admdvs for r in records}) > 1:
        issues.append(
            _issue(
                records,
                "ADMDVS_FROM_LATEST",
                "resolved",
                f"两个导出的行政区划不同，取最近参保年度所在制度（{latest.insutype}）的 {latest.admdvs}",
            )
        )

    identities = _merge_identities(records, issues)
    cards = _merge_cards(records, issues)
    plan = PersonPlan(
        certno=first.certno,
        psn_name=first.psn_name,
        gend=first.id_gend,
        brdy=first.id_birth,
        admdvs=latest.admdvs,
        sources=[(r.insutype, r.psn_id) for r in records],
        enrollments=enrollments,
        identities=identities,
        cards=cards,
    )
    plan.issues = issues
    return plan, issues


def _merge_identities(records: list[LegacyRecord], issues: list[Issue]) -> list[PlannedIdentity]:
    """Identical periods once; overlapping (or adjoining) periods of one category merge into one."""
    by_type: dict[str, list[PlannedIdentity]] = {}
    for r in records:
        for i in r.identities:
            by_type.setdefault(i.psn_idet_type, []).append(
                PlannedIdentity(i.psn_idet_type, i.begin_date, i.end_date)
            )
    merged: list[PlannedIdentity] = []
    for kind, periods in sorted(by_type.items()):
        periods.sort(key=lambda p: (p.begin_date, p.end_date or date.max))
        current = periods[0]
        for p in periods[1:]:
            if (p.begin_date, p.end_date) == (current.begin_date, current.end_date):
                continue
            reach = date.max if current.end_date is None else current.end_date
            if reach == date.max or p.begin_date <= reach + timedelta(days=1):
                new_end = (
                    None
                    if current.end_date is None or p.end_date is None
                    else max(current.end_date, p.end_date)
                )
                issues.append(
                    _issue(
                        records,
                        "IDENTITY_MERGED",
                        "resolved",
                        f"身份类别 {kind} 的有效期 {current.begin_date}~{current.end_date or ''} 与 "
                        f"{p.begin_date}~{p.end_date or ''} 重叠，"
                        f"合并为 {current.begin_date}~{new_end or ''}",
                        file="identities.csv",
                    )
                )
                current = PlannedIdentity(kind, current.begin_date, new_end)
            else:
                merged.append(current)
                current = p
        merged.append(current)
    return merged


def _merge_cards(records: list[LegacyRecord], issues: list[Issue]) -> list[PlannedCard]:
    """One active card at most: the latest issued active card stays active, the others become replaced."""
    cards: dict[str, PlannedCard] = {}
    for r in records:
        for c in r.cards:
            if c.card_no in cards:
                continue  # the same card in both exports
            cards[c.card_no] = PlannedCard(c.card_no, c.card_sn, c.status, c.issued_on, c.issued_on)
    active = sorted(
        (c for c in cards.values() if c.status == "active"), key=lambda c: (c.issued_on, c.card_no)
    )
    if len(active) > 1:
        keep = active[-1]
        for old in active[:-1]:
            old.status, old.changed_on, old.replaced_by = "replaced", keep.issued_on, keep.card_no
        issues.append(
            _issue(
                records,
                "LATEST_ACTIVE_CARD",
                "resolved",
                f"有 {len(active)} 张在用社保卡，保留最晚发卡的 {keep.card_no}，其余记为已换卡",
                file="cards.csv",
            )
        )
    return sorted(cards.values(), key=lambda c: (c.issued_on, c.card_no))


def continuity(paid: dict[int, date]) -> dict[int, tuple[int, date]]:
    """Continuous years up to each paid year and the first day of that run (the enrollment service's own
    rule, ``enrollments.service.continuity_by_year``): ``paid`` maps year -> first day of cover that year."""
    result: dict[int, tuple[int, date]] = {}
    for year in paid:
        run = rules.continuous_run(paid, year)
        result[year] = (run, paid[year - run + 1])
    return result
