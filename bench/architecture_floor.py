"""The architecture's floor: how many card swipes a second this machine carries when the platform's path is
kept (signed HTTP envelope → gateway-shaped FastAPI service → HTTP → settlement-shaped FastAPI service →
durable PostgreSQL commits) and its domain code is taken out (``floor_apps.py`` says what each side does).

    .venv/bin/python bench/architecture_floor.py                   # c=16, 30 s, both shapes
    .venv/bin/python bench/architecture_floor.py --concurrency 32 --duration 60

Same PostgreSQL settings as ``settlement_load.py`` (durable commits), one uvicorn process per service, the
same lean load client (``rawhttp.py``) as the settlement harness. Phases: ``two services`` (load → front →
back) and ``one service`` (load → back directly), so the cost of the second HTTP hop and of the gateway's
two durable statements is visible. Reported: requests/s, p50/p99/max latency, CPU milliseconds per request
of each process (front, back, PostgreSQL, load client). The settlement harness's figures are read against
these: the platform cannot be faster than its own skeleton. Checks: every answer is a success, the
settlement table holds exactly the answered settlements, and a repeated msgid is answered the same.

Results: ``bench/results/architecture_floor-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import rawhttp
from benchinfo import git, machine_info  # bench/ is on sys.path when a script here runs
from loadgen import summary
from settlement_load import PG_SETTINGS, _cpu_seconds, _load, _postmaster_pid

from platformctl.pgtemp import PostgresServer
from platformctl.stack import free_port, server_options, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
INSTITUTIONS = [(f"P{n:05d}", f"secret-{n}") for n in range(60)]


def _start(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)),
            *("--no-access-log", *server_options()),
        ],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT / "bench")},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port)
    return process


def _signed(paasid: str, secret: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    nonce = uuid.uuid4().hex
    signature = hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()
    return {
        "content-type": "application/json",
        "x-tif-paasid": paasid,
        "x-tif-timestamp": timestamp,
        "x-tif-nonce": nonce,
        "x-tif-signature": signature,
    }


async def _drive(
    url: str, path: str, shape: str, concurrency: int, duration: float, rng: random.Random
) -> dict[str, Any]:
    client = rawhttp.Client(url, connections=concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    answered: set[str] = set()
    sequence = 0
    deadline = time.monotonic() + duration

    def body() -> tuple[str, bytes, dict[str, str]]:
        nonlocal sequence
        sequence += 1
        code, secret = rng.choice(INSTITUTIONS)
        msgid = f"{code}{datetime.now():%Y%m%d%H%M%S}{sequence:06d}"
        lines = [
            {
                "code": f"X{rng.randrange(5000):05d}",
                "cnt": rng.randint(1, 10),
                "price_fen": rng.randint(100, 9000),
            }
            for _ in range(rng.randint(1, 10))
        ]
        psn_no = f"P{rng.randrange(100_000):08d}"
        if shape == "back":
            payload: dict[str, Any] = {"msgid": msgid, "psn_no": psn_no, "lines": lines}
            return msgid, json.dumps(payload).encode(), {"content-type": "application/json"}
        envelope = {"infno": "2102", "msgid": msgid, "input": {"data": {"psn_no": psn_no, "lines": lines}}}
        return msgid, json.dumps(envelope, ensure_ascii=False).encode(), _signed(code, secret)

    async def worker() -> None:
        while time.monotonic() < deadline:
            msgid, raw, headers = body()
            started = time.perf_counter()
            try:
                answer = await client.post(path, raw, headers)
            except rawhttp.HttpError as exc:
                errors.append(repr(exc))
                continue
            latencies.append(time.perf_counter() - started)
            parsed = json.loads(answer.body)
            ok = answer.status == 200 and (shape == "back" or parsed.get("infcode") == 0)
            if ok:
                answered.add(msgid)
            else:
                errors.append(answer.text[:200])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    # A repeat of an answered msgid (same body, fresh signature) must be answered the same and write nothing.
    await client.close()
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "per_s": round(len(latencies) / elapsed, 1),
        "errors": len(errors),
        "error_samples": errors[:3],
        "latency_ms": summary(latencies),
        "answered": answered,
    }


async def _replay_check(front_url: str) -> bool:
    """The same msgid twice through the front: one settlement, the same answer."""
    client = rawhttp.Client(front_url, connections=1)
    code, secret = INSTITUTIONS[0]
    envelope = {
        "infno": "2102",
        "msgid": f"{code}{datetime.now():%Y%m%d%H%M%S}9999",
        "input": {
            "data": {"psn_no": "P00000001", "lines": [{"code": "X00001", "cnt": 2, "price_fen": 1050}]}
        },
    }
    raw = json.dumps(envelope).encode()
    first = await client.post("/call", raw, _signed(code, secret))
    second = await client.post("/call", raw, _signed(code, secret))
    await client.close()
    return first.status == second.status == 200 and first.body == second.body


async def _rows(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = PostgresServer.start(PG_SETTINGS)
    work = Path(server.root)
    try:
        database = server.create_database("floor")
        dsn = f"postgresql://postgres@127.0.0.1:{server.port}/{database}"

        async def prepare() -> None:
            from floor_apps import SCHEMA

            conn = await asyncpg.connect(dsn)
            await conn.execute(SCHEMA)
            await conn.executemany("INSERT INTO institutions VALUES ($1, $2)", INSTITUTIONS)
            await conn.close()

        asyncio.run(prepare())
        back_port, front_port = free_port(), free_port()
        logs = Path(args.logs)
        logs.mkdir(parents=True, exist_ok=True)
        back = _start("floor_apps:back", back_port, {"FLOOR_DSN": dsn}, logs / "back.log")
        front = _start(
            "floor_apps:front",
            front_port,
            {
                "FLOOR_DSN": dsn,
                "FLOOR_BACK_URL": f"http://127.0.0.1:{back_port}",
                "FLOOR_CLIENT": args.client,
            },
            logs / "front.log",
        )
        pids = {"front": front.pid, "back": back.pid, "postgres": _postmaster_pid(server)}
        rng = random.Random(args.seed)
        phases = []
        answered_total: set[str] = set()
        try:
            for label, url, path, shape in (
                ("two services", f"http://127.0.0.1:{front_port}", "/call", "front"),
                ("one service", f"http://127.0.0.1:{back_port}", "/settle", "back"),
            ):
                asyncio.run(_drive(url, path, shape, 4, 3.0, rng))  # warm up: connections, statement caches
                load_before = _load()
                cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
                own_before = time.process_time()  # the services are its children: not _cpu_seconds(own pid)
                result = asyncio.run(_drive(url, path, shape, args.concurrency, args.duration, rng))
                cpu = {name: round(_cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
                cpu["load"] = round(time.process_time() - own_before, 2)
                answered_total |= result.pop("answered")
                n = max(result["requests"], 1)
                result.update(
                    phase=label,
                    concurrency=args.concurrency,
                    cpu_seconds=cpu,
                    cpu_ms_per_request={k: round(1000 * v / n, 2) for k, v in cpu.items()},
                    cpu_ms_per_request_all=round(1000 * sum(cpu.values()) / n, 2),
                    load=[load_before, _load()],
                )
                phases.append(result)
                latency = result["latency_ms"]
                print(
                    f"  {label}: {result['per_s']}/s, {result['errors']} errors, p50 "
                    f"{latency.get('p50_ms')} p99 {latency.get('p99_ms')} ms; CPU ms/request "
                    f"{result['cpu_ms_per_request']} (all {result['cpu_ms_per_request_all']})",
                    flush=True,
                )
            replay_ok = asyncio.run(_replay_check(f"http://127.0.0.1:{front_port}"))
        finally:
            for process in (front, back):
                process.terminate()
                process.wait(10)
        settlements = asyncio.run(_rows(dsn, "SELECT count(*) FROM settlements"))
        # Warm-up and replay-check settlements are in the table too; the measured ones must all be there.
        measured = asyncio.run(
            _rows(
                dsn,
                "SELECT count(*) FROM settlements WHERE msgid = ANY('{" + ",".join(answered_total) + "}')",
            )
        )
        checks = {
            "no_errors": all(p["errors"] == 0 for p in phases),
            "every_answer_settled_once": measured == len(answered_total),
            "replay_answered_the_same": replay_ok,
        }
        return {"phases": phases, "settlements_in_table": settlements, "checks": checks, "work": str(work)}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument(
        "--client",
        choices=("shared", "httpx", "aiohttp"),
        default="shared",
        help="the front's HTTP client: httpx on shared.http's transport (as the gateway), httpx's own "
        "transport, or aiohttp's client",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--logs", default="/tmp/architecture-floor-logs")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    commit = git("rev-parse", "--short", "HEAD")
    print(f"architecture floor at {commit}, client {args.client}, load average {_load()}", flush=True)
    result = run(args)
    print(f"  checks: {result['checks']}")
    ok = all(result["checks"].values())
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"architecture_floor-{started:%Y%m%dT%H%M%SZ}.json"
        payload = {
            "benchmark": "architecture_floor",
            "date": started.isoformat(timespec="seconds"),
            "git_commit": commit,
            "machine": machine_info(),
            "postgres_settings": PG_SETTINGS,
            "client": args.client,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "ok": ok,
            **result,
        }
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"  results: {path.relative_to(ROOT)}")
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
