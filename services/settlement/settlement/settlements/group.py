"""Group commit of pharmacy settlements (2102) on PostgreSQL (issue 29):
docs/architecture.md, "Group commit".

Off by default (``SETTLEMENT_GROUP_COMMIT_MAX`` 0): each 2102 is its own transaction
(``settlement.idempotency.once``). On, settle requests arriving within ``SETTLEMENT_GROUP_COMMIT_WAIT_MS``
of the first one (at most ``SETTLEMENT_GROUP_COMMIT_MAX`` of them) are settled one after another in ONE
transaction on one connection: one BEGIN and one COMMIT for the group instead of one each, so what a
settlement costs in round trips falls from five to about four.

What stays as it is (docs/architecture.md, "Invariants"):

- **Each settlement is the same code** (``settle.settle``): its msgid claim, the person's accumulator locked
  beside the coverage rows, the settlement's writes and its outbox row, all in the group's transaction.
- **Locks in one order.** The group runs its settlements sorted by ``psn_no`` (arrival order within one
  person), so two groups lock the accumulators they share in the same order and do not wait on each other
  in a cycle. A cycle that still forms (the same msgid repeated in two groups at once) is a deadlock
  PostgreSQL breaks by failing one transaction, which is then retried as below.
- **The same person twice in a group** runs in arrival order in the same transaction: the second reads the
  accumulator the first moved. **The same msgid twice** (a repeat while the first is in the group): the
  second finds the first's claim and settlement in the transaction and answers with it (``replayed``).
- **A refusal refuses one caller.** Each settlement runs after a ``SAVEPOINT``; a refusal (``DomainError``)
  rolls back to it, the ORM session forgets what that settlement left in it, its commit-time counters are
  dropped, and its caller gets its own refusal while the others go on.
- **A failure fails nobody's answer.** Anything else (a unique key lost to a concurrent transaction, a
  deadlock, a commit that failed or whose outcome is unknown) rolls the group back and each caller's
  settlement is run again alone, as without group commit: a msgid whose settlement did commit answers with
  it, one that did not settles now.

SQLite keeps one transaction per settlement (the file's write lock is already taken in turn)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

from settlement import metrics, trail
from settlement.config import SettlementSettings
from settlement.eligibility import service as eligibility
from settlement.idempotency import once
from settlement.settlements.claims import Claim
from settlement.settlements.schemas import SettlementOut
from settlement.settlements.settle import settle
from shared.errors import DomainError
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)

#: One name reused: a newer savepoint of the same name hides the older, and ROLLBACK TO goes back to the
#: newest; a constant text is prepared once per connection.
_SAVEPOINT = "SAVEPOINT settle_in_group"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT settle_in_group"


@dataclass
class _Waiting:
    """A caller waiting for its settlement in a group."""

    claim: Claim
    fixmedins_code: str
    msgid: str
    future: asyncio.Future[SettlementOut]
    #: The caller's context (its request id, the trace id of the event it writes): its settlement runs in it.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    #: Settled in a group (its decision is logged by the caller); else alone, by ``once``, which logs it.
    grouped: bool = False


class GroupCommit:
    """Collects concurrent 2102 settle requests of one service process and settles each collected group in
    one transaction (the module's docstring)."""

    def __init__(self, runtime: ServiceRuntime, *, max_size: int, wait_s: float) -> None:
        self.runtime = runtime
        self.max_size = max_size
        self.wait_s = wait_s
        self._pending: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        #: The groups being settled (kept referenced until they finish).
        self._running: set[asyncio.Task[None]] = set()
        #: Hooks for tests: run before the group's COMMIT (a failure injected there fails the commit).
        self.before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None

    async def settle(self, claim: Claim, *, fixmedins_code: str, msgid: str) -> SettlementOut:
        """Settle ``claim`` in the next group; its own answer or its own refusal."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        waiting = _Waiting(claim, fixmedins_code, msgid, loop.create_future())
        self._pending.append(waiting)
        if len(self._pending) >= self.max_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait_s, self._flush)
        try:
            answer = await waiting.future
        except DomainError as refused:
            if waiting.grouped:  # refused in a group: logged and counted here, as ``once`` does
                metrics.record_refusal("settle", refused.code)
                trail.decision(
                    "settle",
                    time.perf_counter() - started,
                    code=refused.code,
                    fixmedins_code=fixmedins_code,
                    msgid=msgid,
                )
            raise
        if waiting.grouped:
            trail.decision(
                "settle",
                time.perf_counter() - started,
                result=answer,
                fixmedins_code=fixmedins_code,
                msgid=msgid,
            )
        return answer

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        group, self._pending = self._pending, []
        if not group:
            return
        task = asyncio.get_running_loop().create_task(self._settle_group(group))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _settle_group(self, group: list[_Waiting]) -> None:
        if len(group) == 1:
            await self._alone(group[0])
            return
        try:
            outcomes = await self._together(group)
        except Exception as failed:  # the group rolled back: each settlement again, alone
            metrics.record_group_commit(len(group), failed=True)
            log.warning(
                "group of %d settlements rolled back (%s); settling each alone",
                len(group),
                type(failed).__name__,
            )
            await asyncio.gather(*(self._alone(waiting) for waiting in group))
            return
        metrics.record_group_commit(len(group), failed=False)
        log.debug("settled a group of %d in one transaction", len(group))
        for waiting, outcome in outcomes:
            self._answer(waiting, outcome)

    async def _together(self, group: list[_Waiting]) -> list[tuple[_Waiting, SettlementOut | DomainError]]:
        """Every settlement of ``group`` in one transaction, persons in ``psn_no`` order."""
        outcomes: list[tuple[_Waiting, SettlementOut | DomainError]] = []
        async with self.runtime.transaction() as session:
            conn = await session.connection()
            for waiting in sorted(group, key=lambda w: w.claim.psn_no):
                await conn.exec_driver_sql(_SAVEPOINT)
                counted = _after_commit_mark(session)
                try:
                    # A task in the caller's context, so that what the settlement reads of it (the request
                    # id as the event's trace id...) is the caller's.
                    outcome: SettlementOut | DomainError = await asyncio.get_running_loop().create_task(
                        settle(session, waiting.claim), context=waiting.context
                    )
                except DomainError as refused:
                    await conn.exec_driver_sql(_ROLLBACK_TO)
                    _forget_since(session, counted)
                    outcome = refused
                outcomes.append((waiting, outcome))
            if self.before_commit is not None:
                await self.before_commit(session)
        return outcomes

    async def _alone(self, waiting: _Waiting) -> None:
        """Today's path: the settlement in its own transaction (``once`` logs and counts it)."""
        try:
            answer = await once(
                self.runtime,
                lambda session: settle(session, waiting.claim),
                fixmedins_code=waiting.fixmedins_code,
                msgid=waiting.msgid,
            )
        except Exception as failed:
            if not waiting.future.done():
                waiting.future.set_exception(failed)
            return
        if not waiting.future.done():
            waiting.future.set_result(answer)

    def _answer(self, waiting: _Waiting, outcome: SettlementOut | DomainError) -> None:
        """Hand the caller its answer or its refusal (the caller logs and counts it)."""
        waiting.grouped = True
        if waiting.future.done():  # the caller went away (its answer is the msgid's, replayed on a repeat)
            return
        if isinstance(outcome, DomainError):
            waiting.future.set_exception(outcome)
        else:
            waiting.future.set_result(outcome)


def _after_commit_mark(session: AsyncSession) -> int:
    """How many commit-time callbacks (``shared.observability.after_commit``) the session holds now."""
    pending: list[Any] | None = session.sync_session.info.get("after_commit")
    return 0 if pending is None else len(pending)


def _forget_since(session: AsyncSession, mark: int) -> None:
    """After a rollback to the settlement's savepoint: drop the commit-time callbacks it registered, the
    objects it left in the session (pending ones would be flushed with the next settlement, loaded
    ones may hold what was rolled back) and the reads it kept (``eligibility.forget_reads``: their row
    locks went with the savepoint). What earlier settlements wrote was flushed before this one began, so
    nothing of theirs is lost."""
    pending: list[Any] | None = session.sync_session.info.get("after_commit")
    if pending is not None:
        del pending[mark:]
    session.expunge_all()
    eligibility.forget_reads(session)


_COLLECTORS: WeakKeyDictionary[ServiceRuntime, GroupCommit | None] = WeakKeyDictionary()


def for_runtime(runtime: ServiceRuntime) -> GroupCommit | None:
    """The process's collector, or None when group commit is off (the setting, or SQLite)."""
    try:
        return _COLLECTORS[runtime]
    except KeyError:
        pass
    settings = runtime.settings
    collector = None
    if (
        isinstance(settings, SettlementSettings)
        and settings.group_commit_max > 1
        and not runtime.db.is_sqlite
    ):
        collector = GroupCommit(
            runtime, max_size=settings.group_commit_max, wait_s=settings.group_commit_wait_ms / 1000
        )
    _COLLECTORS[runtime] = collector
    return collector
