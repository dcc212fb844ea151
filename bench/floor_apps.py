"""The two services of ``architecture_floor.py``: the platform's card-swipe path with the domain taken out.

``front`` has the gateway's shape: it reads a signed envelope, checks the signature, reads the institution,
uses up the nonce and claims the msgid (one durable statement), calls ``back`` over HTTP (``FLOOR_CLIENT``:
httpx on the gateway's transport by default), then
stores the answer (one durable statement). ``back`` has settlement's shape: a pydantic request model, one
transaction that claims the msgid, locks the person's accumulator, writes the settlement, its fund row and an
outbox row, updates the accumulator and stores the answer, and a response model. Both are FastAPI apps
under uvicorn, on asyncpg without an ORM: what is left is the cost of the architecture itself (two HTTP
services, durable commits), which no optimisation of the domain code can go below.

Started by ``architecture_floor.py`` as ``uvicorn bench.floor_apps:front`` / ``:back`` with
``FLOOR_DSN`` and, for ``front``, ``FLOOR_BACK_URL``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import httpx
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel

from shared.http import AiohttpTransport

SCHEMA = """
CREATE TABLE IF NOT EXISTS institutions (code text PRIMARY KEY, secret text NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (paasid text, nonce text, PRIMARY KEY (paasid, nonce));
CREATE TABLE IF NOT EXISTS messages (msgid text PRIMARY KEY, sha256 text NOT NULL, response text);
CREATE TABLE IF NOT EXISTS claims (msgid text PRIMARY KEY, setl_id bigint, answer text);
CREATE TABLE IF NOT EXISTS accumulators (psn_no text PRIMARY KEY, paid_fen bigint NOT NULL);
CREATE TABLE IF NOT EXISTS settlements (
  setl_id bigserial PRIMARY KEY, msgid text NOT NULL, psn_no text NOT NULL, total_fen bigint NOT NULL,
  fund_fen bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS settlement_funds (setl_id bigint NOT NULL, fund text NOT NULL, amount_fen bigint);
CREATE TABLE IF NOT EXISTS outbox (id bigserial PRIMARY KEY, topic text NOT NULL, payload text NOT NULL);
"""


def _dsn() -> str:
    return os.environ["FLOOR_DSN"]


# --- back: settlement's shape -------------------------------------------------------------------------------


class Line(BaseModel):
    code: str
    cnt: int
    price_fen: int


class SettleIn(BaseModel):
    msgid: str
    psn_no: str
    lines: list[Line]


class SettleOut(BaseModel):
    setl_id: int
    psn_no: str
    total_fen: int
    fund_fen: int
    cash_fen: int


@asynccontextmanager
async def _back_life(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(_dsn(), min_size=4, max_size=20)
    yield
    await app.state.pool.close()


back = FastAPI(lifespan=_back_life)


@back.post("/settle", response_model=SettleOut)
async def settle(body: SettleIn, request: Request) -> Any:
    total = sum(line.cnt * line.price_fen for line in body.lines)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetchval(
            "INSERT INTO claims (msgid) VALUES ($1) ON CONFLICT DO NOTHING RETURNING msgid", body.msgid
        )
        if claimed is None:
            answer = await conn.fetchval("SELECT answer FROM claims WHERE msgid = $1", body.msgid)
            return Response(answer, media_type="application/json")
        paid = await conn.fetchval(
            "SELECT paid_fen FROM accumulators WHERE psn_no = $1 FOR UPDATE", body.psn_no
        )
        if paid is None:  # the person's first settlement of the year (a concurrent first one waits here)
            await conn.execute("INSERT INTO accumulators VALUES ($1, 0) ON CONFLICT DO NOTHING", body.psn_no)
            paid = await conn.fetchval(
                "SELECT paid_fen FROM accumulators WHERE psn_no = $1 FOR UPDATE", body.psn_no
            )
        fund = total * 60 // 100
        setl_id = await conn.fetchval(
            "INSERT INTO settlements (msgid, psn_no, total_fen, fund_fen) VALUES ($1, $2, $3, $4) "
            "RETURNING setl_id",
            body.msgid,
            body.psn_no,
            total,
            fund,
        )
        await conn.execute("INSERT INTO settlement_funds VALUES ($1, '390100', $2)", setl_id, fund)
        out = SettleOut(
            setl_id=setl_id, psn_no=body.psn_no, total_fen=total, fund_fen=fund, cash_fen=total - fund
        )
        text = out.model_dump_json()
        await conn.execute("INSERT INTO outbox (topic, payload) VALUES ('settlement.events', $1)", text)
        await conn.execute(
            "UPDATE accumulators SET paid_fen = $2 WHERE psn_no = $1", body.psn_no, paid + fund
        )
        await conn.execute(
            "UPDATE claims SET setl_id = $2, answer = $3 WHERE msgid = $1", body.msgid, setl_id, text
        )
    return out


# --- front: the gateway's shape -----------------------------------------------------------------------------


@asynccontextmanager
async def _front_life(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(_dsn(), min_size=4, max_size=20)
    # FLOOR_CLIENT: "httpx" (its own transport), "shared" (httpx on shared.http's aiohttp transport, as the
    # gateway), "aiohttp" (aiohttp's client itself).
    kind = os.environ.get("FLOOR_CLIENT", "shared")
    if kind == "aiohttp":
        app.state.session = aiohttp.ClientSession()
    transport = AiohttpTransport(httpx.Limits(max_connections=200)) if kind == "shared" else None
    app.state.client = httpx.AsyncClient(
        timeout=30.0,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        transport=transport,
    )
    app.state.back_url = os.environ["FLOOR_BACK_URL"].rstrip("/") + "/settle"
    yield
    await app.state.client.aclose()
    if hasattr(app.state, "session"):
        await app.state.session.close()
    await app.state.pool.close()


front = FastAPI(lifespan=_front_life)


def _refuse(message: str) -> Response:
    return Response(json.dumps({"infcode": -1, "err_msg": message}), media_type="application/json")


@front.post("/call")
async def call(request: Request) -> Response:
    raw = await request.body()
    paasid = request.headers.get("x-tif-paasid", "")
    timestamp = request.headers.get("x-tif-timestamp", "")
    nonce = request.headers.get("x-tif-nonce", "")
    pool = request.app.state.pool
    async with pool.acquire() as conn:
        secret = await conn.fetchval("SELECT secret FROM institutions WHERE code = $1", paasid)
        if secret is None:
            return _refuse("unknown institution")
        expected = hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()
        if expected != request.headers.get("x-tif-signature"):
            return _refuse("bad signature")
        envelope = json.loads(raw)
        digest = hashlib.sha256(json.dumps(envelope["input"], sort_keys=True).encode()).hexdigest()
        earlier = await conn.fetchrow(
            "WITH n AS (INSERT INTO nonces VALUES ($1, $2)), "
            "m AS (INSERT INTO messages (msgid, sha256) VALUES ($3, $4) ON CONFLICT DO NOTHING) "
            "SELECT sha256, response FROM messages WHERE msgid = $3",
            paasid,
            nonce,
            envelope["msgid"],
            digest,
        )
    if earlier is not None and earlier["response"] is not None:
        return Response(earlier["response"], media_type="application/json")
    data = envelope["input"]["data"]
    payload = {"msgid": envelope["msgid"], "psn_no": data["psn_no"], "lines": data["lines"]}
    if hasattr(request.app.state, "session"):
        async with request.app.state.session.post(request.app.state.back_url, json=payload) as r:
            settled = json.loads(await r.read())
    else:
        answer = await request.app.state.client.post(request.app.state.back_url, json=payload)
        settled = answer.json()
    output = {
        "setlinfo": {
            "setl_id": str(settled["setl_id"]),
            "psn_no": settled["psn_no"],
            "medfee_sumamt": f"{settled['total_fen'] / 100:.2f}",
            "fund_pay_sumamt": f"{settled['fund_fen'] / 100:.2f}",
            "psn_cash_pay": f"{settled['cash_fen'] / 100:.2f}",
        }
    }
    text = json.dumps({"infcode": 0, "inf_refmsgid": envelope["msgid"], "output": output}, ensure_ascii=False)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE messages SET response = $2 WHERE msgid = $1", envelope["msgid"], text)
    return Response(text, media_type="application/json")
