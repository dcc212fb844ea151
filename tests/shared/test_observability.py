"""Structured logs carry the correlation ids; business metrics count only what was committed."""

from __future__ import annotations

import contextlib
import json
import logging
import sys

import pytest
from sqlalchemy import text

from shared.db import Database
from shared.observability import JsonLogFormatter, after_commit, msgid_var, request_id_var, setl_id_var
from tests.conftest import DatabaseFactory


def _record(message: str, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("settlement.x", logging.WARNING, __file__, 1, message, None, exc_info)


def test_json_log_line_carries_request_id_msgid_and_setl_id() -> None:
    tokens = (
        request_id_var.set("req-1"),
        msgid_var.set("P34152400001202611230101000001"),
        setl_id_var.set("S3415242026112301"),
    )
    try:
        line = JsonLogFormatter("settlement").format(_record("结算完成 %s"))
    finally:
        setl_id_var.reset(tokens[2])
        msgid_var.reset(tokens[1])
        request_id_var.reset(tokens[0])
    data = json.loads(line)
    assert {k: data[k] for k in ("level", "service", "logger", "request_id", "msgid", "setl_id")} == {
        "level": "WARNING",
        "service": "settlement",
        "logger": "settlement.x",
        "request_id": "req-1",
        "msgid": "P34152400001202611230101000001",
        "setl_id": "S3415242026112301",
    }
    assert data["message"] == "结算完成 %s"
    assert data["ts"].endswith("+00:00")


def test_json_log_line_without_message_context_and_with_a_traceback() -> None:
    data = json.loads(JsonLogFormatter("gateway").format(_record("fault", exc=True)))
    assert "msgid" not in data and "setl_id" not in data
    assert data["request_id"] == "-"
    assert "ValueError: boom" in data["exc"]


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
async def test_after_commit_runs_only_when_the_transaction_commits(
    databases: DatabaseFactory, outcome: str
) -> None:
    db = Database(databases.new_url("aftercommit"))
    seen: list[str] = []
    try:
        with pytest.raises(RuntimeError) if outcome == "rollback" else contextlib.nullcontext():
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
                after_commit(session, lambda: seen.append("first"))
                after_commit(session, lambda: seen.append("second"))
                assert seen == []  # not before the commit
                if outcome == "rollback":
                    raise RuntimeError("refused")
    finally:
        await db.dispose()
    assert seen == (["first", "second"] if outcome == "commit" else [])
