"""Settlement's write path, as one interface for both backends. The use cases (``settle``, ``reverse``,
``void``, ``replay``) decide; a store reads and writes what they decided, with the statements of its
backend: ``store_postgres`` (a settlement's writes in one round trip) and ``store_sqlite`` (separate
statements), chosen once per session's dialect by ``stores.store_for``.

The operations both backends run alike, and the statements they both use, are ``SharedStore``'s; a
backend adds its ``INSERT … ON CONFLICT`` spelling and ``write_settlement``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy import Boolean, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlmodel import col, select

from settlement import reference
from settlement.db import infra
from settlement.eligibility import service as eligibility
from settlement.encounters.models import Encounter as EncounterRecord
from settlement.encounters.models import FeeLineRecord
from settlement.settlements.models import MsgidClaim, Settlement, SettlementFund, SettlementLine
from settlement.supervision.rules import Probes
from shared.db import run, table_of, utcnow
from shared.events import SettlementCompleted, SettlementReversed
from shared.outbox import enqueue

PRODUCER = "settlement"

SETTLEMENTS = table_of(Settlement)
FUNDS = table_of(SettlementFund)
LINES = table_of(SettlementLine)
FEE_LINES = table_of(FeeLineRecord)
ENCOUNTERS = table_of(EncounterRecord)
SETTLEMENT_COLUMNS = tuple(c.name for c in SETTLEMENTS.columns if c.name != "id")
FUND_COLUMNS = tuple(c.name for c in FUNDS.columns if c.name != "id")
LINE_COLUMNS = tuple(c.name for c in LINES.columns if c.name != "id")


@dataclass(frozen=True)
class StayLines:
    """The encounter whose uploaded lines a settlement settles (2207 / 2304): the statement writing the
    settlement marks those lines with its setl_id and, for a stay settled at discharge (``close``), sets
    the encounter settled."""

    mdtrt_id: str
    close: bool


@dataclass(frozen=True)
class NewSettlement:
    """Everything one binding settlement writes. The records stay out of the ORM session: they are the
    answer, and nothing in the transaction changes them."""

    settlement: Settlement
    funds: list[SettlementFund]
    #: As rows (one multi-row INSERT): building ORM objects cost more than the calculation itself.
    lines: list[dict[str, Any]]
    #: The person's accumulator, locked and already moved by this settlement.
    totals: eligibility.Totals
    event: SettlementCompleted
    stay: StayLines | None = None

    def settlement_row(self) -> dict[str, Any]:
        return {name: getattr(self.settlement, name) for name in SETTLEMENT_COLUMNS}

    def fund_rows(self) -> list[dict[str, Any]]:
        return [{name: getattr(f, name) for name in FUND_COLUMNS} for f in self.funds]

    def marks(self) -> dict[str, Any]:
        """The bind parameters of the stay's statements (``MARK_…``, ``CLOSE_STAY``)."""
        if self.stay is None:
            return {}
        return {
            "mark_mdtrt_id": self.stay.mdtrt_id,
            "mark_setl_id": self.settlement.setl_id,
            "mark_close": self.stay.close,
        }


class SettlementStore(Protocol):
    """What the settlement use cases read and write. Every method runs in the caller's transaction."""

    async def claim_msgid(
        self, session: AsyncSession, msgid: str, cover: eligibility.CoverageKey | None = None
    ) -> bool:
        """Claim ``msgid`` for a settlement: True when it is new. A claim in flight in another transaction
        makes this wait for it (the primary key). Reads the reference data's version beside it and, where
        the backend can, the coverage rows ``cover`` names for ``eligibility.coverage_and_lock``."""
        ...

    async def claim_void(self, session: AsyncSession, msgid: str) -> bool:
        """Claim ``msgid`` as voided (2601): True when nothing had claimed it; waits like ``claim_msgid``."""
        ...

    async def claim_reversal_msgid(self, session: AsyncSession, msgid: str) -> None:
        """Claim a reversal's msgid; a concurrent claim makes this raise ``IntegrityError``."""
        ...

    async def msgid_claim(self, session: AsyncSession, msgid: str) -> MsgidClaim | None: ...

    async def settlement_by_msgid(self, session: AsyncSession, msgid: str) -> Settlement | None: ...

    async def lock_settlement(self, session: AsyncSession, setl_id: str) -> Settlement | None:
        """The settlement, locked for the rest of the transaction and read as committed after the lock."""
        ...

    async def reversal_of(self, session: AsyncSession, original: Settlement) -> Settlement | None: ...

    async def funds_of(self, session: AsyncSession, setl_id: str) -> list[SettlementFund]: ...

    async def write_settlement(
        self, session: AsyncSession, new: NewSettlement, probes: Probes
    ) -> list[Any] | None:
        """Write ``new`` (the settlement, its funds and lines, the accumulator, the outbox event and, for
        an encounter, its lines marked and the stay closed). Returns the rows of the supervision rules'
        ``probes`` when the backend read them with the writes; None: not read."""
        ...

    async def write_reversal(
        self,
        session: AsyncSession,
        original: Settlement,
        reversal: Settlement,
        funds: list[SettlementFund],
        totals: eligibility.Totals,
        event: SettlementReversed,
    ) -> None:
        """Write ``reversal`` with its negated ``funds``, mark ``original`` reversed by it, save the moved
        ``totals``, reopen the encounter's lines and write the outbox event."""
        ...


