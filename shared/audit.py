"""The audit log: every change made through an operator endpoint (who, when, what), in every service.

One Core table added to each service's own metadata (like the messaging tables in ``shared/infra.py``), and
one middleware that writes a row for each changing request (any method but GET/HEAD/OPTIONS) that carried
a valid bearer token: the subject and roles, the time, the method and path with its query, the request body
(up to 64 KiB) and the status answered. A refused attempt (4xx) is recorded too, so an auditor sees what was
tried as well as what was done. The HIS entry point is not an operator endpoint: its record is the
gateway's message log.

A call made with a service credential alone (one service calling another: the gateway relaying a HIS
message to settlement, the ledger asking settlement for its reconciliation figures) is not an operator's
change, and the caller keeps its record (the gateway's message log holds every HIS message and its
answer). Such a call writes a row here only when it was refused, so that a misused service credential
still shows; a successful one writes none (a row per card swipe would double the writes of a settlement).

Reads are not recorded, except those whose route depends on :func:`audited_read` (a view of one person's
or one transaction's record, such as the transaction trail): they are written like a change, with an empty
body and the query in the path.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import READ_METHODS, SERVICE, Principal
from shared.db import AwareDateTime, BigIntPK, Database, utcnow

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 65_536


def define_audit_table(metadata: MetaData) -> Table:
    return Table(
        "audit_log",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("at", AwareDateTime(), nullable=False, index=True),
        Column("subject", String(100), nullable=False, index=True),
        Column("roles", String(200), nullable=False),
        Column("method", String(10), nullable=False),
        Column("path", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("status", Integer, nullable=False),
        Column("request_id", String(64), nullable=False),
    )


async def record(
    db: Database, table: Table, principal: Principal, method: str, path: str, body: str, status: int, rid: str
) -> None:
    async with db.transaction() as session:
        await session.execute(
            insert(table).values(
                at=utcnow(),
                subject=principal.subject[:100],
                roles=",".join(sorted(principal.roles))[:200],
                method=method,
                path=path,
                body=body[:MAX_BODY_CHARS],
                status=status,
                request_id=rid[:64],
            )
        )


AUDIT_READ = "audit_read"


def audited_read(request: Request) -> None:
    """A route dependency: this read is written to the audit log like a change (who looked at what, and
    when). For the operator views that show one person's or one transaction's record."""
    request.state.audit_read = True


def _audits_reads(route: Any) -> bool:
    """The matched route depends on ``audited_read`` (read from the route, so that a read refused by the
    role check, which runs first, is recorded too)."""
    return any(getattr(d, "dependency", None) is audited_read for d in getattr(route, "dependencies", ()))


class AuditMiddleware:
    """Writes the audit row after the response went out. If the audit write fails the change has already
    happened: that is logged loudly (and counted by the error log alert) rather than hidden."""

    def __init__(self, app: ASGIApp, table: Table) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method", "GET") in READ_METHODS:
            await self._read(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        status = {"code": 500}

        async def receive_wrapper() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request" and size < MAX_BODY_CHARS:
                chunk = message.get("body", b"")
                chunks.append(chunk[: MAX_BODY_CHARS - size])
                size += len(chunk)
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            state: dict[str, Any] = scope.get("state", {})
            principal = state.get("principal")
            if isinstance(principal, Principal) and not (
                principal.roles == {SERVICE} and status["code"] < 400
            ):
                await self._write(scope, state, principal, b"".join(chunks), status["code"])

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A read is recorded only when its route asked for it (``audited_read``: a view of personal
        data such as the transaction trail), with an empty body."""
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state: dict[str, Any] = scope.get("state", {})
            principal = state.get("principal")
            if (state.get(AUDIT_READ) or _audits_reads(scope.get("route"))) and isinstance(
                principal, Principal
            ):
                await self._write(scope, state, principal, b"", status["code"])

    async def _write(
        self, scope: Scope, state: dict[str, Any], principal: Principal, body: bytes, status: int
    ) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("path", "") + (f"?{query}" if query else "")
        try:
            runtime = scope["app"].state.runtime
            await record(
                runtime.db,
                self.table,
                principal,
                scope.get("method", ""),
                path,
                body.decode("utf-8", errors="replace"),
                status,
                str(state.get("request_id", "-")),
            )
        except Exception:
            log.exception("AUDIT WRITE FAILED for %s %s by %s", scope.get("method"), path, principal.who)
