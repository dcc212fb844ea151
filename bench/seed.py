"""The load benchmark's data set, written straight into the services' tables.

Loading a city through the enrollment API (register the household, enroll, pay, issue the card, wait for
``enrollment.coverage_activated`` to reach settlement) runs at about 200 persons/s, so 1,000,000 persons would
take well over an hour. The harness therefore writes the rows the services' own code would write, in bulk
(PostgreSQL COPY, SQLite executemany):

* enrollment: ``households``, ``persons``, ``identity_categories`` (about 5 % hold 特困 2102), ``enrollments``
  (active, fully paid for the current year) and ``cards`` (one active social-security card each);
* settlement's read models: ``eligibility`` (one row per person, exactly what ``apply_coverage_activated``
  makes of the ``CoverageActivated`` event enrollment would publish: same psn_no, certno, name, sex, birth
  date, psn_type, region, the year's coverage window, enrollment id and identities) and ``cards`` (what
  ``apply_card_status_changed`` makes of the card's ``CardStatusChanged``).

Contribution payments and subsidy allocations are not written (no ledger entries for contributions): the
benchmark is about settling, and the ledger's books then hold exactly the settlements. Everything else
(region rules, institutions, the catalogue, the policy, the gateway's credentials) goes through the
services' APIs, as an operator would load it.

A person is a function of its index, so the load generator can name any of the N persons without a lookup.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.idcard import make_id_number

REGION = "341524"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强桂兰德才小明文"
#: Birth dates spread over 1940-01-01 .. 2024-12-31; the ID sequence number tells persons born the same day.
_FIRST_BIRTH = date(1940, 1, 1)
_BIRTH_DAYS = (date(2024, 12, 31) - _FIRST_BIRTH).days + 1
CHUNK = 20_000


@dataclass(frozen=True)
class Person:
    index: int
    psn_no: str
    certno: str
    name: str
    gend: str
    brdy: date
    card_no: str
    card_sn: str
    household_no: str
    assisted: bool


def person(index: int) -> Person:
    brdy = _FIRST_BIRTH + timedelta(days=(index * 7919) % _BIRTH_DAYS)
    sequence = index // _BIRTH_DAYS + 1  # < 999 for up to 36 million persons
    certno = make_id_number(REGION, brdy, sequence)
    name = SURNAMES[index % len(SURNAMES)] + GIVEN[(index // 7) % len(GIVEN)]
    if index % 3 == 0:
        name += GIVEN[(index // 3) % len(GIVEN)]
    return Person(
        index=index,
        psn_no=f"{REGION}{index + 1:016d}",
        certno=certno,
        name=name,
        gend="1" if sequence % 2 else "2",
        brdy=brdy,
        card_no=f"C{REGION}{index + 1:010d}",
        card_sn=f"SN{index + 1:012d}",
        household_no=f"{REGION}-B{index // 3 + 1:08d}",
        assisted=index % 20 == 7,
    )


def psn_type(brdy: date, on: date) -> str:
    """As ``enrollment.enrollments.rules.person_type`` (no school registered)."""
    age = on.year - brdy.year - ((on.month, on.day) < (brdy.month, brdy.day))
    if age < 1:
        return "1401"
    if age < 6:
        return "1402"
    if age < 18:
        return "1403"
    return "1601" if age >= 60 else "1501"


def rows(persons: int, year: int) -> dict[str, Iterator[list[dict[str, Any]]]]:
    """Per (service, table): chunks of rows as dicts of column values."""
    now = datetime.now(UTC)
    begin, end = date(year, 1, 1), date(year, 12, 31)
    enrolled_on = date(year - 1, 12, 1)

    def chunks(make: Any, count: int) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, count, CHUNK):
            yield [r for r in (make(i) for i in range(start, min(count, start + CHUNK))) if r is not None]

    def household(i: int) -> dict[str, Any]:
        return {
            "household_no": f"{REGION}-B{i + 1:08d}",
            "admdvs": REGION,
            "address": f"金寨县第{i % 23 + 1}镇第{i % 211 + 1}村",
            "head_psn_no": person(3 * i).psn_no,
            "created_at": now,
        }

    def person_row(i: int) -> dict[str, Any]:
        p = person(i)
        return {
            "psn_no": p.psn_no,
            "certno": p.certno,
            "psn_cert_type": "01",
            "psn_name": p.name,
            "gend": p.gend,
            "brdy": p.brdy,
            "naty": "01",
            "admdvs": REGION,
            "household_no": p.household_no,
            "relation": "head" if i % 3 == 0 else "child" if i % 3 == 2 else "spouse",
            "created_at": now,
        }

    def identity(i: int) -> dict[str, Any] | None:
        p = person(i)
        if not p.assisted:
            return None
        return {"psn_no": p.psn_no, "psn_idet_type": "2102", "begin_date": begin, "created_at": now}

    def enrollment(i: int) -> dict[str, Any]:
        p = person(i)
        due = 0 if p.assisted else 30_00
        return {
            "id": i + 1,
            "psn_no": p.psn_no,
            "year": year,
            "insutype": "390",
            "psn_type": psn_type(p.brdy, begin),
            "tier": "1",
            "insuplc_admdvs": REGION,
            "status": "active",
            "kind": "regular",
            "coverage_begin": begin,
            "coverage_end": end,
            "due_fen": due,
            "paid_fen": due,
            "subsidy_fen": 20_00,
            "enrolled_on": enrolled_on,
            "activated_on": enrolled_on,
            "created_at": now,
        }

    def card(i: int) -> dict[str, Any]:
        p = person(i)
        return {
            "card_no": p.card_no,
            "card_sn": p.card_sn,
            "psn_no": p.psn_no,
            "status": "active",
            "issued_on": enrolled_on,
            "changed_on": enrolled_on,
            "created_at": now,
        }

    def eligibility(i: int) -> dict[str, Any]:
        p = person(i)
        identities = (
            [{"psn_idet_type": "2102", "begin_date": begin.isoformat(), "end_date": None}]
            if p.assisted
            else []
        )
        return {
            "psn_no": p.psn_no,
            "certno": p.certno,
            "psn_name": p.name,
            "gend": p.gend,
            "brdy": p.brdy,
            "insutype": "390",
            "psn_type": psn_type(p.brdy, begin),
            "insuplc_admdvs": REGION,
            "year": year,
            "coverage_begin": begin,
            "coverage_end": end,
            "enrollment_id": i + 1,
            "identities": identities,
            "continuous_years": 1,
            "psn_insu_date": begin,
            "status": "active",
            "terminated_on": None,
            "updated_at": now,
        }

    def settlement_card(i: int) -> dict[str, Any]:
        p = person(i)
        return {
            "card_no": p.card_no,
            "card_sn": p.card_sn,
            "psn_no": p.psn_no,
            "status": "active",
            "changed_on": enrolled_on,
            "updated_at": now,
        }

    return {
        "enrollment.households": chunks(household, (persons + 2) // 3),
        "enrollment.persons": chunks(person_row, persons),
        "enrollment.identity_categories": chunks(identity, persons),
        "enrollment.enrollments": chunks(enrollment, persons),
        "enrollment.cards": chunks(card, persons),
        "settlement.eligibility": chunks(eligibility, persons),
        "settlement.cards": chunks(settlement_card, persons),
    }


JSON_COLUMNS = {"identities"}


async def seed_postgres(dsns: dict[str, str], persons: int, year: int) -> dict[str, int]:
    """COPY into the migrated databases (``dsns``: service -> asyncpg DSN); returns rows per table."""
    import asyncpg

    counts: dict[str, int] = {}
    connections = {name: await asyncpg.connect(dsn) for name, dsn in dsns.items()}
    try:
        for key, chunked in rows(persons, year).items():
            service, table = key.split(".")
            conn = connections[service]
            total = 0
            for chunk in chunked:
                if not chunk:
                    continue
                columns = list(chunk[0])
                records = [
                    tuple(json.dumps(r[c]) if c in JSON_COLUMNS else r[c] for c in columns) for r in chunk
                ]
                await conn.copy_records_to_table(table, records=records, columns=columns)
                total += len(records)
            counts[key] = total
        await connections["enrollment"].execute(
            "SELECT setval(pg_get_serial_sequence('enrollments', 'id'), (SELECT max(id) FROM enrollments))"
        )
        for conn in connections.values():
            await conn.execute("ANALYZE")
    finally:
        for conn in connections.values():
            await conn.close()
    return counts


def _sqlite_value(value: Any, column: str) -> Any:
    if column in JSON_COLUMNS:
        return json.dumps(value)
    if isinstance(value, datetime):  # shared.db.AwareDateTime: UTC, naive, SQLAlchemy's text form
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def seed_sqlite(paths: dict[str, str], persons: int, year: int) -> dict[str, int]:
    """executemany into the migrated SQLite files (``paths``: service -> file)."""
    counts: dict[str, int] = {}
    connections = {name: sqlite3.connect(path) for name, path in paths.items()}
    try:
        for conn in connections.values():
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
        for key, chunked in rows(persons, year).items():
            service, table = key.split(".")
            conn = connections[service]
            total = 0
            for chunk in chunked:
                if not chunk:
                    continue
                columns = list(chunk[0])
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                conn.executemany(sql, [tuple(_sqlite_value(r[c], c) for c in columns) for r in chunk])
                total += len(chunk)
            conn.commit()
            counts[key] = total
        for conn in connections.values():
            conn.execute("ANALYZE")
            conn.commit()
    finally:
        for conn in connections.values():
            conn.close()
    return counts
