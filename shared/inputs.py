"""Text and numbers no request may carry towards a database, refused where requests come in.

A NUL character is taken by SQLite and refused by PostgreSQL (with its own text, which must never reach a
caller); an unpaired surrogate is not a character at all (no UTF-8 encoder or database takes it); other
control characters than tab, line feed and carriage return have no place in any field; ``NaN`` and
``Infinity`` are not JSON, and neither an integer past 64 bits nor a number like ``1e999999`` is a value any
column holds. The gateway checks its envelopes with the same rules (``gateway.protocol.envelope``); every
service's JSON API is guarded by ``InputGuard`` (installed with the error handlers, ``shared.errors``), which
answers 422 ``VALIDATION_ERROR`` naming the field, like any other validation error.

Cheap for the requests that carry none of it: a body is parsed and walked only when a byte pattern says it
may hold such a thing (a ``\\u`` escape of a control character or a surrogate, ``NaN``, ``Infinity``, a long
run of digits, an exponent of three digits).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Not accepted in any text: C0 controls but tab, line feed and carriage return; surrogate halves (a
#: JSON parser leaves one only when it is unpaired).
BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
BAD_TEXT = "含有不允许的字符（控制字符或不成对的代理码元）"
#: JSON text can only carry those characters as ``\u`` escapes (raw control characters are not JSON, and
#: UTF-8 cannot encode a surrogate).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:00[01]|[dD][89a-fA-F])")
#: For a cheap look at a body's values: digits become 0, what may open a value becomes ":", an exponent's
#: letter "e"; blanks and signs go (text in strings may then look suspect too: it only costs a closer look).
_NUMBERS_VIEW = bytes.maketrans(b"0123456789[,E", b"0000000000::e")
_DROPPED = b" \t\n\r-+"
#: In that view: 19 digits or more, an exponent of three digits or more, NaN, (-)Infinity where a value
#: starts.
_SUSPECT_IN_VIEW = (b":" + b"0" * 19, b"0e000", b":N", b":I")
#: A number's magnitude, as a power of ten, either way.
MAX_EXPONENT = 40
_INT64 = 2**63 - 1
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def may_hold_bad_text(raw: bytes) -> bool:
    return _SUSPECT_ESCAPE.search(raw) is not None


def bad_text_path(body: Any) -> str | None:
    """The path (``lines[0].med_list_codg``…) of a text in ``body`` (parsed JSON) with a character
    ``BAD_CHARACTER`` refuses, or None. A key with one is named by its parent's path and ``(字段名)``."""
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if BAD_CHARACTER.search(value):
                return path or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                if BAD_CHARACTER.search(key):
                    return f"{path}(字段名)" if path else "(字段名)"
                pending.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


class _Refused(ValueError):
    pass


def _constant(text: str) -> Any:
    raise _Refused(f"{text} 不是合法的 JSON 数值")


def _integer(text: str) -> int:
    value = int(text) if len(text) <= 40 else _INT64 + 1
    if abs(value) > _INT64:
        raise _Refused(f"数值超出允许范围: {text[:24]}")
    return value


def _number(text: str) -> float:
    exponent = text.lower().partition("e")[2]
    value = float(text)
    if math.isinf(value) or (exponent and abs(int(exponent)) > MAX_EXPONENT):
        raise _Refused(f"数值超出允许范围: {text[:24]}")
    return value


def _suspect(raw: bytes) -> bool:
    """Whether ``raw`` may carry something ``json_problem`` refuses (about 25 µs for 20 kB)."""
    if b"\\" in raw and _SUSPECT_ESCAPE.search(raw):
        return True
    view = raw.translate(_NUMBERS_VIEW, _DROPPED)
    return any(pattern in view for pattern in _SUSPECT_IN_VIEW)


def json_problem(raw: bytes) -> tuple[str, str] | None:
    """(field, message) for a JSON body that carries what this module refuses; None when it carries
    none of it, or is not JSON at all (the application's own parsing answers that)."""
    if not _suspect(raw):
        return None
    try:
        body = json.loads(raw, parse_constant=_constant, parse_int=_integer, parse_float=_number)
    except _Refused as refused:
        return "body", str(refused)
    except (ValueError, RecursionError):
        return None
    path = bad_text_path(body)
    return None if path is None else (path, BAD_TEXT)


def target_problem(path: str, query_string: bytes) -> tuple[str, str] | None:
    """(field, message) for a request path or query parameter (percent-decoded) with a character
    ``BAD_CHARACTER`` refuses."""
    if BAD_CHARACTER.search(path):
        return "path", BAD_TEXT
    if b"%" not in query_string:  # the HTTP server lets no raw control character through
        return None
    for part in query_string.decode("latin-1").split("&"):
        name, _, value = (unquote(text) for text in part.partition("="))
        if BAD_CHARACTER.search(name):
            return "query", BAD_TEXT
        if BAD_CHARACTER.search(value):
            return name, BAD_TEXT
    return None


def exempt(app: Any, path: str) -> None:
    """Leave requests to ``path`` to the application's own checks (the gateway's HIS entry point answers
    every request with an envelope, never a 422)."""
    exempted: set[str] = getattr(app.state, "input_guard_exempt", set())
    exempted.add(path)
    app.state.input_guard_exempt = exempted


def exempt_prefix(app: Any, prefix: str) -> None:
    """Leave every request whose path starts with ``prefix`` to the application's own checks (the
    gateway's HIS path forms, ``/fsi/...``, all answer with an envelope)."""
    prefixes: set[str] = getattr(app.state, "input_guard_exempt_prefixes", set())
    prefixes.add(prefix)
    app.state.input_guard_exempt_prefixes = prefixes


def _exempted(scope: Scope) -> bool:
    state = scope["app"].state
    path = scope["path"]
    if path in getattr(state, "input_guard_exempt", ()):
        return True
    return any(path.startswith(p) for p in getattr(state, "input_guard_exempt_prefixes", ()))


class InputGuard:
    """ASGI middleware: refuses with 422 a request whose path, query or JSON body carries a character or a
    number this module refuses, before the application (or its database) sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempted(scope):
            await self.app(scope, receive, send)
            return
        problem = target_problem(scope["path"], scope.get("query_string", b""))
        if problem is None and scope.get("method") in _BODY_METHODS and _is_json(scope):
            body, receive = await _buffered(receive)
            problem = json_problem(body)
        if problem is None:
            await self.app(scope, receive, send)
            return
        field, message = problem
        error = {
            "code": "VALIDATION_ERROR",
            "message": f"请求参数校验失败: {field}: {message}",
            "details": [{"field": field, "message": message}],
        }
        payload: dict[str, Any] = {"error": error}  # the shape of ``shared.errors.error_body``
        request_id = scope.get("state", {}).get("request_id")
        if request_id:
            payload["request_id"] = request_id
        content = json.dumps(payload, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 422, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands it to the application as one message."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            chunks.clear()
            pending: Message | None = message
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            pending = None
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if pending is not None:
            return pending
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
