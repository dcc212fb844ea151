"""The legacy exports: CSV layouts (docs/legacy-migration.md), a first pass that checks every file's shape
and order before anything is written, and a second pass that yields each person with all their rows.

An export is a folder per legacy scheme (URBMI 391, NCMS 380) holding ``persons.csv``, ``enrollments.csv``
and ``payments.csv`` and optionally ``identities.csv`` and ``cards.csv`` (and ``institutions.csv``, read by
the settlement side). Every file is UTF-8 with a header row. The detail files carry the legacy person id
(``psn_id``) and list each person's rows together, persons in the order of ``persons.csv`` (what a dump
ordered by the legacy person key gives); the first pass refuses a file that does not, before any change.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shared.idcard import InvalidIdNumber, parse_id_number
from shared.money import MoneyError, yuan_to_fen

SCHEME_NAMES = {"391": "城镇居民医保(URBMI)", "380": "新农合(NCMS)"}

#: file -> (required columns, optional columns)
LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "persons.csv": (("psn_id", "certno", "psn_name", "gend", "brdy", "admdvs"), ()),
    "enrollments.csv": (("psn_id", "year", "insuplc_admdvs", "due"), ("coverage_begin", "coverage_end")),
    "payments.csv": (("psn_id", "year", "payer", "amount", "receipt_no", "paid_on"), ()),
    "identities.csv": (("psn_id", "psn_idet_type", "begin_date", "end_date"), ()),
    "cards.csv": (("psn_id", "card_no", "card_sn", "status", "issued_on"), ()),
}
REQUIRED_FILES = ("persons.csv", "enrollments.csv", "payments.csv")
DETAIL_FILES = ("enrollments.csv", "payments.csv", "identities.csv", "cards.csv")
PAYERS = ("individual", "medical_assistance", "village_collective", "employer")
CARD_STATUSES = ("active", "lost", "replaced")
IDENTITY_TYPES = ("2101", "2102", "2103", "2104", "2199")


class ExportError(ValueError):
    """An export that cannot be read at all (missing file or column, rows out of order): nothing is done."""


@dataclass(frozen=True)
class Issue:
    """One line of the conflict and error report.

    ``outcome``: ``resolved`` (a conflict settled by the rule named, the person is migrated), ``unresolved``
    (left for a clerk: the person is not migrated), ``error`` (bad data: the row or person is not migrated).
    """

    subject: str
    insutype: str
    legacy_id: str
    file: str
    line: int | None
    rule: str
    outcome: str
    message: str


REPORT_COLUMNS = ("subject", "insutype", "legacy_id", "file", "line", "rule", "outcome", "message")


@dataclass
class LegacyPayment:
    line: int
    year: int
    payer: str
    amount_fen: int
    receipt_no: str
    paid_on: date


@dataclass
class LegacyEnrollment:
    line: int
    year: int
    insuplc_admdvs: str
    due_fen: int
    coverage_begin: date
    coverage_end: date
    payments: list[LegacyPayment] = field(default_factory=list)

    @property
    def paid_fen(self) -> int:
        return sum(p.amount_fen for p in self.payments)

    @property
    def last_paid_on(self) -> date | None:
        return max((p.paid_on for p in self.payments), default=None)


@dataclass
class LegacyIdentity:
    line: int
    psn_idet_type: str
    begin_date: date
    end_date: date | None


@dataclass
class LegacyCard:
    line: int
    card_no: str
    card_sn: str
    status: str
    issued_on: date


@dataclass
class LegacyRecord:
    """One person as one legacy system exported them, with every row of theirs, parsed and checked."""

    insutype: str
    psn_id: str
    line: int
    certno: str
    psn_name: str
    gend: str
    brdy: str
    admdvs: str
    #: Birth date and gender read from the ID number (None when the ID number is invalid).
    id_birth: date | None = None
    id_gend: str | None = None
    enrollments: list[LegacyEnrollment] = field(default_factory=list)
    identities: list[LegacyIdentity] = field(default_factory=list)
    cards: list[LegacyCard] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)

    def error(self, file: str, line: int, rule: str, message: str) -> None:
        self.errors.append(Issue(self.certno, self.insutype, self.psn_id, file, line, rule, "error", message))


class Row:
    """One CSV row: values by column name (stripped; empty when the column is absent)."""

    __slots__ = ("columns", "line", "values")

    def __init__(self, line: int, values: list[str], columns: dict[str, int]) -> None:
        self.line, self.values, self.columns = line, values, columns

    def __getitem__(self, key: str) -> str:
        index = self.columns.get(key)
        if index is None or index >= len(self.values):
            return ""
        return self.values[index].strip()


def _rows(path: Path) -> Iterator[Row]:
    file = path.name
    required, _optional = LAYOUTS[file]
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        columns = {name.strip(): i for i, name in enumerate(header)}
        missing = [c for c in required if c not in columns]
        if missing:
            raise ExportError(f"{path}: 缺少列 {', '.join(missing)}")
        for number, values in enumerate(reader, start=2):
            if values:
                yield Row(number, values, columns)


_PLAIN_YUAN = re.compile(r"^(\d{1,9})\.(\d{2})$")


def _fen(text: str) -> int:
    """Yuan to fen; the common ``123.45`` shape directly, anything else through ``shared.money``."""
    plain = _PLAIN_YUAN.match(text)
    if plain:
        return int(plain.group(1)) * 100 + int(plain.group(2))
    return yuan_to_fen(text)


@dataclass
class Export:
    """One legacy system's export folder."""

    insutype: str
    folder: Path

    def path(self, file: str) -> Path:
        return self.folder / file

    def has(self, file: str) -> bool:
        return self.path(file).is_file()


