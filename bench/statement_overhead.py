"""What one statement costs the Python process, by how it is written: the CPU of a primary-key-sized read
(one row of a 1,000-row table, by a unique column) on PostgreSQL through the ways the services can issue it.

    .venv/bin/python bench/statement_overhead.py                 # 3,000 statements each, 3 rounds

* ``orm inline``: ``session.scalar(select(Model).where(Model.col == value))``, built at every call;
* ``orm prebuilt``: the same ORM statement built once with a ``bindparam``;
* ``core inline``: ``conn.execute(select(table).where(...))`` built at every call;
* ``core prebuilt``: a Core statement built once, run on the session's connection (``shared.db.run``);
* ``asyncpg``: the driver's ``fetchrow`` with the SQL text (what SQLAlchemy adds nothing to).

CPU microseconds per statement (``time.process_time``) and wall microseconds, sequential on one connection;
the median of the rounds. The server is a throwaway PostgreSQL (``platformctl.pgtemp``). Results:
``bench/results/statement_overhead-<UTC>.json``. This is why the settlement path builds its statements once
(bench/results/performance-log.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from benchinfo import write_result  # bench/ is on sys.path when a script here runs
from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel import Field, SQLModel, col

from platformctl.pgtemp import PostgresServer
from shared.db import run

ROOT = Path(__file__).resolve().parent.parent


class Account(SQLModel, table=True):
    __tablename__ = "bench_accounts"
    id: int | None = Field(default=None, primary_key=True)
    psn_no: str = Field(index=True, unique=True, max_length=30)
    deductible_fen: int = 0
    paid_fen: int = 0
    count: int = 0


async def measure(n: int, rounds: int) -> dict[str, dict[str, float]]:
    server = PostgresServer.start()
    try:
        engine = create_async_engine(server.url(server.create_database("stmt")), pool_size=2)
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
            await conn.execute(insert(Account.__table__), [{"psn_no": f"P{i:08d}"} for i in range(1000)])  # type: ignore[attr-defined]
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        table = Account.__table__  # type: ignore[attr-defined]
        orm_prebuilt = select(Account).where(col(Account.psn_no) == bindparam("p"))
        core_prebuilt = select(table).where(table.c.psn_no == bindparam("p"))

        async def orm_inline() -> None:
            async with sessions() as s, s.begin():
                for i in range(n):
                    await s.scalar(select(Account).where(col(Account.psn_no) == f"P{i % 1000:08d}"))

        async def orm_built_once() -> None:
            async with sessions() as s, s.begin():
                for i in range(n):
                    await s.scalar(orm_prebuilt, {"p": f"P{i % 1000:08d}"})

        async def core_inline() -> None:
            async with sessions() as s, s.begin():
                conn = await s.connection()
                for i in range(n):
                    (await conn.execute(select(table).where(table.c.psn_no == f"P{i % 1000:08d}"))).first()

        async def core_built_once() -> None:
            async with sessions() as s, s.begin():
                for i in range(n):
                    (await run(s, core_prebuilt, {"p": f"P{i % 1000:08d}"})).first()

        async def driver() -> None:
            async with engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                for i in range(n):
                    await raw.fetchrow("SELECT * FROM bench_accounts WHERE psn_no = $1", f"P{i % 1000:08d}")

        ways: dict[str, Callable[[], Awaitable[None]]] = {
            "orm inline": orm_inline,
            "orm prebuilt": orm_built_once,
            "core inline": core_inline,
            "core prebuilt": core_built_once,
            "asyncpg": driver,
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for _ in range(rounds + 1):  # the first round warms the caches and is not kept
            for name, way in ways.items():
                cpu, wall = time.process_time(), time.perf_counter()
                await way()
                samples[name].append((time.process_time() - cpu, time.perf_counter() - wall))
        await engine.dispose()
    finally:
        server.stop()
    return {
        name: {
            "cpu_us": round(statistics.median(1e6 * c / n for c, _ in kept[1:]), 1),
            "wall_us": round(statistics.median(1e6 * w / n for _, w in kept[1:]), 1),
        }
        for name, kept in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--statements", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    figures = asyncio.run(measure(args.statements, args.rounds))
    print(f"{'way':16} {'CPU µs/stmt':>12} {'wall µs/stmt':>13}")
    for name, f in figures.items():
        print(f"{name:16} {f['cpu_us']:12.1f} {f['wall_us']:13.1f}")
    if not args.no_json:
        out = write_result(
            "statement_overhead", started, statements=args.statements, rounds=args.rounds, figures=figures
        )
        print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