def claim_statement(insert_of: Callable[[Any], Any]) -> Executable:
    """The settlement's msgid claim, with the backend's ``insert``; the reference data's version beside
    it, so that the cache needs no statement of its own."""
    statement: Executable = (
        insert_of(table_of(MsgidClaim))
        .values(msgid=bindparam("msgid"), kind="settle", created_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["msgid"])
        .returning(col(MsgidClaim.msgid), reference.VERSION_NOW.label("reference_version"))
    )
    return statement


def void_claim_statement(insert_of: Callable[[Any], Any]) -> Executable:
    """2601's claim of the unanswered msgid, with the backend's ``insert``."""
    statement: Executable = (
        insert_of(table_of(MsgidClaim))
        .values(msgid=bindparam("msgid"), kind="void", created_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["msgid"])
        .returning(col(MsgidClaim.msgid))
    )
    return statement


#: A stay settled at discharge is settled; a mid-stay settlement or a visit's batch leaves it as it is.
CLOSE_STAY = (
    update(ENCOUNTERS)
    .where(ENCOUNTERS.c.mdtrt_id == bindparam("mark_mdtrt_id"), bindparam("mark_close", type_=Boolean))
    .values(status="settled")
)

_BY_MSGID = select(Settlement).where(Settlement.msgid == bindparam("msgid"))
_LOCK_SETTLEMENT = (
    select(Settlement)
    .where(Settlement.setl_id == bindparam("setl_id"))
    .with_for_update()
    # The row as committed now, not as this session may have loaded it before waiting for the lock: a
    # concurrent reversal's "reversed" must be seen here, or both would reverse (issue 21, found on
    # PostgreSQL with 2601s sent together).
    .execution_options(populate_existing=True)
)


class SharedStore:
    """The operations both backends run alike. A subclass sets its backend's claim statements
    (``claim_statement``, ``void_claim_statement``) and writes a settlement its own way."""

    _claim: ClassVar[Executable]
    _void_claim: ClassVar[Executable]

    async def claim_msgid(
        self, session: AsyncSession, msgid: str, cover: eligibility.CoverageKey | None = None
    ) -> bool:
        claimed = (await run(session, self._claim, {"msgid": msgid, "now": utcnow()})).first()
        if claimed is None:
            return False
        reference.seen_version(session, claimed.reference_version)
        return True

    async def claim_void(self, session: AsyncSession, msgid: str) -> bool:
        voided = await run(session, self._void_claim, {"msgid": msgid, "now": utcnow()})
        return voided.first() is not None

    async def claim_reversal_msgid(self, session: AsyncSession, msgid: str) -> None:
        session.add(MsgidClaim(msgid=msgid, kind="settle"))
        await session.flush()

    async def msgid_claim(self, session: AsyncSession, msgid: str) -> MsgidClaim | None:
        return await session.scalar(select(MsgidClaim).where(MsgidClaim.msgid == msgid))

    async def settlement_by_msgid(self, session: AsyncSession, msgid: str) -> Settlement | None:
        return await session.scalar(_BY_MSGID, {"msgid": msgid})

    async def lock_settlement(self, session: AsyncSession, setl_id: str) -> Settlement | None:
        return await session.scalar(_LOCK_SETTLEMENT, {"setl_id": setl_id})

    async def reversal_of(self, session: AsyncSession, original: Settlement) -> Settlement | None:
        return await session.scalar(select(Settlement).where(Settlement.reversal_of == original.setl_id))

    async def funds_of(self, session: AsyncSession, setl_id: str) -> list[SettlementFund]:
        return list(
            await session.scalars(
                select(SettlementFund)
                .where(SettlementFund.setl_id == setl_id)
                .order_by(col(SettlementFund.id))
            )
        )

    async def write_reversal(
        self,
        session: AsyncSession,
        original: Settlement,
        reversal: Settlement,
        funds: list[SettlementFund],
        totals: eligibility.Totals,
        event: SettlementReversed,
    ) -> None:
        session.add(reversal)
        original.status = "reversed"
        original.reversed_by = reversal.setl_id
        # The reversal first, alone: a concurrent reversal of the same settlement fails here on the unique
        # index on reversal_of (and the caller runs again, answering with that one).
        await session.flush()
        session.add_all(funds)
        await eligibility.save_accumulator(session, totals)
        # The encounter's lines are open for settling again (after fixing them, 2302/2301, then 2303/2304).
        await session.execute(
            update(FeeLineRecord)
            .where(
                col(FeeLineRecord.mdtrt_id) == original.mdtrt_id,  # the index; setl_id has none
                col(FeeLineRecord.setl_id) == original.setl_id,
            )
            .values(setl_id=None)
        )
        await session.execute(
            update(EncounterRecord)
            .where(
                col(EncounterRecord.mdtrt_id) == original.mdtrt_id, col(EncounterRecord.status) == "settled"
            )
            .values(status="discharged")
        )
        await enqueue(session, infra, event, PRODUCER)
        await session.flush()
