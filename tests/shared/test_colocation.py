"""A call to a service served by the calling process (shared/colocation.py, platformctl/colocated.py): the
app sees the request it would see behind its port, and the caller tells the same failures apart, because the
gateway tells the cashier "not executed" or "outcome unknown" from them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.protocol.errors import OutcomeUnknown, Refusal
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from platformctl import colocated
from platformctl.stack import free_port
from shared import colocation
from shared.http import ServiceHop
from shared.observability import request_id_var

#: What each test's slow endpoint has finished (a call the caller stopped waiting for still ends).
finished: list[str] = []


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode("latin-1"),
            "setl_id": request.path_params.get("setl_id"),
            "query": list(request.query_params.multi_items()),
            "headers": {k: v for k, v in request.headers.items() if k not in ("connection",)},
            "body": body.decode(),
            "request_id": request_id_var.get(),
        },
        status_code=201,
    )


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params["s"]))
    finished.append(request.query_params["tag"])
    return Response(b'{"done":true}', media_type="application/json")


async def fails(request: Request) -> Response:
    raise RuntimeError("a bug in the service")


APP = Starlette(
    routes=[
        Route("/api/v1/settlements/{setl_id:path}", echo, methods=["GET", "POST"]),
        Route("/slow", slow, methods=["POST"]),
        Route("/fails", fails, methods=["POST"]),
    ]
)


@asynccontextmanager
async def behind_a_port(app: Any) -> AsyncIterator[str]:
    port = free_port()
    server = colocated._Server(colocated._config(app, "127.0.0.1", port))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn's flag, no event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(autouse=True)
def _no_colocated_apps() -> Iterator[None]:
    colocation.forget()
    finished.clear()
    yield
    colocation.forget()


def hop(read_s: float = 2.0) -> ServiceHop:
    return ServiceHop(max_connections=4, connect_s=1.0, pool_s=1.0, read_s=read_s)


async def test_an_app_in_the_process_sees_the_request_it_sees_behind_its_port() -> None:
    params = {"psn_no": "P 1", "begntime": "2026-12-01T00:00:00+08:00", "none": None, "kind": ["a", "b"]}
    headers = {"x-msgid": "P341520261202101010001", "content-type": "application/json", "x-request-id": "r1"}
    body = '{"amount":12.30,"name":"张三"}'.encode()
    caller = hop()
    try:
        async with behind_a_port(APP) as base:
            url = f"{base}/api/v1/settlements/S1%2F2%3F"
            status, over_the_network = await caller.request(
                "POST", url, headers=headers, params=params, content=body
            )
            colocation.serve(base, APP)
            local_status, in_process = await caller.request(
                "POST", url, headers=headers, params=params, content=body
            )
            # Only the calls to that base URL stay in the process.
            assert colocation.served(f"{base}/x") is not None
            assert colocation.served(url.replace(base, "http://127.0.0.2:1")) is None
    finally:
        await caller.aclose()
    assert status == local_status == 201
    network, local = json.loads(over_the_network), json.loads(in_process)
    assert local["setl_id"] == network["setl_id"] == "S1/2?"
    assert local["raw_path"] == network["raw_path"] == "/api/v1/settlements/S1%2F2%3F"
    assert local["path"] == network["path"] == "/api/v1/settlements/S1/2%3F"  # Starlette quotes "?" again
    assert (
        local["query"]
        == network["query"]
        == [
            ["psn_no", "P 1"],
            ["begntime", "2026-12-01T00:00:00+08:00"],
            ["none", ""],
            ["kind", "a"],
            ["kind", "b"],
        ]
    )
    assert local["body"] == network["body"] == body.decode()
    for name in ("x-msgid", "content-type", "content-length", "host", "x-request-id"):
        assert local["headers"][name] == network["headers"][name], name
    assert local["method"] == network["method"] == "POST"


async def test_a_get_without_a_body_has_no_content_length() -> None:
    base = "http://127.0.0.1:9"  # nothing listens there: the call never leaves the process
    colocation.serve(base, APP)
    caller = hop()
    try:
        status, answer = await caller.request("GET", f"{base}/api/v1/settlements/S2", headers={})
    finally:
        await caller.aclose()
    got = json.loads(answer)
    assert (status, got["method"], got["setl_id"], got["body"]) == (201, "GET", "S2", "")
    assert "content-length" not in got["headers"]
    assert got["headers"]["host"] == "127.0.0.1:9"


async def test_the_app_does_not_see_the_callers_context() -> None:
    """As behind a socket: the caller's request variables (its request id, msgid...) are not the app's."""
    base = "http://127.0.0.1:9"
    colocation.serve(base, APP)
    token = request_id_var.set("the-gateway's-request")
    caller = hop()
    try:
        _, answer = await caller.request("GET", f"{base}/api/v1/settlements/S3", headers={})
    finally:
        request_id_var.reset(token)
        await caller.aclose()
    assert json.loads(answer)["request_id"] == "-"


async def test_an_answer_not_given_in_time_is_a_read_timeout_and_the_call_still_ends() -> None:
    base = "http://127.0.0.1:9"
    colocation.serve(base, APP)
    caller = hop(read_s=0.1)
    try:
        with pytest.raises(httpx.ReadTimeout):
            await caller.request("POST", f"{base}/slow", headers={}, params={"s": 0.4, "tag": "late"})
        assert finished == []
        await colocation.drain(5)
    finally:
        await caller.aclose()
    assert finished == ["late"]  # the service finished what it was given, as behind its port


async def test_an_exception_in_the_app_is_a_500() -> None:
    async def raw_app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("before any answer")

    colocation.serve("http://127.0.0.1:9", APP)
    colocation.serve("http://127.0.0.1:10", raw_app)
    caller = hop()
    try:
        first = await caller.request("POST", "http://127.0.0.1:9/fails", headers={}, content=b"{}")
        second = await caller.request("POST", "http://127.0.0.1:10/x", headers={}, content=b"{}")
    finally:
        await caller.aclose()
    assert first[0] == second[0] == 500


async def test_a_stopped_app_is_refused_as_a_closed_port_with_nothing_done() -> None:
    base = "http://127.0.0.1:9"
    colocation.serve(base, APP)
    colocation.stop(base)
    caller = hop()
    try:
        with pytest.raises(httpx.ConnectError):
            await caller.request("POST", f"{base}/slow", headers={}, params={"s": 0, "tag": "refused"})
    finally:
        await caller.aclose()
    await colocation.drain(1)
    assert finished == []


# --- what the cashier is told ------------------------------------------------------------------------------


def slow_settlement(seconds: float) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["path"] == "/api/v1/pharmacy-settlements"
        await receive()
        await asyncio.sleep(seconds)
        finished.append("settled")
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def test_the_gateway_reports_outcome_unknown_when_settlement_in_the_process_is_late() -> None:
    base = "http://127.0.0.1:9"
    colocation.serve(base, slow_settlement(0.5))
    gateway = Downstream(base, base, 0.2)
    try:
        with pytest.raises(OutcomeUnknown):
            await gateway.settle_pharmacy({"msgid": "m"})
    finally:
        await gateway.close()
    await colocation.drain(5)
    assert finished == ["settled"]


async def test_the_gateway_reports_not_executed_when_settlement_in_the_process_has_stopped() -> None:
    base = "http://127.0.0.1:9"
    colocation.serve(base, slow_settlement(0))
    colocation.stop(base)
    gateway = Downstream(base, base, 0.5)
    try:
        with pytest.raises(Refusal) as refused:
            await gateway.settle_pharmacy({"msgid": "m"})
    finally:
        await gateway.close()
    assert refused.value.code == "E_UNAVAILABLE"
    assert not isinstance(refused.value, OutcomeUnknown)
    assert finished == []


# --- the co-located process ---------------------------------------------------------------------------------


async def test_a_colocated_process_stops_the_gateway_first_and_finishes_the_calls_in_flight() -> None:
    """Stopping: the gateway's port closes, the call it had handed to settlement still ends with its answer,
    and only then does settlement stop (its port closes too)."""
    gateway_port, settlement_port = free_port(), free_port()
    settlement_url = f"http://127.0.0.1:{settlement_port}"
    inner = hop()

    async def front(request: Request) -> Response:
        status, body = await inner.request(
            "POST", f"{settlement_url}/slow", headers={}, params={"s": 0.5, "tag": "in flight"}
        )
        return Response(body, status_code=status, media_type="application/json")

    gateway_app = Starlette(routes=[Route("/call", front, methods=["POST"])])
    stop = asyncio.Event()
    process = asyncio.create_task(
        colocated.serve(
            "127.0.0.1", gateway_port, settlement_port, apps=(gateway_app, APP, settlement_url), stop=stop
        )
    )
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(200):
                try:
                    await client.get(f"http://127.0.0.1:{gateway_port}/none")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            assert colocation.served(f"{settlement_url}/slow") is not None
            call = asyncio.create_task(client.post(f"http://127.0.0.1:{gateway_port}/call"))
            await asyncio.sleep(0.2)  # handed to settlement, which is still working on it
            stop.set()
            answer = await call
            await asyncio.wait_for(process, 15)
            assert (answer.status_code, answer.json()) == (200, {"done": True})
            assert finished == ["in flight"]
            for port in (gateway_port, settlement_port):
                with pytest.raises(httpx.ConnectError):
                    await client.get(f"http://127.0.0.1:{port}/none")
    finally:
        stop.set()
        await inner.aclose()
        if not process.done():
            process.cancel()
