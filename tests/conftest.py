"""Fixtures shared by the whole suite: real PostgreSQL, the real (Tansu) broker, and a fresh database per
test on each backend. ``TEST_BACKENDS`` chooses the backends (default: both)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from platformctl.pgtemp import PostgresServer
from platformctl.stack import free_port, start_broker
from shared.config import sqlite_url
from shared.migrations import upgrade

BACKENDS = [b.strip() for b in os.environ.get("TEST_BACKENDS", "sqlite,postgres").split(",") if b.strip()]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop(wait_for_cleanup=False)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a Tansu broker for the session."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("broker") / "broker.log", "ab")  # noqa: SIM115
    process = start_broker(port, log)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def migrated_templates() -> dict[tuple[str, str], str]:
    """(backend, package) -> a database migrated to head once per test process (worker), never used by a
    test: the SQLite file copied, or the PostgreSQL database named as ``CREATE DATABASE ... TEMPLATE``."""
    return {}


class DatabaseFactory:
    """Makes empty databases on the chosen backend; every call gives a new one."""

    def __init__(self, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.request = request
        self._count = 0

    def new_url(self, name: str = "db") -> str:
        self._count += 1
        if self.backend == "sqlite":
            return sqlite_url(self.tmp_path / f"{name}-{self._count}.db")
        server: PostgresServer = self.request.getfixturevalue("pg_server")
        return server.url(server.create_database(name.replace("-", "_")))

    def migrated(self, package: str) -> str:
        """A new database at the head of ``package``'s migrations (``migrated_copy``). A test that is about
        the migrations themselves runs them on ``new_url`` (tests/test_migrations.py)."""
        self._count += 1
        return migrated_copy(
            self.request, self.backend, package, self.tmp_path / f"{package}-{self._count}.db"
        )

    async def seeded(self, package: str, name: str, seed: Callable[[str], Awaitable[None]]) -> str:
        """A new database at the head of ``package``'s migrations holding what ``seed(url)`` writes: a copy
        of one seeded once per process under ``name`` (the same reference data, seeded through the
        service's own API, for many tests). ``seed`` must close every connection it opened."""
        self._count += 1
        path = self.tmp_path / f"{package}-{name}-{self._count}.db"
        templates: dict[tuple[str, str], str] = self.request.getfixturevalue("migrated_templates")
        key = (self.backend, f"{package}+{name}")
        if key not in templates:
            folder: Path = self.request.getfixturevalue("tmp_path_factory").mktemp("seeded")
            url = migrated_copy(self.request, self.backend, package, folder / f"{package}-{name}.db")
            await seed(url)
            templates[key] = _as_template(self.backend, url)
        return _copy_of(self.request, self.backend, templates[key], package, path)


def migrated_copy(request: pytest.FixtureRequest, backend: str, package: str, sqlite_path: Path) -> str:
    """The URL of a new database at the head of ``package``'s migrations: a copy of one migrated once per
    test process (running the migrations takes 1 to 5 s a database, a copy milliseconds): the SQLite file
    copied to ``sqlite_path``, or on PostgreSQL ``CREATE DATABASE ... TEMPLATE``."""
    templates: dict[tuple[str, str], str] = request.getfixturevalue("migrated_templates")
    key = (backend, package)
    if key not in templates:
        if backend == "sqlite":
            folder: Path = request.getfixturevalue("tmp_path_factory").mktemp("migrated")
            url = sqlite_url(folder / f"{package}.db")
        else:
            server: PostgresServer = request.getfixturevalue("pg_server")
            url = server.url(server.create_database(f"template_{package.replace('-', '_')}"))
        upgrade(package, url)
        templates[key] = _as_template(backend, url)
    return _copy_of(request, backend, templates[key], package, sqlite_path)


def _as_template(backend: str, url: str) -> str:
    """What ``_copy_of`` copies: the SQLite file (its WAL checkpointed into it) or the database's name."""
    database = make_url(url).database
    assert database is not None
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    return database


def _copy_of(
    request: pytest.FixtureRequest, backend: str, template: str, package: str, sqlite_path: Path
) -> str:
    if backend == "sqlite":
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, sqlite_path)
        return sqlite_url(sqlite_path)
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.url(server.create_database(package.replace("-", "_"), template=template))


@pytest.fixture
def databases(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> DatabaseFactory:
    return DatabaseFactory(backend, tmp_path, request)


async def eventually(predicate: Callable[[], Any], timeout_s: float = 20.0, interval_s: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until it returns a truthy value; returns that value."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = None
    while True:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s (last value {last!r})")
        await asyncio.sleep(interval_s)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


__all__ = ["DatabaseFactory", "eventually", "migrated_copy"]
