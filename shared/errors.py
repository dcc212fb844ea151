"""Domain errors and the one error envelope every service answers with.

A domain error carries a stable machine code, a message a person can act on (Chinese first, as counter
staff read it) and its HTTP status. Nothing a client sends may produce a 500: validation problems become
422 with field-level details, domain refusals their own 4xx, and only genuine faults of ours a 500.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import validation_text
from shared.inputs import InputGuard

log = logging.getLogger(__name__)


class DomainError(Exception):
    status_code: int = 400
    code: str = "BAD_REQUEST"

    def __init__(
        self, message: str, *, code: str | None = None, status_code: int | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details


class NotFound(DomainError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(DomainError):
    status_code = 409
    code = "CONFLICT"


class Unprocessable(DomainError):
    status_code = 422
    code = "UNPROCESSABLE"


def error_body(code: str, message: str, request: Request | None, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    if request_id:
        body["request_id"] = request_id
    return body


def _readable_loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def validation_details(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"field": _readable_loc(tuple(e.get("loc", ()))), "message": validation_text.message(e)}
        for e in errors
    ]


_YEAR_OUT_OF_RANGE = re.compile(r"^year -?\d+ is out of range$")


def _client_data_error(exc: BaseException) -> bool:
    """A value the database cannot take as given (an integer past int64, a NUL character in text): the
    driver refuses it before anything is written. asyncpg says DataError; SQLite's driver OverflowError."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, OverflowError) or type(seen).__name__ in (
            "DataError",
            "CharacterNotInRepertoireError",
        ):
            return True
        if isinstance(seen, StatementError) and seen.orig is not None and seen.orig is not seen:
            seen = seen.orig
        else:
            seen = seen.__cause__
    return False


def install_error_handlers(app: FastAPI) -> None:
    """The handlers below, and ``shared.inputs.InputGuard``: text and numbers no database should be
    handed are refused with 422 before the application sees them."""
    app.add_middleware(InputGuard)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, request, exc.details), status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(list(exc.errors()))
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return JSONResponse(
            error_body("VALIDATION_ERROR", f"请求参数校验失败: {summary}", request, details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
            exc.status_code, "HTTP_ERROR"
        )
        return JSONResponse(error_body(code, str(exc.detail), request), status_code=exc.status_code)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: Exception) -> JSONResponse:
        # A number or date the client sent that the database or the calendar cannot hold (an id past
        # 2**63, a day before 0001-01-02): the request's fault, found by the OpenAPI fuzz. The exception's
        # own text (the database's, with its SQL) is for the log, never for the caller.
        log.warning("refused as out of range on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            error_body("OUT_OF_RANGE", "参数超出允许范围 (value out of range)", request), status_code=422
        )

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        if _YEAR_OUT_OF_RANGE.match(str(exc)):  # date arithmetic on a client's date near year 1 or 9999
            return await _overflow(request, exc)
        return await _unexpected(request, exc)

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        if _client_data_error(exc):
            return await _overflow(request, exc)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("INTERNAL_ERROR", "服务内部错误 (internal error)", request), status_code=500
        )
