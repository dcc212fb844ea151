"""CPU of three pieces of a card swipe's path, old way against new way, in one process (issue 29, the run
log's stop 23), so that each change is measured apart from the whole platform and the machine's moment:

* ``hop``: one gateway call to a service (a 2 kB answer from a loopback server in another process, 16
  calls at once): ``Downstream`` through ``httpx.AsyncClient`` on ``shared.http.AiohttpTransport`` (how
  the tests reach in-process services) against ``shared.http.ServiceHop`` (the gateway's calls now);
* ``statement``: one ``Database.statements()`` block of one prebuilt read by primary key on a throwaway
  PostgreSQL: ``Statements.execute`` (SQLAlchemy's execution) against ``Statements.run`` (asyncpg
  directly, the gateway's envelope statements now);
* ``record``: a settlement record of 40 columns built by ``Settlement(**values)`` (SQLModel's
  per-field ``__setattr__``) against ``shared.db.transient``.

    .venv/bin/python bench/hot_path_pieces.py                 # 3 rounds; --calls N per round

CPU microseconds per call (``time.process_time`` of this process; the loopback server's CPU is not
counted), the median of the rounds. Results: ``bench/results/hot_path_pieces-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from benchinfo import write_result  # bench/ is on sys.path when a script here runs
from gateway.downstream import Downstream
from settlement.settlements.models import Settlement
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, text

from platformctl.pgtemp import PostgresServer
from platformctl.stack import free_port
from shared.db import Database, transient

#: A loopback HTTP/1.1 server answering every request with the same 2 kB JSON, kept alive.
SERVER = r"""
import asyncio, sys
BODY = b'{"x":"' + b"a" * 2000 + b'"}'
ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
async def serve(reader, writer):
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except Exception:
            return
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await reader.readexactly(length)
        writer.write(ANSWER)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""

metadata = MetaData()
accounts = Table(
    "bench_hot_accounts", metadata, Column("id", Integer, primary_key=True), Column("v", String(10))
)
BY_ID = select(accounts.c.v, accounts.c.id).where(accounts.c.id == bindparam("id"))


def cpu_us(calls: int, run: Callable[[], None]) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) / calls * 1e6


async def acpu_us(calls: int, run: Callable[[], Awaitable[None]]) -> float:
    started = time.process_time()
    await run()
    return (time.process_time() - started) / calls * 1e6


def start_server(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", SERVER, str(port)])


async def hop(calls: int, rounds: int) -> dict[str, list[float]]:
    port = free_port()
    server = start_server(port)
    await asyncio.sleep(1.0)
    downstream = Downstream(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", 5.0)
    own_hop = downstream._hop
    body = b'{"msgid":"' + b"m" * 30 + b'","lines":[' + b",".join([b'{"amount":"1.00"}'] * 5) + b"]}"
    headers = {"authorization": "Bearer " + "t" * 120, "x-request-id": "r" * 32, "x-msgid": "m" * 30,
               "content-type": "application/json"}  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1/pharmacy-settlements"

    async def sixteen_at_once(n: int) -> None:
        async def client() -> None:
            for _ in range(n // 16):
                await downstream._send("POST", url, dict(headers), None, body)

        await asyncio.gather(*(client() for _ in range(16)))

    out: dict[str, list[float]] = {"httpx on AiohttpTransport": [], "ServiceHop": []}
    try:
        for _ in range(rounds):
            for name in out:
                downstream._hop = own_hop if name == "ServiceHop" else None
                await sixteen_at_once(calls // 5)  # warm
                out[name].append(await acpu_us(calls, lambda: sixteen_at_once(calls)))
    finally:
        downstream._hop = own_hop
        await downstream.close()
        server.terminate()
    return out


async def statement(calls: int, rounds: int) -> dict[str, list[float]]:
    server = PostgresServer.start()
    out: dict[str, list[float]] = {"Statements.execute": [], "Statements.run": []}
    try:
        db = Database(server.url(server.create_database("hot")))
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                text("INSERT INTO bench_hot_accounts SELECT g, 'x' FROM generate_series(1, 1000) g")
            )

        async def blocks(way: str) -> None:
            for i in range(calls):
                async with db.statements() as conn:
                    read = conn.run if way == "Statements.run" else conn.execute
                    (await read(BY_ID, {"id": i % 1000 + 1})).first()

        for _ in range(rounds):
            for name in out:
                await blocks(name)  # warm: prepared statements, the pool
                out[name].append(await acpu_us(calls, lambda name=name: blocks(name)))
        await db.dispose()
    finally:
        server.stop()
    return out


def record(calls: int, rounds: int) -> dict[str, list[float]]:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        name: 1 for name, field in Settlement.model_fields.items() if field.annotation in (int, int | None)
    }
    values.update(
        setl_id="S1", mdtrt_id="M1", msgid="m", request_sha256="x" * 64, fixmedins_code="P1",
        institution_level="1", psn_no="p", insutype="390", psn_type="1", insuplc_admdvs="341524",
        mdtrtarea_admvs="341524", med_type="41", clr_type="41", mdtrt_cert_type="02", invono="",
        begntime=now, setl_time=now, pool_ratio=Decimal("0.5"), calc_trace="t", encounter_kind="pharmacy",
        status="settled", ytd_delta={}, layers={},
    )  # fmt: skip
    values.pop("id", None)
    out: dict[str, list[float]] = {"Settlement(**values)": [], "transient(Settlement, **values)": []}
    for _ in range(rounds):
        out["Settlement(**values)"].append(
            cpu_us(calls, lambda: [Settlement(**values) for _ in range(calls)])
        )  # type: ignore[func-returns-value]
        out["transient(Settlement, **values)"].append(
            cpu_us(calls, lambda: [transient(Settlement, **values) for _ in range(calls)])  # type: ignore[func-returns-value]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = datetime.now(UTC)
    measured = {
        "hop": asyncio.run(hop(args.calls, args.rounds)),
        "statement": asyncio.run(statement(args.calls, args.rounds)),
        "record": record(args.calls, args.rounds),
    }
    medians = {
        piece: {way: round(statistics.median(v), 1) for way, v in ways.items()}
        for piece, ways in measured.items()
    }
    for piece, ways in medians.items():
        print(piece)
        for way, us in ways.items():
            each = ", ".join(f"{x:.0f}" for x in measured[piece][way])
            print(f"  {way:36s} {us:8.1f} µs CPU per call (rounds: {each})")
    path = write_result(
        "hot_path_pieces", started, calls=args.calls, rounds=args.rounds, cpu_us=medians, runs=measured
    )
    print(f"result: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
