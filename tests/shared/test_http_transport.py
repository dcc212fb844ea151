"""The aiohttp transport under httpx (shared/http.py), against real sockets: what reaches the server, and
which httpx error each failure becomes, because the gateway tells the cashier "not executed" or "outcome
unknown" from it (gateway/downstream.py, tested at the end through ``Downstream`` itself)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.protocol.errors import OutcomeUnknown, Refusal

from platformctl.stack import free_port
from shared.http import AiohttpTransport, ServiceHop

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


class Server:
    """A loopback HTTP/1.1 server whose behaviour each test writes; it counts connections and requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.port = 0

    async def read_request(self, reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        request = (lines[0], headers, body)
        self.requests.append(request)
        return request

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        finally:
            writer.close()


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def answer(status: int, body: dict[str, Any]) -> bytes:
    raw = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(raw)}\r\n\r\n"
    return head.encode() + raw


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    """Answers every request on the connection with what it received (keep-alive)."""
    while (request := await server.read_request(reader)) is not None:
        line, headers, body = request
        writer.write(answer(201, {"line": line, "headers": headers, "body": body.decode()}))
        await writer.drain()


async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    await server.read_request(reader)
    await asyncio.sleep(30)


async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    """Reads the whole request, then closes without a word: the request may have been acted on."""
    await server.read_request(reader)


async def half_an_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    await server.read_request(reader)
    writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"setl_id":')
    await writer.drain()


def client(timeout: httpx.Timeout | float = 2.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, transport=AiohttpTransport(httpx.Limits(max_connections=4)))


async def test_a_request_arrives_whole_and_the_answer_comes_back() -> None:
    async with serving(echo) as server, client() as http:
        response = await http.post(
            f"http://127.0.0.1:{server.port}/api/v1/x",
            params={"fixmedins_code": "P3415"},
            json={"name": "张三", "amount": "12.30"},
            headers={"x-msgid": "P341520261202101010001"},
        )
    assert response.status_code == 201
    echoed = response.json()
    assert echoed["line"] == "POST /api/v1/x?fixmedins_code=P3415 HTTP/1.1"
    assert json.loads(echoed["body"]) == {"name": "张三", "amount": "12.30"}
    assert echoed["headers"]["x-msgid"] == "P341520261202101010001"
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert len(server.requests) == 1


async def test_one_kept_alive_connection_carries_requests_one_after_another() -> None:
    async with serving(echo) as server, client() as http:
        for n in range(5):
            response = await http.get(f"http://127.0.0.1:{server.port}/n/{n}")
            assert response.json()["line"] == f"GET /n/{n} HTTP/1.1"
    assert (server.connections, len(server.requests)) == (1, 5)


async def test_nobody_listening_is_a_connect_error() -> None:
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(f"http://127.0.0.1:{free_port()}/x", json={})


