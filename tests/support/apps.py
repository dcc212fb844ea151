"""Run a service app in-process (its real lifespan, database and settings) behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from shared.auth import ADMINISTRATOR, DEV_AUTH_SECRET, SERVICE, issue_token

#: Tests run the services with the development auth secret; this token may do anything.
ADMIN_TOKEN = issue_token(DEV_AUTH_SECRET, "test-admin", [ADMINISTRATOR, SERVICE])


def bearer(*roles: str, subject: str = "tester") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(DEV_AUTH_SECRET, subject, roles)}"}


@asynccontextmanager
async def running(app: FastAPI, *, token: str | None = ADMIN_TOKEN) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind an httpx client that sends ``token`` (an administrator's and service's by default;
    ``None`` sends none)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service", headers=headers
        ) as client:
            yield client


def build(create_app: Callable[[Any], FastAPI], settings_cls: type, **settings: Any) -> FastAPI:
    """The app with ``settings``; the suite's many apps leave the heap unfrozen (``freeze_heap_at_start``)."""
    return create_app(settings_cls(**{"freeze_heap_at_start": False, **settings}))
