"""Alembic, per service: each service keeps its migrations in ``<package>/migrations`` and its own
``alembic_version`` table in its own database. This module builds the Alembic config in code (no ini file)
and provides the shared body of every ``env.py``."""

from __future__ import annotations

import asyncio
import importlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import _prepare_sqlite_file, is_sqlite

SERVICE_PACKAGES = {
    "gateway": "gateway",
    "enrollment": "enrollment",
    "settlement": "settlement",
    "ledger": "fund_ledger",
}


def alembic_config(package: str, database_url: str) -> Config:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(module.__file__).parent / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``. Synchronous; ``env.py`` runs its own event loop, so when called
    from inside a running loop the work happens on a helper thread (blocking the caller until done)."""
    config = alembic_config(package, database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, config, revision).result()


def run_env(target_metadata: MetaData) -> None:
    """The body of each service's ``migrations/env.py``."""
    url: str = context.config.attributes["database_url"]
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=is_sqlite(url)
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, target_metadata))


async def _run_online(url: str, target_metadata: MetaData) -> None:
    if is_sqlite(url):
        _prepare_sqlite_file(url)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run, target_metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def _configure_and_run(connection: Any, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