async def test_no_answer_in_time_is_a_read_timeout() -> None:
    async with serving(never_answers) as server, client(httpx.Timeout(0.3, connect=1.0)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(f"http://127.0.0.1:{server.port}/x", json={})
    assert len(server.requests) == 1


@pytest.mark.parametrize("handler", [hangs_up, half_an_answer], ids=["hangs up", "half an answer"])
async def test_a_connection_lost_after_the_request_is_neither_connect_error_nor_sent_again(
    handler: Handler,
) -> None:
    async with serving(handler) as server, client() as http:
        with pytest.raises(httpx.HTTPError) as caught:
            response = await http.post(f"http://127.0.0.1:{server.port}/x", json={"a": 1})
            await response.aread()
    assert not isinstance(caught.value, httpx.ConnectError | httpx.TimeoutException)
    assert len(server.requests) == 1  # a POST is never re-sent on another connection


async def test_only_plain_http() -> None:
    async with client() as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("https://127.0.0.1:1/x")


# --- the gateway's calls on aiohttp directly (ServiceHop) ------------------------------------------------


def hop(read_s: float = 2.0) -> ServiceHop:
    return ServiceHop(max_connections=4, connect_s=1.0, pool_s=1.0, read_s=read_s)


async def test_the_hop_sends_what_the_httpx_client_sends() -> None:
    """The same request line (the query as httpx writes it, an escaped path segment left escaped), body and
    headers as through ``httpx.AsyncClient`` on the transport, which the tests' in-process services use."""
    params = {
        "psn_no": "P 1",
        "begntime": "2026-12-01T00:00:00+08:00",
        "none": None,
        "flag": True,
        "ver": 3,
        "kind": ["a", "b"],
        "name": "张三&",
    }
    headers = {"x-msgid": "P341520261202101010001", "content-type": "application/json"}
    body = b'{"amount":12.30}'
    async with serving(echo) as server, client() as http:
        url = f"http://127.0.0.1:{server.port}/api/v1/settlements/S1%2F2%3F"
        through_httpx = await http.post(url, params=params, headers=headers, content=body)
        direct = hop()
        try:
            status, answered = await direct.request("POST", url, headers=headers, params=params, content=body)
        finally:
            await direct.aclose()
    assert (status, through_httpx.status_code) == (201, 201)
    expected, got = through_httpx.json(), json.loads(answered)
    # The same path, escapes kept, and the same query once read (the transport lets yarl unescape ":" in
    # a query, which a server reads alike).
    got_target, expected_target = got["line"].split(" ")[1], expected["line"].split(" ")[1]
    assert urlsplit(got_target).path == urlsplit(expected_target).path == "/api/v1/settlements/S1%2F2%3F"
    assert parse_qsl(urlsplit(got_target).query, keep_blank_values=True) == parse_qsl(
        urlsplit(expected_target).query, keep_blank_values=True
    )
    assert urlsplit(got_target).query == (
        "psn_no=P+1&begntime=2026-12-01T00%3A00%3A00%2B08%3A00&none=&flag=true&ver=3&kind=a&kind=b"
        "&name=%E5%BC%A0%E4%B8%89%26"
    )
    assert got["body"] == expected["body"] == '{"amount":12.30}'
    for name in ("x-msgid", "content-type", "content-length", "host"):
        assert got["headers"][name] == expected["headers"][name], name
    assert "user-agent" not in got["headers"]


async def test_the_hop_keeps_one_connection_alive() -> None:
    direct = hop()
    try:
        async with serving(echo) as server:
            for n in range(5):
                status, body = await direct.request(
                    "GET", f"http://127.0.0.1:{server.port}/n/{n}", headers={}
                )
                assert (status, json.loads(body)["line"]) == (201, f"GET /n/{n} HTTP/1.1")
    finally:
        await direct.aclose()
    assert (server.connections, len(server.requests)) == (1, 5)


async def test_the_hop_fails_as_the_transport_does() -> None:
    direct = hop(read_s=0.3)
    try:
        with pytest.raises(httpx.ConnectError):
            await direct.request("POST", f"http://127.0.0.1:{free_port()}/x", headers={}, content=b"{}")
        with pytest.raises(httpx.UnsupportedProtocol):
            await direct.request("GET", "https://127.0.0.1:1/x", headers={})
        async with serving(never_answers) as server:
            with pytest.raises(httpx.ReadTimeout):
                await direct.request("POST", f"http://127.0.0.1:{server.port}/x", headers={}, content=b"{}")
        assert len(server.requests) == 1
        for handler in (hangs_up, half_an_answer):
            async with serving(handler) as server:
                with pytest.raises(httpx.HTTPError) as caught:
                    await direct.request(
                        "POST", f"http://127.0.0.1:{server.port}/x", headers={}, content=b"{}"
                    )
            assert not isinstance(caught.value, httpx.ConnectError | httpx.TimeoutException), handler
            assert len(server.requests) == 1, handler  # a POST is never re-sent on another connection
    finally:
        await direct.aclose()


# --- what the cashier is told ------------------------------------------------------------------------------


def downstream(port: int, timeout_s: float = 0.5) -> Downstream:
    return Downstream(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", timeout_s)


async def test_settlement_unreachable_is_not_executed() -> None:
    gateway = downstream(free_port())
    try:
        with pytest.raises(Refusal) as refused:
            await gateway.settle_pharmacy({"msgid": "m"})
    finally:
        await gateway.close()
    assert refused.value.code == "E_UNAVAILABLE"
    assert not isinstance(refused.value, OutcomeUnknown)


@pytest.mark.parametrize("handler", [never_answers, hangs_up], ids=["no answer", "hangs up"])
async def test_settlement_lost_after_sending_is_outcome_unknown_but_a_preview_is_only_retried(
    handler: Handler,
) -> None:
    async with serving(handler) as server:
        gateway = downstream(server.port)
        try:
            with pytest.raises(OutcomeUnknown) as unknown:
                await gateway.settle_pharmacy({"msgid": "m"})
            with pytest.raises(Refusal) as retry:
                await gateway.preview_pharmacy({"msgid": "m"})
        finally:
            await gateway.close()
    assert unknown.value.code == "E_OUTCOME_UNKNOWN"
    assert "2601" in unknown.value.err_msg
    assert retry.value.code in ("E_TIMEOUT", "E_UNAVAILABLE")
    assert not isinstance(retry.value, OutcomeUnknown)
    assert len(server.requests) == 2  # each sent once


async def test_a_refusal_of_the_service_reaches_the_cashier_with_its_code() -> None:
    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(answer(422, {"error": {"code": "NOT_ELIGIBLE", "message": "未参保"}}))
        await writer.drain()

    async with serving(refuses) as server:
        gateway = downstream(server.port)
        try:
            with pytest.raises(Refusal) as refused:
                await gateway.settle_pharmacy({"msgid": "m"})
        finally:
            await gateway.close()
    assert (refused.value.code, refused.value.err_msg) == ("NOT_ELIGIBLE", "[NOT_ELIGIBLE] 未参保")
