"""An httpx transport on aiohttp's connection pool, for the calls between services on the settlement path.

httpx's own transport (httpcore over anyio streams, h11 in Python) cost the gateway about 1.3 ms of CPU per
downstream call (``bench/architecture_floor.py``: 2.0 ms of CPU per request in a gateway-shaped service with
it, 0.95 ms with this one; the whole platform's card swipe is bounded by CPU). aiohttp parses HTTP in C
and keeps its connections on asyncio protocols. The callers keep httpx's API (``httpx.AsyncClient``, its
exceptions, and ``httpx.MockTransport`` / ``ASGITransport`` in tests); this module only carries the bytes.

What a caller must be able to tell apart is kept exact, because a settlement call's failure decides what the
cashier is told: ``httpx.ConnectError`` only when no connection was made (nothing was sent), a timeout as
``httpx.ConnectTimeout`` / ``httpx.ReadTimeout``, and a connection lost after the request was written as
``httpx.ReadError`` (the request may have been acted on). aiohttp never re-sends a POST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from yarl import URL

#: Below uvicorn's default 5 s ``--timeout-keep-alive`` (the services run with 75 s, see
#: platformctl.stack.KEEP_ALIVE): a connection is dropped here before a server closes it, so a request is not
#: written into a connection the server is closing at that moment.
KEEPALIVE_S = 4.0


@contextmanager
def _mapped(request: httpx.Request | None) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientConnectorError as exc:  # no connection: nothing was sent
        raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ConnectionTimeoutError as exc:  # connecting, or waiting for a pooled connection
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(str(exc) or "server disconnected", request=request) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ClientError as exc:  # lost after connecting: the request may have been read
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request):
            yield await self._response.read()

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Plain-HTTP transport (the services talk over the cluster network; TLS ends at the ingress).

    ``limits.max_connections`` bounds the open connections; the timeouts come from the request (httpx puts
    the client's ``httpx.Timeout`` on each): ``connect`` for connecting and for a free pooled connection,
    ``read`` for each read of the answer."""

    def __init__(self, limits: httpx.Limits | None = None) -> None:
        self._limit = (limits.max_connections if limits else None) or 100
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # inside the running loop, at the first request
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=KEEPALIVE_S, ssl=False)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"only http:// between services, not {request.url.scheme}://")
        timeout = request.extensions.get("timeout", {})
        content = await request.aread()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        with _mapped(request):
            response = await self._client().request(
                request.method,
                str(request.url),
                headers=[(k, v) for k, v in headers if k.lower() not in ("host", "content-length")],
                data=content or None,
                allow_redirects=False,
                compress=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


#: The headers aiohttp would add by itself and the services do not read (the caller gives Content-Type).
_SKIPPED = ("Accept-Encoding", "User-Agent", "Content-Type")


class ServiceHop:
    """The gateway's calls to the services on aiohttp directly, without httpx's request and response
    objects around them: ≈ 0.2 ms of the calling process's CPU per call less than ``AiohttpTransport``
    under ``httpx.AsyncClient`` (``bench/architecture_floor.py``: 0.76 against 0.98 ms per request in a
    gateway-shaped front; the hop is the gateway's largest single cost after its database, issue 29).

    Same wire and same failures as the transport above: plain HTTP only, a POST never re-sent, and each
    failure raised as the httpx error a caller tells apart (``ConnectError``: nothing was sent;
    ``ConnectTimeout`` / ``ReadTimeout``; ``ReadError`` / ``RemoteProtocolError``: lost after sending). The
    query string is written as httpx writes it (``None`` as empty, booleans as ``true``/``false``) and the
    URL is sent as given (a path segment escaped by the caller stays escaped)."""

    def __init__(self, *, max_connections: int, connect_s: float, pool_s: float, read_s: float) -> None:
        self._limit = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=pool_s, sock_connect=connect_s, sock_read=read_s
        )
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # inside the running loop, at the first call
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=KEEPALIVE_S, ssl=False)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
    ) -> tuple[int, bytes]:
        """The answer's status and body, read whole."""
        if not url.startswith("http://"):
            raise httpx.UnsupportedProtocol(f"only http:// between services, not {url.split(':', 1)[0]}://")
        if params:
            url = f"{url}?{query_string(params)}"
        with _mapped(None):
            async with self._client().request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=content,
                allow_redirects=False,
                compress=False,
                skip_auto_headers=_SKIPPED,
                timeout=self._timeout,
            ) as response:
                return response.status, await response.read()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def query_string(params: Mapping[str, Any]) -> str:
    """``params`` as httpx writes a query: each value as text (``None`` empty, ``True``/``False`` as
    ``true``/``false``), a list as the key repeated, percent-escaped (a space as ``+``)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            pairs.append((key, _text(item)))
    return urlencode(pairs)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
