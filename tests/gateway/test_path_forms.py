"""The address forms HIS clients post to (docs/interface.md, "Path forms"), through the gateway app on a
real database: base + transaction number is answered like the single entry point, a number that is not
the envelope's infno and any other address under /fsi/ are national envelopes with infcode -1 [E_PATH]."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway.config import GatewaySettings
from gateway.main import create_app

from platformctl.stack import free_port
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running
from tests.support.his import PHARMACY, register_demo_institutions, sign_in_envelope, signed_headers

BASE = "/fsi/api/rsfComIfsService"


@pytest.fixture
async def client(databases: DatabaseFactory) -> AsyncIterator[Any]:
    url = databases.migrated("gateway")
    dead = f"http://127.0.0.1:{free_port()}"  # 9001 is answered by the gateway itself
    app = build(create_app, GatewaySettings, database_url=url, enrollment_url=dead, settlement_url=dead)
    db = Database(url)
    await register_demo_institutions(db)
    async with running(app) as http:
        yield http
    await db.dispose()


async def _post(http: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        path,
        content=json.dumps(body, ensure_ascii=False).encode(),
        headers={"content-type": "application/json", **signed_headers(PHARMACY)},
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert set(answer) >= {"infcode", "inf_refmsgid", "err_msg", "output"}, answer
    return answer


@pytest.mark.parametrize("path", [f"{BASE}/callService", f"{BASE}/callService/9001", f"{BASE}/9001"])
async def test_each_path_form_answers_a_sign_in(client: Any, path: str) -> None:
    answer = await _post(client, path, sign_in_envelope(PHARMACY, "001"))
    assert answer["infcode"] == 0, answer["err_msg"]
    assert answer["output"]["signinoutb"]["sign_no"]


@pytest.mark.parametrize("path", [f"{BASE}/callService/1101", f"{BASE}/1101", f"{BASE}/callService/abc"])
async def test_a_number_in_the_address_that_is_not_the_envelopes_infno_is_refused(
    client: Any, path: str
) -> None:
    answer = await _post(client, path, sign_in_envelope(PHARMACY, "001"))
    assert answer["infcode"] == -1
    assert answer["err_msg"].startswith("[E_PATH] ")
    assert "9001" in answer["err_msg"]
    assert answer["output"] == {}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "path", ["/fsi/api/other/1101", f"{BASE}/callService/1101/extra", "/fsi/", "/fsi/api/%E2%80%AE"]
)
async def test_any_other_address_under_fsi_is_a_national_refusal(client: Any, path: str, method: str) -> None:
    response = await client.request(method, path, content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["infcode"] == -1
    assert answer["err_msg"] == "[E_PATH] 交易地址不存在：请发往 /fsi/api/rsfComIfsService/callService"
    assert answer["output"] == {}
    assert len(answer["inf_refmsgid"]) == 30
