"""Services served by the process that calls them: the co-located deployment (``platformctl colocated``).

A co-located process runs the gateway and the settlement service side by side, each with its own settings,
database pool, background workers and HTTP port. The gateway's calls to settlement then skip the network:
``shared.http.ServiceHop`` hands a request whose base URL is registered here straight to the settlement
app's ASGI callable, with the same method, path, query, headers and body it would have sent, and reads the
same status and body back. Settlement's middleware, authentication, validation and error handling all run
as they do behind its port; only the socket, the HTTP parsing on both sides and two event-loop wake-ups are
gone (issue 29: the hop was the largest cost of the two-service skeleton, ``bench/architecture_floor.py``).

What a caller tells apart stays the same:

- the call runs in a task of its own, in a fresh ``contextvars`` context (settlement sees none of the
  gateway's request variables, as behind a socket);
- a call not answered within the read timeout raises ``httpx.ReadTimeout`` and is left to finish, as a
  service behind a socket finishes a request whose client gave up: the gateway reports "outcome unknown"
  and the msgid's repeat finds what was done;
- an exception that escapes the app becomes a 500, as uvicorn answers it;
- a request for a co-located service that is not (or no longer) serving raises ``httpx.ConnectError``:
  nothing was sent.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote

import httpx

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

#: Base URL (``http://host:port``, as the callers are configured with it) → the app served in this process.
_apps: dict[str, ASGIApp] = {}
#: Base URLs whose app has stopped serving (shut down): a call to one is refused as a closed port would be.
_stopped: set[str] = set()
#: The calls still running (kept referenced until they end, also after their caller gave up waiting).
_running: set[asyncio.Task[tuple[int, bytes]]] = set()


def serve(base_url: str, app: ASGIApp) -> None:
    """Route this process's calls to ``base_url`` to ``app``."""
    base = base_url.rstrip("/")
    _apps[base] = app
    _stopped.discard(base)


def stop(base_url: str) -> None:
    """``base_url``'s app no longer takes calls (its server is shutting down)."""
    _stopped.add(base_url.rstrip("/"))


def forget() -> None:
    """No co-located apps (tests)."""
    _apps.clear()
    _stopped.clear()


def served(url: str) -> tuple[str, ASGIApp] | None:
    """The co-located app ``url`` goes to, with its base URL, or None (the call goes over the network)."""
    if not _apps:
        return None
    scheme, _, rest = url.partition("://")
    host = rest.partition("/")[0]
    base = f"{scheme}://{host}"
    app = _apps.get(base)
    return (base, app) if app is not None else None


async def call(
    base: str,
    app: ASGIApp,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    query: str,
    content: bytes | None,
    read_s: float | None,
) -> tuple[int, bytes]:
    """One request to a co-located app: its status and whole body."""
    if base in _stopped:
        raise httpx.ConnectError(f"{base} is shutting down")
    raw_path = url[len(base) :] or "/"
    host = base.partition("://")[2]
    name, _, port = host.rpartition(":")
    body = content or b""
    sent = [(key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()]
    sent.append((b"host", host.encode("latin-1")))
    if content is not None:
        sent.append((b"content-length", str(len(body)).encode("ascii")))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": sent,
        "client": ("127.0.0.1", 0),
        "server": (name, int(port) if port.isdigit() else 80),
        "state": {},
    }
    task = asyncio.get_running_loop().create_task(_exchange(app, scope, body), context=contextvars.Context())
    _running.add(task)
    task.add_done_callback(_running.discard)
    try:
        return await asyncio.wait_for(asyncio.shield(task), read_s)
    except TimeoutError as exc:
        raise httpx.ReadTimeout(f"no answer from {base} within {read_s} s") from exc


async def _exchange(app: ASGIApp, scope: Scope, body: bytes) -> tuple[int, bytes]:
    status: int | None = None
    chunks: list[bytes] = []
    answered = asyncio.Event()
    read = False

    async def receive() -> Message:
        nonlocal read
        if not read:
            read = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # the client stays connected until the answer is whole
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                answered.set()

    try:
        await app(scope, receive, send)
    except Exception:
        log.exception("Exception in ASGI application")  # as uvicorn logs it
        if status is None or not answered.is_set():
            return 500, b"Internal Server Error"
    finally:
        answered.set()
    if status is None:
        return 500, b"Internal Server Error"
    return status, b"".join(chunks)


async def drain(timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for the calls still running (a co-located process shutting down)."""
    if _running:
        await asyncio.wait(set(_running), timeout=timeout_s)
