"""Plans made on an empty table and kept while it grows: what a PostgreSQL backend of the settlement service
pays when its foreign-key checks and prepared statements were first planned on the empty tables a new
database (or a benchmark) starts from.

    .venv/bin/python bench/stale_plans.py                 # parents grown to 20,000 settlements

On the settlement schema (migrated, a throwaway server, autovacuum off so that nothing analyzes in between):

* ``foreign key``: a backend inserts settlement lines while ``settlements`` holds one row (PostgreSQL plans
  the key's check, ``SELECT 1 FROM settlements WHERE setl_id = $1 FOR KEY SHARE``, once per backend and
  keeps it); another connection then writes N settlements; 100-line inserts timed on the first backend, on
  a new one, and on the first again after ``ANALYZE settlements`` (which invalidates the kept plan);
* ``days-supply probe``: the supervision rule's read (``supervision.rules``, the in-flight form that the
  write statement of a settlement carries) prepared and run 7 times on the empty tables (after 5 runs
  PostgreSQL may keep a generic plan), then N settlements of 100 lines each written and the anchor
  person given three earlier purchases; the read timed on the first backend, a new one, and after ANALYZE.

Wall milliseconds per statement, the median of the repetitions. Results:
``bench/results/stale_plans-<UTC>.json``. Why ``settlement_load.py`` lets autovacuum visit every 10 s
(bench/results/performance-log.md, stop 19).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from benchinfo import write_result  # bench/ is on sys.path when a script here runs
from sqlalchemy.dialects import postgresql

from platformctl.pgtemp import PostgresServer
from shared.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services" / "settlement"))

from settlement.supervision.rules import _SAME_DRUGS_BEFORE_IN_FLIGHT  # noqa: E402

#: A value for each NOT NULL column without a default, by type (the rows' content does not matter here).
_FILLER = {
    "character varying": "'x'",
    "text": "'x'",
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
    "numeric": "0",
    "double precision": "0",
    "timestamp with time zone": "now()",
    "timestamp without time zone": "now()",
    "date": "current_date",
    "boolean": "false",
    "json": "'{}'",
    "jsonb": "'{}'",
}


async def insert_rows(conn: asyncpg.Connection, table: str, n: int, values: dict[str, str]) -> None:
    """``n`` rows into ``table`` by one INSERT … SELECT over ``generate_series`` (``i``): ``values`` gives
    SQL expressions for some columns, every other required column gets a filler."""
    required = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = $1 AND is_nullable = 'NO' AND column_default IS NULL",
        table,
    )
    columns = {r["column_name"]: _FILLER[r["data_type"]] for r in required} | values
    await conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns.values())}"
        f" FROM generate_series(1, {n}) AS i"
    )


def settlements(prefix: str, psn_no: str, begntime: str = "now()") -> dict[str, str]:
    return {
        "setl_id": f"'{prefix}' || i",
        "msgid": f"'{prefix}M' || i",
        "psn_no": psn_no,
        "status": "'settled'",
        "begntime": begntime,
    }


def lines(prefix: str, setl_id: str, *, prd_days: str = "NULL") -> dict[str, str]:
    return {
        "setl_id": setl_id,
        "feedetl_sn": f"'{prefix}' || i",
        "med_list_codg": "'D' || (i % 5000)",
        "prd_days": prd_days,
    }


async def timed(repeat: int, step: Callable[[int], Awaitable[Any]]) -> float:
    times = []
    for k in range(repeat):
        started = time.perf_counter()
        await step(k)
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


async def foreign_key(url: str, parents: int, repeat: int) -> dict[str, float]:
    first = await asyncpg.connect(url)
    other = await asyncpg.connect(url)
    try:
        await insert_rows(first, "settlements", 1, settlements("A", "'P0'"))
        await first.execute("ANALYZE settlements")
        for k in range(8):  # the key's check planned while the parent table holds one row
            await insert_rows(first, "settlement_lines", 1, lines(f"a{k}_", "'A1'"))
        await insert_rows(other, "settlements", parents, settlements("B", "'Q' || i"))
        parent = f"'B{parents}'"

        def hundred(conn: asyncpg.Connection, tag: str) -> Callable[[int], Awaitable[None]]:
            return lambda k: insert_rows(conn, "settlement_lines", 100, lines(f"{tag}{k}_", parent))

        kept = await timed(repeat, hundred(first, "f"))
        new = await asyncpg.connect(url)
        try:
            fresh = await timed(repeat, hundred(new, "n"))
        finally:
            await new.close()
        await other.execute("ANALYZE settlements")
        analyzed = await timed(repeat, hundred(first, "g"))
        return {"plan_kept_ms": kept, "new_backend_ms": fresh, "after_analyze_ms": analyzed}
    finally:
        await first.close()
        await other.close()


async def days_supply_probe(url: str, parents: int, repeat: int) -> dict[str, float]:
    sql = str(_SAME_DRUGS_BEFORE_IN_FLIGHT.compile(dialect=postgresql.asyncpg.dialect()))
    now = datetime.now(UTC)
    args = ("P1", "settled", "S0", now, now - timedelta(days=90), [f"D{i}" for i in range(100)])
    first = await asyncpg.connect(url)
    other = await asyncpg.connect(url)
    try:
        await first.execute("ANALYZE")
        probe = await first.prepare(sql)
        for _ in range(7):  # planned on the empty tables; kept generic after the fifth run
            await probe.fetch(*args)
        await insert_rows(other, "settlements", parents, settlements("B", "'Q' || i"))
        await insert_rows(other, "settlement_lines", 100 * parents, lines("b", "'B' || (1 + (i - 1) / 100)"))
        # The anchor person's three earlier purchases, 10 drug lines each with days of supply.
        await insert_rows(other, "settlements", 3, settlements("C", "'P1'", "now() - interval '10 days'"))
        earlier = lines("c", "'C' || (1 + (i - 1) / 10)", prd_days="7")
        await insert_rows(other, "settlement_lines", 30, earlier)

        kept = await timed(repeat, lambda _: probe.fetch(*args))
        new = await asyncpg.connect(url)
        try:
            fresh_probe = await new.prepare(sql)
            fresh = await timed(repeat, lambda _: fresh_probe.fetch(*args))
        finally:
            await new.close()
        await other.execute("ANALYZE settlements; ANALYZE settlement_lines")
        analyzed = await timed(repeat, lambda _: probe.fetch(*args))
        return {"plan_kept_ms": kept, "new_backend_ms": fresh, "after_analyze_ms": analyzed}
    finally:
        await first.close()
        await other.close()


async def measure(parents: int, repeat: int) -> dict[str, dict[str, float]]:
    server = PostgresServer.start({"autovacuum": "off"})
    try:
        figures = {}
        for name, case in (("foreign key", foreign_key), ("days-supply probe", days_supply_probe)):
            database = server.create_database("stale")
            upgrade("settlement", server.url(database))
            url = server.url(database).replace("postgresql+asyncpg://", "postgresql://")
            figures[name] = await case(url, parents, repeat)
        return figures
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parents", type=int, default=20000, help="settlements written after the plan")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    figures = asyncio.run(measure(args.parents, args.repeat))
    print(f"{'case':18} {'plan kept':>10} {'new backend':>12} {'after ANALYZE':>14}  (ms per statement)")
    for name, f in figures.items():
        kept, new, analyzed = f["plan_kept_ms"], f["new_backend_ms"], f["after_analyze_ms"]
        print(f"{name:18} {kept:10.2f} {new:12.2f} {analyzed:14.2f}")
    if not args.no_json:
        out = write_result("stale_plans", started, parents=args.parents, repeat=args.repeat, figures=figures)
        print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
