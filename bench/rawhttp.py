"""A lean HTTP/1.1 keep-alive client for the load generators.

The load generator runs on the same two cores as the platform it measures, so every millisecond of CPU it
spends per request is a millisecond the platform does not get. httpx costs about 2.5 ms of CPU per request
here (its pool, anyio streams, h11 and the response model); this client writes one pre-assembled request and
reads one ``Content-Length`` answer on a connection of its own: about a tenth of that. It speaks only what
the gateway answers (no chunked bodies, no redirects, no TLS), and it is not for production code.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


class HttpError(Exception):
    """The connection failed or the answer could not be read; the connection is dropped."""


@dataclass
class Answer:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = time.monotonic()

    async def exchange(self, request: bytes) -> tuple[Answer, bool]:
        """(answer, keep-alive)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
            elif name == "transfer-encoding":
                raise HttpError(f"transfer-encoding {value.strip()} is not supported")
        body = await self.reader.readexactly(length) if length else b""
        self.used = time.monotonic()
        return Answer(status, body), keep

    def close(self) -> None:
        self.writer.close()


#: uvicorn closes a connection idle for 5 s (``--timeout-keep-alive``); one idle for longer than this is not
#: reused, so a request is never written into a connection the server is closing.
_IDLE_S = 3.0


class Client:
    """POSTs to one base URL over up to ``connections`` kept-alive connections (one per request in flight)."""

    def __init__(self, base_url: str, *, connections: int, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http URLs: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_header = parts.netloc
        self.timeout_s = timeout_s
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host_header}", f"Content-Length: {len(body)}"]
        head.extend(f"{name}: {value}" for name, value in headers.items())
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            if connection is not None and time.monotonic() - connection.used > _IDLE_S:
                connection.close()
                for stale in self._idle:
                    stale.close()
                self._idle.clear()
                connection = None
            if connection is None:
                try:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                except OSError as exc:
                    raise HttpError(f"connect: {exc!r}") from exc
                connection = _Connection(reader, writer)
            try:
                answer, keep = await asyncio.wait_for(connection.exchange(request), self.timeout_s)
            except (OSError, EOFError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
                connection.close()
                raise HttpError(repr(exc)) from exc
            except BaseException:
                connection.close()
                raise
            if keep:
                self._idle.append(connection)
            else:
                connection.close()
            return answer

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