@dataclass
class ExportIndex:
    """What the first pass learns about an export: where each person is, and which ID numbers it holds."""

    export: Export
    positions: dict[str, int] = field(default_factory=dict)
    #: normalised ID number -> legacy person ids carrying it (more than one: a duplicate in this export)
    certnos: dict[str, list[str]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    @property
    def persons(self) -> int:
        return len(self.positions)


def normalise_certno(text: str) -> str:
    return text.strip().upper()


def scan(export: Export) -> ExportIndex:
    """First pass: files and columns present, person ids unique, detail rows in the persons' order.
    Raises :class:`ExportError` (before anything is written) when the export cannot be used."""
    if export.insutype not in SCHEME_NAMES:
        raise ExportError(f"未知的原制度险种 {export.insutype}")
    if not export.folder.is_dir():
        raise ExportError(f"{export.folder}: 导出目录不存在")
    for file in REQUIRED_FILES:
        if not export.has(file):
            raise ExportError(f"{export.path(file)}: 缺少文件")
    index = ExportIndex(export)
    for row in _rows(export.path("persons.csv")):
        psn_id = row["psn_id"]
        if not psn_id:
            raise ExportError(f"{export.path('persons.csv')} 第 {row.line} 行: 人员编号 psn_id 为空")
        if psn_id in index.positions:
            raise ExportError(f"{export.path('persons.csv')} 第 {row.line} 行: 人员编号 {psn_id} 重复")
        index.positions[psn_id] = len(index.positions)
        index.certnos.setdefault(normalise_certno(row["certno"]), []).append(psn_id)
    for file in DETAIL_FILES:
        if not export.has(file):
            continue
        last = -1
        for row in _rows(export.path(file)):
            position = index.positions.get(row["psn_id"])
            if position is None:
                index.issues.append(
                    Issue(
                        "",
                        export.insutype,
                        row["psn_id"],
                        file,
                        row.line,
                        "UNKNOWN_PERSON",
                        "error",
                        f"人员编号 {row['psn_id']} 不在 persons.csv 中，该行未迁移",
                    )
                )
                continue
            if position < last:
                raise ExportError(
                    f"{export.path(file)} 第 {row.line} 行: 未按 persons.csv 的人员顺序排列"
                    f"（人员编号 {row['psn_id']}），请按人员编号排序后重新导出"
                )
            last = position
    return index


def records(index: ExportIndex, today: date) -> Iterator[LegacyRecord]:
    """Second pass: each person of the export with all their rows, in the order of ``persons.csv``."""
    export = index.export
    cursors = {
        file: _Cursor(_rows(export.path(file)), index.positions) for file in DETAIL_FILES if export.has(file)
    }
    empty = _Cursor(iter(()), index.positions)
    for position, row in enumerate(_rows(export.path("persons.csv"))):
        details = {file: cursors.get(file, empty).take(position) for file in DETAIL_FILES}
        yield parse_record(export.insutype, row, details, today)


class _Cursor:
    def __init__(self, rows: Iterator[Row], positions: dict[str, int]) -> None:
        self.rows = rows
        self.positions = positions
        self.peeked: tuple[int, Row] | None = None
        self._advance()

    def _advance(self) -> None:
        for row in self.rows:
            position = self.positions.get(row["psn_id"])
            if position is not None:  # rows of unknown persons were reported by the scan
                self.peeked = (position, row)
                return
        self.peeked = None

    def take(self, position: int) -> list[Row]:
        taken = []
        while self.peeked is not None and self.peeked[0] == position:
            taken.append(self.peeked[1])
            self._advance()
        return taken


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"日期格式错误: {text!r}（应为 YYYY-MM-DD）") from exc


