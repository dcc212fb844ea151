"""The gateway's envelope handling on a real database: every bad request gets infcode -1 with a readable
err_msg (never an HTTP 500), final answers are replayed by msgid, and a downstream that fails or stays
silent is never reported as success."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from gateway.config import GatewaySettings
from gateway.main import create_app
from gateway.messages.models import MessageLog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import col

from platformctl import examples
from platformctl.stack import free_port
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running
from tests.support.his import SignedHttp, register_demo_institutions, signed_headers, signed_in_sync

PATH = "/fsi/api/rsfComIfsService/callService"
CERTNO = "34152419850312013X"


def refused(response: httpx.Response) -> str:
    assert response.status_code == 200
    body = response.json()
    assert body["infcode"] == -1
    assert body["err_msg"]
    assert len(body["inf_refmsgid"]) == 30 and body["inf_refmsgid"].startswith("341524")
    return str(body["err_msg"])


@pytest.fixture
async def gateway(databases: DatabaseFactory) -> AsyncIterator[tuple[SignedHttp, Database]]:
    url = databases.migrated("gateway")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: downstream unavailable
    app = build(
        create_app,
        GatewaySettings,
        database_url=url,
        enrollment_url=dead,
        settlement_url=dead,
        max_body_bytes=20_000,
    )
    db = Database(url)
    await register_demo_institutions(db)
    async with running(app) as client:
        yield SignedHttp(client), db
    await db.dispose()


def _with(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


async def test_malformed_envelopes_are_refused_with_field_messages(
    gateway: tuple[SignedHttp, Database],
) -> None:
    client, db = gateway
    good = examples.example_1101(CERTNO)
    drug = examples.example_2102("3415240000000001", CERTNO)
    cases: list[tuple[bytes | dict[str, Any], str]] = [
        (b"{broken", "E_JSON"),
        (b"\xff\xfe", "E_JSON"),
        (b"[1, 2]", "必须是 JSON 对象"),
        (b"x" * 20_001, "E_TOO_LARGE"),
        ({k: v for k, v in good.items() if k != "msgid"}, "msgid: 必填"),
        (_with(good, infno="99999"), "infno: 格式不正确"),
        (_with(good, infno="9999"), "不支持的交易编号: 9999"),
        (_with(good, mdtrtarea_admvs="34152"), "mdtrtarea_admvs: 格式不正确"),
        (_with(good, inf_time="2026/11/23"), "inf_time: 格式应为 yyyy-MM-dd HH:mm:ss"),
        (_with(good, opter_type="7"), "opter_type: 格式不正确"),
        (_with(good, input="text"), "input: 必须是对象"),
        (_with(good, msgid="M" * 31), "msgid: 长度超过30"),
        (
            _with(good, input={"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": CERTNO}}),
            "input.data.mdtrt_cert_type: 格式不正确",
        ),
        (_with(drug, input={**drug["input"], "drugdetail": []}), "input.drugdetail: 至少需要1条"),
        (
            _with(
                drug,
                input={**drug["input"], "druginfo": {**drug["input"]["druginfo"], "medfee_sumamt": "90.001"}},
            ),
            "input.druginfo.medfee_sumamt: 金额最多两位小数",
        ),
        (
            _with(
                drug, input={**drug["input"], "druginfo": {**drug["input"]["druginfo"], "medfee_sumamt": -1}}
            ),
            "负数",
        ),
        (
            _with(
                drug,
                input={**drug["input"], "druginfo": {**drug["input"]["druginfo"], "medfee_sumamt": "NaN"}},
            ),
            "NaN",
        ),
        (
            _with(
                drug, input={**drug["input"], "drugdetail": [{**drug["input"]["drugdetail"][0], "cnt": "0"}]}
            ),
            "input.drugdetail[0].cnt: 必须大于0",
        ),
        (
            _with(
                drug, input={**drug["input"], "drugdetail": [{**drug["input"]["drugdetail"][0], "cnt": True}]}
            ),
            "input.drugdetail[0].cnt",
        ),
        (_with(drug, insuplc_admdvs=""), "insuplc_admdvs"),
    ]
    for i, (body, fragment) in enumerate(cases):
        if isinstance(body, dict):
            if "msgid" in body and len(body["msgid"]) <= 30:
                body = _with(body, msgid=f"P3415240000120261123000000{i:04d}")  # one msgid per case
            raw = json.dumps(body, ensure_ascii=False).encode()
        else:
            raw = body
        response = await client.post(raw)
        message = refused(response)
        assert fragment in message, (fragment, message)
    async with db.session() as session:
        stored = await session.scalar(
            select(func.count()).select_from(MessageLog).where(col(MessageLog.infno) != "9001")
        )
    # Only refusals of a valid envelope with a known infno are final answers remembered by msgid: the eight
    # input errors of 1101/2102 above (malformed envelopes and unknown infno are not).
    assert stored == 8


async def test_final_answer_is_replayed_and_msgid_reuse_refused(
    gateway: tuple[SignedHttp, Database],
) -> None:
    client, _ = gateway
    body = _with(
        examples.example_1101(CERTNO), input={"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "x"}}
    )
    first = await client.post(body)
    again = await client.post(body)
    assert again.content == first.content  # byte for byte, the same inf_refmsgid and times
    other = await client.post(_with(body, opter="002"))
    assert "[E_MSGID_REUSED]" in refused(other)
    # A HIS that builds the envelope again for its repeat (another inf_time, a sign_no of a new sign-in)
    # sends the same request: the first answer, byte for byte.
    rebuilt = _with(body, inf_time="2026-12-06 10:00:01", sign_no="9001REPEAT")
    assert rebuilt["inf_time"] != body.get("inf_time")
    assert (await client.post(rebuilt)).content == first.content
    # What it asks changed (the input) under the same msgid: refused.
    changed = _with(body, input={"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "y"}})
    assert "[E_MSGID_REUSED]" in refused(await client.post(changed))


async def test_downstream_unavailable_is_not_remembered(gateway: tuple[SignedHttp, Database]) -> None:
    client, db = gateway
    body = examples.example_1101(CERTNO)
    message = refused(await client.post(body))
    assert "[E_UNAVAILABLE]" in message and "未执行" in message
    async with db.session() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(MessageLog).where(col(MessageLog.infno) != "9001")
            )
            == 0
        )


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A real TCP server that accepts connections and never answers."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for writer in connections:
        writer.close()
    server.close()


async def test_settlement_timeout_is_outcome_unknown(databases: DatabaseFactory, silent_server: str) -> None:
    url = databases.migrated("gateway")
    app = build(
        create_app,
        GatewaySettings,
        database_url=url,
        enrollment_url=silent_server,
        settlement_url=silent_server,
        downstream_timeout_s=0.5,
    )
    db = Database(url)
    await register_demo_institutions(db)
    try:
        async with running(app) as http:
            client = SignedHttp(http)
            body = examples.example_2102("3415240000000001", CERTNO)
            message = refused(await client.post(body))
            assert "[E_OUTCOME_UNKNOWN]" in message and "2601" in message
            async with db.session() as session:
                assert (
                    await session.scalar(
                        select(func.count()).select_from(MessageLog).where(col(MessageLog.infno) != "9001")
                    )
                    == 0
                )
            # A read-only lookup that times out is simply "try again".
            assert "[E_TIMEOUT]" in refused(await client.post(examples.example_1101(CERTNO)))
    finally:
        await db.dispose()


#: Text with anything in it: control characters, unpaired surrogates (sent as their \u escapes).
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40) | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@dataclass
class SyncGateway:
    client: TestClient
    sign_no: str

    def post(self, content: bytes) -> httpx.Response:
        """Signed as the pharmacy; the body as it is (the templates carry ``sign_no``)."""
        headers = {"content-type": "application/json", **signed_headers()}
        return self.client.post(PATH, content=content, headers=headers)


@pytest.fixture
def sync_gateway(databases: DatabaseFactory) -> Iterator[SyncGateway]:
    url = databases.migrated("gateway")
    db = Database(url)
    asyncio.run(register_demo_institutions(db))
    asyncio.run(db.dispose())
    dead = f"http://127.0.0.1:{free_port()}"
    app = build(create_app, GatewaySettings, database_url=url, enrollment_url=dead, settlement_url=dead)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield SyncGateway(client, signed_in_sync(client))


def test_no_request_body_produces_a_server_error(sync_gateway: SyncGateway) -> None:
    template = {**examples.example_2102("3415240000000001", CERTNO), "sign_no": sync_gateway.sign_no}

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        field=st.sampled_from([*template.keys(), "druginfo", "drugdetail"]),
        value=json_values,
        raw=st.binary(max_size=200),
        use_raw=st.booleans(),
    )
    def check(field: str, value: Any, raw: bytes, use_raw: bool) -> None:
        if use_raw:
            content = raw
        else:
            body = json.loads(json.dumps(template))
            if field in ("druginfo", "drugdetail"):
                body["input"][field] = value
            else:
                body[field] = value
            content = json.dumps(body, allow_nan=True).encode()
        response = sync_gateway.post(content)
        assert response.status_code == 200
        answer = response.json()
        assert answer["infcode"] == -1 and answer["err_msg"]
        # A refusal, never "outcome unknown": nothing went downstream.
        assert not answer["err_msg"].startswith("[E_INTERNAL]"), answer["err_msg"]

    check()


def test_no_transaction_input_produces_a_server_error(sync_gateway: SyncGateway) -> None:
    """Every transaction the gateway answers, fed random input nodes: always an envelope, never a 500, and
    never a success (the services behind it are unreachable here)."""
    from gateway import registry

    node_names = [
        "data",
        "druginfo",
        "drugdetail",
        "feedetail",
        "mdtrtinfo",
        "diseinfo",
        "dscginfo",
        "adminfo",
    ]

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        infno=st.sampled_from(sorted(i for i, t in registry.TRANSACTIONS.items() if t.downstream)),
        nodes=st.dictionaries(st.sampled_from(node_names), json_values, max_size=3),
        sequence=st.integers(0, 9999),
    )
    def check(infno: str, nodes: dict[str, Any], sequence: int) -> None:
        body = examples.envelope(
            infno, f"P3415240000120261123{len(nodes):02d}0000{sequence:04d}", nodes, insuplc_admdvs="341524"
        )
        body["sign_no"] = sync_gateway.sign_no
        content = json.dumps(body, allow_nan=True).encode()
        response = sync_gateway.post(content)
        assert response.status_code == 200
        answer = response.json()
        assert answer["infcode"] == -1 and answer["err_msg"], (infno, answer)
        assert not answer["err_msg"].startswith("[E_INTERNAL]"), (infno, answer)

    check()
