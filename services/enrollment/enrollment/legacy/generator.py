"""Synthetic pairs of legacy exports (URBMI 391 + NCMS 380) for tests and the benchmark.

N distinct persons: about 46 % only in URBMI, 46 % only in NCMS and 8 % in both (moved between schemes, or
enrolled twice in the same year: 重复参保). Among those in both: 4 % with different names (left for a clerk),
2 % paying the same year in both on the same day (left for a clerk), 5 % with a birth date that disagrees
with the ID number (the ID number wins); among the others 0.1 % with a broken ID number (refused), 3 % of
years not fully paid, 5 % with a subsidised identity, 90 % with a social-security card. Every person in
both exports pays the current year in the scheme that comes later, half of them in the other scheme too.
The generator counts what it made, so a benchmark can check the database without trusting the report.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from enrollment.legacy.exports import LAYOUTS
from shared.idcard import make_id_number

ID_ADMDVS = ("341521", "341522", "341523", "341524", "341525")
REGION = "341524"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程汪"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红娥建国志文辉鹏飞海燕婷雪梅晓东俊春德家豪"
DUE = {"391": 18000, "380": 15000}
INSTITUTION_COLUMNS = (
    "legacy_code",
    "fixmedins_code",
    "fixmedins_name",
    "fixmedins_type",
    "hosp_lv",
    "admdvs",
    "agreement_begin",
    "agreement_end",
)


@dataclass
class GeneratedPair:
    urbmi: Path
    ncms: Path
    persons: int = 0
    records: dict[str, int] = field(default_factory=lambda: {"391": 0, "380": 0})
    in_both: int = 0
    names_differ: int = 0
    same_day_ties: int = 0
    invalid_ids: int = 0
    #: persons the migration should write (all but the broken and the unresolved ones)
    expected_migrated: int = 0
    #: of those, persons with a fully paid current year (one coverage_activated event each)
    expected_covered: int = 0
    duplicate_paid_years: int = 0
    institutions: dict[str, int] = field(default_factory=lambda: {"391": 0, "380": 0})


def _fmt(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class _Out:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.handles = {}
        self.writers: dict[str, Any] = {}
        for file, (required, optional) in LAYOUTS.items():
            handle = (folder / file).open("w", newline="", encoding="utf-8")
            self.handles[file] = handle
            self.writers[file] = csv.writer(handle)
            self.writers[file].writerow(required + optional)
        self.next_id = 0

    def new_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id:09d}"

    def row(self, file: str, values: list[Any]) -> None:
        self.writers[file].writerow(values)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def generate_pair(folder: Path, persons: int, *, seed: int = 20261123, today: date) -> GeneratedPair:
    rng = random.Random(seed)
    pair = GeneratedPair(urbmi=folder / "urbmi", ncms=folder / "ncms", persons=persons)
    outs = {"391": _Out(pair.urbmi), "380": _Out(pair.ncms)}
    prefixes = {"391": "U", "380": "N"}
    seen: set[str] = set()
    year_now = today.year
    card_serial = 0
    try:
        for _ in range(persons):
            birth = date(1940, 1, 1) + timedelta(
                days=rng.randrange((date(year_now - 1, 6, 30) - date(1940, 1, 1)).days)
            )
            while True:
                certno = make_id_number(rng.choice(ID_ADMDVS), birth, rng.randrange(1000))
                if certno not in seen:
                    seen.add(certno)
                    break
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
            roll = rng.random()
            schemes = ["391"] if roll < 0.46 else ["380"] if roll < 0.92 else ["391", "380"]
            first_year = max(birth.year, year_now - rng.randint(0, 8))
            years = list(range(first_year, year_now + 1))
            if len(years) > 2 and rng.random() < 0.1:
                years.remove(rng.choice(years[:-1]))  # a gap in cover
            identity = rng.random() < 0.05
            has_card = rng.random() < 0.9
            if len(schemes) == 1:
                scheme = schemes[0]
                broken = rng.random() < 0.001
                if broken:
                    certno = certno[:-1] + ("0" if certno[-1] != "0" else "1")
                    pair.invalid_ids += 1
                unpaid = {y for y in years if rng.random() < 0.03}
                _write(
                    outs[scheme],
                    prefixes[scheme],
                    certno,
                    name,
                    birth,
                    years,
                    unpaid,
                    identity,
                    has_card,
                    rng,
                    card_serial,
                    today,
                    scheme,
                )
                card_serial += 1
                pair.records[scheme] += 1
                if not broken:
                    pair.expected_migrated += 1
                    pair.expected_covered += year_now not in unpaid
                continue
            pair.in_both += 1
            # Earlier years in one scheme, later ones in the other; the current year in the later one.
            order = schemes if rng.random() < 0.5 else schemes[::-1]
            cut = rng.randint(0, len(years) - 1)
            early, late = years[:cut], years[cut:]
            twice = rng.random() < 0.5
            kind = rng.random()
            name_b = name
            birth_b = birth
            tie = False
            if kind < 0.04:
                name_b = name + rng.choice(GIVEN)
                pair.names_differ += 1
            elif kind < 0.06 and twice:
                tie = True
                pair.same_day_ties += 1
            elif kind < 0.11:
                birth_b = birth + timedelta(days=1)
            for position, scheme in enumerate(order):
                mine = early if position == 0 else late
                if position == 0 and twice:
                    mine = [*early, year_now]
                _write(
                    outs[scheme],
                    prefixes[scheme],
                    certno,
                    name if position == 0 else name_b,
                    birth if position == 0 else birth_b,
                    mine,
                    set(),
                    identity,
                    has_card,
                    rng,
                    card_serial,
                    today,
                    scheme,
                    late_paid=position == 1,
                    tie=tie,
                )
                card_serial += 1
                pair.records[scheme] += 1
            if name_b == name and not tie:
                pair.expected_migrated += 1
                pair.expected_covered += 1
                pair.duplicate_paid_years += twice
        _institutions(pair, rng)
    finally:
        for out in outs.values():
            out.close()
    return pair


def _write(
    out: _Out,
    prefix: str,
    certno: str,
    name: str,
    birth: date,
    years: list[int],
    unpaid: set[int],
    identity: bool,
    has_card: bool,
    rng: random.Random,
    card_serial: int,
    today: date,
    scheme: str,
    *,
    late_paid: bool = False,
    tie: bool = False,
) -> None:
    psn_id = out.new_id(prefix)
    gend = "1" if int(certno[16]) % 2 else "2"
    out.row("persons.csv", [psn_id, certno, name, gend, birth.isoformat(), REGION])
    for year in sorted(set(years)):
        due = DUE[scheme]
        out.row("enrollments.csv", [psn_id, year, REGION, _fmt(due), "", ""])
    for year in sorted(set(years)):
        due = DUE[scheme]
        if tie:
            paid_on = date(year - 1, 11, 20)
        else:
            day = 91 + rng.randint(0, 59) if late_paid else rng.randint(0, 90)
            paid_on = min(date(year - 1, 9, 1) + timedelta(days=day), today)
        if year in unpaid:
            out.row("payments.csv", [psn_id, year, "individual", _fmt(due // 2), f"R{psn_id}{year}", paid_on])
        elif identity:
            out.row(
                "payments.csv", [psn_id, year, "medical_assistance", _fmt(due), f"M{psn_id}{year}", paid_on]
            )
        else:
            out.row("payments.csv", [psn_id, year, "individual", _fmt(due), f"R{psn_id}{year}", paid_on])
    if identity:
        out.row("identities.csv", [psn_id, "2102", date(today.year - 3, 1, 1).isoformat(), ""])
    if has_card:
        issued = date(today.year - rng.randint(1, 8), rng.randint(1, 12), rng.randint(1, 28))
        out.row(
            "cards.csv",
            [psn_id, f"C{scheme}{card_serial:010d}", f"SN{scheme}{card_serial:010d}", "active", issued],
        )


def _institutions(pair: GeneratedPair, rng: random.Random) -> None:
    """200 designated institutions per list, the first 60 on both lists under their own legacy codes."""
    lists = {"391": pair.urbmi, "380": pair.ncms}
    shared = [_institution(i, rng) for i in range(60)]
    for scheme, folder in lists.items():
        own = [_institution(1000 * int(scheme) + i, rng) for i in range(140)]
        with (folder / "institutions.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(INSTITUTION_COLUMNS)
            for n, inst in enumerate(shared + own):
                writer.writerow([f"{scheme}-{n:05d}", *inst])
                pair.institutions[scheme] += 1


def _institution(n: int, rng: random.Random) -> list[str]:
    kind = rng.choice(("1", "1", "2"))
    code = f"{'H' if kind == '1' else 'P'}{REGION}{n:06d}"
    level = rng.choice(("1", "2", "3")) if kind == "1" else "9"
    name = f"{'卫生院' if kind == '1' else '药房'}{n}"
    return [code, name, kind, level, REGION, "2015-01-01", ""]
