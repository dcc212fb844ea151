"""A service process's shutdown (``ServiceRuntime.stop``) and the calls that outlive their request (a
confirmation owed to a peer platform after the commit, ``ServiceRuntime.keep``): the process waits for them
before it closes the database pool they use, for at most ``shutdown_calls_wait_s``, and then cancels them
(what they owed stays owed, for the retry loop after the restart)."""

from __future__ import annotations

import asyncio

from settlement.config import SettlementSettings
from sqlalchemy import text

from shared.service import ServiceRuntime
from tests.conftest import DatabaseFactory


def _runtime(databases: DatabaseFactory, wait_s: float, order: list[str]) -> ServiceRuntime:
    settings = SettlementSettings(
        database_url=databases.migrated("settlement"),
        run_background_workers=False,
        shutdown_calls_wait_s=wait_s,
    )
    runtime = ServiceRuntime(settings, None)
    dispose = runtime.db.dispose

    async def noted_dispose() -> None:
        order.append("pool closed")
        await dispose()

    runtime.db.dispose = noted_dispose  # type: ignore[method-assign]
    return runtime


async def test_stop_waits_for_a_kept_call_before_closing_the_pool(databases: DatabaseFactory) -> None:
    order: list[str] = []
    runtime = _runtime(databases, 20.0, order)
    release = asyncio.Event()

    async def owed() -> None:
        await release.wait()
        async with runtime.db.session() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        order.append("call ended")

    runtime.keep(asyncio.ensure_future(owed()))
    assert len(runtime.calls_running()) == 1
    stopping = asyncio.ensure_future(runtime.stop())
    # The call is held until released; a stop that did not wait would close the pool meanwhile.
    await asyncio.wait({stopping}, timeout=0.2)
    release.set()
    await asyncio.wait_for(stopping, 60)
    assert order == ["call ended", "pool closed"]
    assert runtime.calls_running() == []


async def test_a_call_past_the_wait_is_cancelled_and_the_stop_ends(databases: DatabaseFactory) -> None:
    order: list[str] = []
    runtime = _runtime(databases, 0.05, order)
    ended = asyncio.Event()
    cancelled: list[bool] = []

    async def hangs() -> None:
        try:
            await asyncio.Event().wait()  # a peer that never answers
        except asyncio.CancelledError:
            cancelled.append(True)
            order.append("call cancelled")
            raise
        finally:
            ended.set()

    done = asyncio.ensure_future(asyncio.sleep(0))
    runtime.keep(done)
    runtime.keep(asyncio.ensure_future(hangs()))
    await done
    assert len(runtime.calls_running()) == 1  # an ended call is not held
    await asyncio.wait_for(runtime.stop(), 60)
    assert ended.is_set() and cancelled == [True]
    assert order == ["call cancelled", "pool closed"]
    assert runtime.calls_running() == []