def parse_record(insutype: str, row: Row, details: dict[str, list[Row]], today: date) -> LegacyRecord:
    record = LegacyRecord(
        insutype=insutype,
        psn_id=row["psn_id"],
        line=row.line,
        certno=normalise_certno(row["certno"]),
        psn_name=row["psn_name"],
        gend=row["gend"],
        brdy=row["brdy"],
        admdvs=row["admdvs"],
    )
    try:
        idno = parse_id_number(record.certno, today=today)
        record.id_birth, record.id_gend = idno.birth_date, idno.gend
    except InvalidIdNumber as exc:
        record.error("persons.csv", row.line, "INVALID_ID_NUMBER", str(exc))
    if not record.psn_name or len(record.psn_name) > 50:
        record.error("persons.csv", row.line, "INVALID_NAME", "姓名为空或超过50个字符")
    if not (len(record.admdvs) == 6 and record.admdvs.isdigit()):
        record.error("persons.csv", row.line, "INVALID_ADMDVS", f"行政区划代码应为6位数字: {record.admdvs!r}")
    by_year: dict[int, LegacyEnrollment] = {}
    for r in details["enrollments.csv"]:
        try:
            year = int(r["year"])
            if not 1990 <= year <= today.year + 1:
                raise ValueError(f"参保年度超出范围: {year}")
            admdvs = r["insuplc_admdvs"]
            if not (len(admdvs) == 6 and admdvs.isdigit()):
                raise ValueError(f"参保地行政区划代码应为6位数字: {admdvs!r}")
            begin = _date(r["coverage_begin"]) if r["coverage_begin"] else date(year, 1, 1)
            end = _date(r["coverage_end"]) if r["coverage_end"] else date(year, 12, 31)
            if not (date(year, 1, 1) <= begin <= end <= date(year, 12, 31)):
                raise ValueError(f"待遇期 {begin} 至 {end} 不在 {year} 年度内")
            if year in by_year:
                raise ValueError(f"{year} 年度参保记录重复")
            by_year[year] = LegacyEnrollment(r.line, year, admdvs, _fen(r["due"]), begin, end)
        except (ValueError, MoneyError) as exc:
            record.error("enrollments.csv", r.line, "INVALID_ENROLLMENT", str(exc))
    for r in details["payments.csv"]:
        try:
            year = int(r["year"])
            enrollment = by_year.get(year)
            if enrollment is None:
                raise ValueError(f"{year} 年度没有参保记录，缴费无法对应")
            if r["payer"] not in PAYERS:
                raise ValueError(f"缴费方 {r['payer']!r} 无效（{'/'.join(PAYERS)}）")
            amount = _fen(r["amount"])
            if amount <= 0:
                raise ValueError("缴费金额必须大于零")
            receipt = r["receipt_no"]
            if not receipt or len(receipt) > 40 or not receipt.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"收据号无效: {receipt!r}")
            if any(p.receipt_no == receipt for p in enrollment.payments):
                raise ValueError(f"收据号 {receipt} 在该年度重复")
            paid_on = _date(r["paid_on"])
            if paid_on > today:
                raise ValueError(f"缴费日期 {paid_on} 晚于今天")
            enrollment.payments.append(LegacyPayment(r.line, year, r["payer"], amount, receipt, paid_on))
        except (ValueError, MoneyError) as exc:
            record.error("payments.csv", r.line, "INVALID_PAYMENT", str(exc))
    for enrollment in by_year.values():
        if enrollment.paid_fen > enrollment.due_fen:
            record.error(
                "enrollments.csv",
                enrollment.line,
                "OVERPAID",
                f"{enrollment.year} 年度缴费合计 {enrollment.paid_fen / 100:.2f} 元超过应缴 "
                f"{enrollment.due_fen / 100:.2f} 元",
            )
    record.enrollments = sorted(by_year.values(), key=lambda e: e.year)
    for r in details["identities.csv"]:
        try:
            if r["psn_idet_type"] not in IDENTITY_TYPES:
                raise ValueError(f"人员身份类别 {r['psn_idet_type']!r} 无效（{'/'.join(IDENTITY_TYPES)}）")
            starts = _date(r["begin_date"])
            ends = _date(r["end_date"]) if r["end_date"] else None
            if ends is not None and ends < starts:
                raise ValueError("身份结束日期早于开始日期")
            record.identities.append(LegacyIdentity(r.line, r["psn_idet_type"], starts, ends))
        except ValueError as exc:
            record.error("identities.csv", r.line, "INVALID_IDENTITY", str(exc))
    for r in details["cards.csv"]:
        try:
            card_no, card_sn = r["card_no"], r["card_sn"]
            if not (6 <= len(card_no) <= 30 and card_no.isascii() and card_no.isalnum()):
                raise ValueError(f"社保卡号无效: {card_no!r}")
            if not (6 <= len(card_sn) <= 32 and card_sn.isascii() and card_sn.isalnum()):
                raise ValueError(f"卡识别码无效: {card_sn!r}")
            if r["status"] not in CARD_STATUSES:
                raise ValueError(f"卡状态 {r['status']!r} 无效（{'/'.join(CARD_STATUSES)}）")
            if any(c.card_no == card_no for c in record.cards):
                raise ValueError(f"社保卡号 {card_no} 重复")
            record.cards.append(LegacyCard(r.line, card_no, card_sn, r["status"], _date(r["issued_on"])))
        except ValueError as exc:
            record.error("cards.csv", r.line, "INVALID_CARD", str(exc))
    return record
