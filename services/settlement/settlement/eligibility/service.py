"""The eligibility read models (coverage, cards) fed by ``enrollment.events``, and the yearly accumulators.

Events of one person arrive in order (they share the partition key ``psn_no``) and each event id is
processed once; the handlers still refuse to let an older fact overwrite a newer one where the event carries
what is needed to tell (enrollment id, card change date)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, true, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import CTE
from sqlmodel import select

from settlement.eligibility.models import (
    ACTIVE,
    TERMINATED,
    Card,
    Eligibility,
    Person,
    VoucherRevocation,
    YearAccumulator,
)
from shared import voucher
from shared.db import dialect_name, per_dialect, run, table_of, transient, utcnow
from shared.errors import DomainError, NotFound
from shared.events import (
    CardStatusChanged,
    CoverageActivated,
    CoverageActivatedV1,
    EnrollmentTerminated,
    EventEnvelope,
    IdentityCategoriesChanged,
    PersonIdentity,
    VoucherRevoked,
)

log = logging.getLogger(__name__)


async def _coverage_row(session: AsyncSession, psn_no: str, insutype: str, year: int) -> Eligibility | None:
    return await session.scalar(
        select(Eligibility).where(
            Eligibility.psn_no == psn_no, Eligibility.insutype == insutype, Eligibility.year == year
        )
    )


def _copy_identity(row: Eligibility, person: Person | None) -> None:
    if person is not None:
        row.certno, row.psn_name = person.certno, person.psn_name
        row.gend, row.brdy = person.gend, person.brdy
        if person.naty is not None:
            row.naty = person.naty


async def _store_identity(session: AsyncSession, identity: PersonIdentity) -> Person:
    """Upsert the person's identity and copy it onto every coverage row of theirs (the settlement reads
    one row; docs/architecture.md, "Personal data on the bus")."""
    person = await session.get(Person, identity.psn_no)
    if person is None:
        person = Person(psn_no=identity.psn_no, certno=identity.certno, psn_name=identity.psn_name,
                        gend=identity.gend, brdy=identity.brdy)  # fmt: skip
        session.add(person)
    person.certno, person.psn_name, person.gend, person.brdy = (
        identity.certno,
        identity.psn_name,
        identity.gend,
        identity.brdy,
    )
    if identity.naty is not None:
        person.naty = identity.naty
    person.updated_at = utcnow()
    for row in await session.scalars(select(Eligibility).where(Eligibility.psn_no == identity.psn_no)):
        _copy_identity(row, person)
    await session.flush()
    return person


async def apply_person_identity(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler for ``enrollment.person_identity`` (restricted topic ``enrollment.identity``): who
    the person is, kept in ``persons`` and copied onto their coverage rows, whichever arrived first."""
    await _store_identity(session, PersonIdentity.read(envelope.data))


async def apply_coverage_activated(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler for ``enrollment.coverage_activated``: upsert the person's coverage for the year.

    Version 2 carries the cover only; the identity columns are filled from ``persons`` (the restricted
    topic), or stay empty until the identity arrives. Version 1 (producers not yet rolled over) carries the
    identity too: it is stored as if ``enrollment.person_identity`` had come with it.

    A terminated enrollment stays terminated: only a new enrollment (another ``enrollment_id``) for the
    same year, i.e. a re-enrollment after the termination, makes the person covered again."""
    if envelope.version == 1:
        older = CoverageActivatedV1.read(envelope.data)
        event: CoverageActivated = older
        person: Person | None = await _store_identity(session, older.identity())
    else:
        event = CoverageActivated.read(envelope.data)
        person = await session.get(Person, event.psn_no)
    row = await _coverage_row(session, event.psn_no, event.insutype, event.year)
    if row is not None and row.status == TERMINATED and row.enrollment_id == event.enrollment_id:
        log.warning(
            "coverage_activated %s ignored: enrollment %s of %s (%s, %s) was terminated on %s",
            envelope.event_id,
            event.enrollment_id,
            event.psn_no,
            event.insutype,
            event.year,
            row.terminated_on,
        )
        return
    if row is None:
        row = Eligibility(
            psn_no=event.psn_no,
            insutype=event.insutype,
            year=event.year,
            psn_type=event.psn_type,
            insuplc_admdvs=event.insuplc_admdvs,
            coverage_begin=event.coverage_begin,
            coverage_end=event.coverage_end,
            enrollment_id=event.enrollment_id,
        )
        session.add(row)
    _copy_identity(row, person)
    row.psn_type, row.insuplc_admdvs = event.psn_type, event.insuplc_admdvs
    row.coverage_begin, row.coverage_end, row.enrollment_id = (
        event.coverage_begin,
        event.coverage_end,
        event.enrollment_id,
    )
    row.identities = [i.model_dump(mode="json") for i in event.identities]
    row.continuous_years, row.psn_insu_date = event.continuous_years, event.psn_insu_date
    row.status, row.terminated_on = ACTIVE, None
    row.updated_at = utcnow()
    await session.flush()


async def apply_enrollment_terminated(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler for ``enrollment.terminated``: the person is not covered from ``effective_date``
    on, so the last covered day becomes the day before (never later than the year's own end).

    An event for coverage we never saw, or for an enrollment the row no longer holds (the person has
    re-enrolled since), changes nothing: it is logged, not an error."""
    event = EnrollmentTerminated.read(envelope.data)
    row = await _coverage_row(session, event.psn_no, event.insutype, event.year)
    if row is None or row.enrollment_id != event.enrollment_id:
        log.warning(
            "enrollment.terminated %s ignored: no coverage of enrollment %s for %s (%s, %s) here",
            envelope.event_id,
            event.enrollment_id,
            event.psn_no,
            event.insutype,
            event.year,
        )
        return
    row.coverage_end = min(row.coverage_end, event.effective_date - timedelta(days=1))
    row.status, row.terminated_on = TERMINATED, event.effective_date
    row.updated_at = utcnow()
    await session.flush()


async def apply_identities_changed(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler for ``enrollment.identities_changed``: the list is complete, so it replaces the
    identities on every coverage row of the person (all years: a settlement of any year reads them)."""
    event = IdentityCategoriesChanged.read(envelope.data)
    rows = list(await session.scalars(select(Eligibility).where(Eligibility.psn_no == event.psn_no)))
    if not rows:
        log.info(
            "enrollment.identities_changed %s: no coverage of %s here yet", envelope.event_id, event.psn_no
        )
        return
    identities = [i.model_dump(mode="json") for i in event.identities]
    now = utcnow()
    for row in rows:
        row.identities = identities
        row.updated_at = now
    await session.flush()


async def apply_card_status_changed(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler for ``enrollment.card_status_changed``: upsert the card by its number. A change
    dated before the one already recorded is stale and ignored."""
    event = CardStatusChanged.read(envelope.data)
    card = await session.scalar(_CARD, {"card_no": event.card_no})  # to change: a row of the session
    if card is None:
        card = Card(
            card_no=event.card_no,
            card_sn=event.card_sn,
            psn_no=event.psn_no,
            status=event.status,
            changed_on=event.changed_on,
        )
        session.add(card)
    elif event.changed_on < card.changed_on:
        log.warning(
            "card_status_changed %s ignored: card %s changed on %s, after this change of %s",
            envelope.event_id,
            event.card_no,
            card.changed_on,
            event.changed_on,
        )
        return
    card.card_sn, card.psn_no, card.status, card.changed_on = (
        event.card_sn,
        event.psn_no,
        event.status,
        event.changed_on,
    )
    card.updated_at = utcnow()
    await session.flush()


async def apply_voucher_revoked(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler for ``enrollment.voucher_revoked``: remember the revoked token's digest, once (a
    second event for the same token, which enrollment never sends, changes nothing)."""
    event = VoucherRevoked.read(envelope.data)
    if await session.get(VoucherRevocation, event.voucher_digest) is not None:
        return
    session.add(
        VoucherRevocation(
            voucher_digest=event.voucher_digest,
            psn_no=event.psn_no,
            revoked_at=event.revoked_at,
            expires_at=event.expires_at,
        )
    )
    await session.flush()


async def voucher_revoked(session: AsyncSession, token: str) -> bool:
    """Whether the issuer's revocation of ``token`` has reached this service."""
    return await session.get(VoucherRevocation, voucher.digest(token)) is not None


_CARD = select(Card).where(Card.card_no == bindparam("card_no"))


async def find_card(session: AsyncSession, card_no: str) -> Card | None:
    """The card (None: unknown), as this transaction read it beside the coverage rows if it did."""
    read: dict[str, Card | None] | None = session.info.get(_CARDS_READ)
    if read is not None and card_no in read:
        return read[card_no]
    return await session.scalar(_CARD, {"card_no": card_no})


async def covered(
    session: AsyncSession,
    psn_no: str,
    insutype: str,
    on: date,
    year_rows: dict[str, Eligibility] | None = None,
) -> Eligibility:
    """The person's coverage on the day of care, or a refusal the cashier can read. ``year_rows``: the
    person's rows of that year by scheme, when the caller has read them."""
    if year_rows is not None:
        row = year_rows.get(insutype)
    else:
        row = await _coverage_row(session, psn_no, insutype, on.year)
    if row is None:
        raise DomainError(
            f"人员 {psn_no} 在 {on.year} 年度未参加险种 {insutype}，不能享受待遇",
            code="NOT_COVERED",
            status_code=422,
        )
    if row.status == TERMINATED and on > row.coverage_end:
        raise DomainError(
            f"人员 {psn_no} 的险种 {insutype} 参保已于 {row.terminated_on} 终止，就诊日期 {on} 不能享受待遇",
            code="NOT_COVERED",
            status_code=422,
        )
    if not row.coverage_begin <= on <= row.coverage_end:
        raise DomainError(
            f"就诊日期 {on} 不在待遇享受期 {row.coverage_begin} 至 {row.coverage_end} 内",
            code="NOT_COVERED",
            status_code=422,
        )
    require_identity(row)
    return row


@dataclass(frozen=True)
class Identity:
    certno: str
    psn_name: str
    gend: str
    brdy: date


def require_identity(row: Eligibility) -> Identity:
    """The person's identity on their coverage row, or a refusal to retry: the cover arrived before the
    identity (the restricted topic ``enrollment.identity`` is not ordered with ``enrollment.events``),
    normally for seconds."""
    if row.certno is None or row.psn_name is None or row.gend is None or row.brdy is None:
        raise DomainError(
            f"人员 {row.psn_no} 的身份信息尚未同步到结算服务，请稍后重试",
            code="E_IDENTITY_PENDING",
            status_code=409,
        )
    return Identity(row.certno, row.psn_name, row.gend, row.brdy)


async def list_for_person(session: AsyncSession, psn_no: str) -> list[Eligibility]:
    rows = list(await session.scalars(select(Eligibility).where(Eligibility.psn_no == psn_no)))
    if not rows:
        raise NotFound(f"无该人员的参保信息: {psn_no}", code="NOT_COVERED")
    return rows


TOTAL_COLUMNS = (
    "outpatient_deductible_fen",
    "outpatient_paid_fen",
    "pooled_paid_fen",
    "chronic_cost_fen",
    "chronic_paid_fen",
    "catastrophic_burden_fen",
    "catastrophic_paid_fen",
    "assistance_base_fen",
    "assistance_paid_fen",
    "admissions",
)
ZERO_TOTALS = {**dict.fromkeys(TOTAL_COLUMNS, 0), "settlement_count": 0}


@dataclass
class Totals:
    """A person's year-to-date totals for one year and scheme (a ``year_accumulators`` row). What
    ``lock_accumulator`` returns stays locked until commit; a change is written by ``save_accumulator``."""

    psn_no: str
    year: int
    insutype: str
    row_id: int | None = None  # None: no row yet (``peek_accumulator`` of a person's first care)
    outpatient_deductible_fen: int = 0
    outpatient_paid_fen: int = 0
    pooled_paid_fen: int = 0
    chronic_cost_fen: int = 0
    chronic_paid_fen: int = 0
    catastrophic_burden_fen: int = 0
    catastrophic_paid_fen: int = 0
    assistance_base_fen: int = 0
    assistance_paid_fen: int = 0
    admissions: int = 0
    settlement_count: int = 0

    def move(self, delta: Mapping[str, int], sign: int) -> None:
        """Add (``sign`` +1) or take back (-1) what one settlement or claim added to the totals."""
        for name in TOTAL_COLUMNS:
            setattr(self, name, getattr(self, name) + sign * int(delta[name]))


_ACCUMULATORS = YearAccumulator.__table__  # type: ignore[attr-defined]
_ONE_ACCUMULATOR = sa_select(_ACCUMULATORS).where(
    _ACCUMULATORS.c.psn_no == bindparam("psn_no"),
    _ACCUMULATORS.c.year == bindparam("year"),
    _ACCUMULATORS.c.insutype == bindparam("insutype"),
)
_LOCK_ACCUMULATOR = _ONE_ACCUMULATOR.with_for_update()
_FIRST_ACCUMULATOR = per_dialect(
    lambda insert: (
        insert(_ACCUMULATORS)
        .values(
            psn_no=bindparam("psn_no"),
            year=bindparam("year"),
            insutype=bindparam("insutype"),
            updated_at=bindparam("now"),
            **{name: 0 for name in ZERO_TOTALS},
        )
        .on_conflict_do_nothing(index_elements=["psn_no", "year", "insutype"])
        .returning(*_ACCUMULATORS.c)
    )
)
#: The UPDATE of ``save_accumulator`` (its parameters: ``save_parameters``).
SAVE_ACCUMULATOR = (
    update(_ACCUMULATORS)
    .where(_ACCUMULATORS.c.id == bindparam("row_id"))
    .values({name: bindparam(f"new_{name}") for name in (*ZERO_TOTALS, "updated_at")})
)


def _totals(row: Any, *, prefix: str = "") -> Totals:
    """The totals of an accumulator row (its columns named ``{prefix}{column}``)."""
    names = ("psn_no", "year", "insutype", "settlement_count", *TOTAL_COLUMNS)
    return Totals(
        row_id=getattr(row, f"{prefix}id"), **{name: getattr(row, f"{prefix}{name}") for name in names}
    )


_ELIGIBILITY = table_of(Eligibility)
_CARDS = table_of(Card)


def _coverage_rows(locked: CTE, *where: ColumnElement[bool], first: CTE | None = None) -> Select[Any]:
    """The person's coverage rows of the year, each beside the accumulator ``locked`` reads (NULLs: no
    accumulator yet) or, with ``first``, the one ``first`` inserted, and the card a card swipe names
    (NULLs: none named, or no such card)."""
    accumulator = [
        (column if first is None else func.coalesce(column, first.c[column.name])).label(f"acc_{column.name}")
        for column in locked.c
    ]
    rows = (
        sa_select(
            *_ELIGIBILITY.c, *accumulator, *(column.label(f"card_{column.name}") for column in _CARDS.c)
        )
        .select_from(_ELIGIBILITY)
        .outerjoin(locked, true())
    )
    if first is not None:
        rows = rows.outerjoin(first, true())
    return rows.outerjoin(_CARDS, _CARDS.c.card_no == bindparam("card_no")).where(
        _ELIGIBILITY.c.psn_no == bindparam("psn_no"), _ELIGIBILITY.c.year == bindparam("year"), *where
    )


#: The reads a settlement starts with, in one round trip: the coverage rows with the accumulator of the
#: claim's scheme locked beside them, and the card. A Core statement on ``run`` (asyncpg directly on
#: PostgreSQL): through the ORM its execution and the loading of the rows cost more CPU than the read.
_COVERAGE_AND_LOCK = _coverage_rows(_LOCK_ACCUMULATOR.cte("locked_accumulator"))


def _first_accumulator(claimed: ColumnElement[bool]) -> CTE:
    """PostgreSQL: the person's first accumulator of the year under the scheme, inserted (zero totals)
    when the claim was made, the person is covered under that scheme that year and no accumulator is
    there (in the statement's snapshot; one committed since is left alone, ``ON CONFLICT DO NOTHING``,
    and ``lock_accumulator`` locks it after)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    key = (
        _ACCUMULATORS.c.psn_no == bindparam("psn_no"),
        _ACCUMULATORS.c.year == bindparam("year"),
        _ACCUMULATORS.c.insutype == bindparam("insutype"),
    )
    covered = (
        sa_select(_ELIGIBILITY.c.id)
        .where(
            _ELIGIBILITY.c.psn_no == bindparam("psn_no"),
            _ELIGIBILITY.c.year == bindparam("year"),
            _ELIGIBILITY.c.insutype == bindparam("insutype"),
        )
        .exists()
    )
    names = ("psn_no", "year", "insutype", "updated_at", *ZERO_TOTALS)
    values = sa_select(
        bindparam("psn_no", type_=_ACCUMULATORS.c.psn_no.type),
        bindparam("year", type_=_ACCUMULATORS.c.year.type),
        bindparam("insutype", type_=_ACCUMULATORS.c.insutype.type),
        bindparam("now", type_=_ACCUMULATORS.c.updated_at.type),
        *(literal_column("0") for _ in ZERO_TOTALS),
    ).where(claimed, covered, ~sa_select(_ACCUMULATORS.c.id).where(*key).exists())
    return (
        pg_insert(_ACCUMULATORS)
        .from_select(names, values)
        .on_conflict_do_nothing(index_elements=["psn_no", "year", "insutype"])
        .returning(*_ACCUMULATORS.c)
        .cte("first_accumulator")
    )


def after_claim(claim: CTE, *, first: bool = False) -> Select[Any]:
    """``claim`` (a msgid claim, ``INSERT … ON CONFLICT DO NOTHING RETURNING msgid, reference_version``)
    with, when it claimed, the reads of ``coverage_and_lock`` in the same statement: one round trip less
    per settlement (issue 29). Always at least one row; its last two columns are the claim's
    (``claimed_msgid`` NULL: the msgid was claimed before), the others those of ``_COVERAGE_AND_LOCK``
    (NULL in a single row: no coverage that year). ``first``: a person covered under the scheme with no
    accumulator yet gets it inserted by the statement too (``lock_accumulator``'s first settlement of the
    year, one more round trip less); only for a scheme the claim is settled under whenever the person is
    covered under it (``schemes.UNIFIED``), so that no accumulator is made for a scheme not settled under.

    The accumulator is locked only once the claim has its answer (``EXISTS`` over the claim), as when the
    claim was a statement of its own: a repeat that waits for its first attempt's claim holds no lock the
    first attempt needs, and a repeat locks nothing."""
    claimed = sa_select(claim.c.msgid).exists()
    locked = _ONE_ACCUMULATOR.where(claimed).with_for_update(of=_ACCUMULATORS).cte("locked_accumulator")
    inserted = _first_accumulator(claimed) if first else None
    coverage = _coverage_rows(locked, claimed, first=inserted).subquery("coverage")
    head = sa_select(
        sa_select(claim.c.msgid).scalar_subquery().label("claimed_msgid"),
        sa_select(claim.c.reference_version).scalar_subquery().label("reference_version"),
    ).subquery("claim_answer")
    return (
        sa_select(*coverage.c, head.c.claimed_msgid, head.c.reference_version)
        .select_from(head)
        .outerjoin(coverage, true())
    )


_ELIGIBILITY_COLUMNS = tuple(column.name for column in _ELIGIBILITY.c)
_CARD_COLUMNS = tuple(column.name for column in _CARDS.c)
#: ``session.info`` key: the cards this transaction has read beside the coverage rows, by card number
#: (None: no such card), which ``find_card`` answers from.
_CARDS_READ = "settlement.eligibility.cards_read"
#: ``session.info`` key: the rows ``after_claim`` read for ``coverage_and_lock``, with their key.
_READ_WITH_CLAIM = "settlement.eligibility.read_with_claim"


@dataclass(frozen=True)
class CoverageKey:
    """What ``coverage_and_lock`` reads: a person's coverage rows of a year, the accumulator of a scheme,
    and the card swiped (None: not a card swipe)."""

    psn_no: str
    year: int
    insutype: str
    card_no: str | None

    def parameters(self) -> dict[str, Any]:
        return {"psn_no": self.psn_no, "year": self.year, "insutype": self.insutype, "card_no": self.card_no}


def read_with_claim(session: AsyncSession, key: CoverageKey, rows: Sequence[Any]) -> None:
    """Keep the rows ``after_claim`` read under ``key`` for this transaction's ``coverage_and_lock``."""
    session.info[_READ_WITH_CLAIM] = (key, [] if rows[0].psn_no is None else rows)


def forget_reads(session: AsyncSession) -> None:
    """Drop what this module keeps in ``session.info`` for the transaction (the rows read with a claim,
    the cards read): at a new claim, and after a rollback to a savepoint (group commit), where a row lock
    taken since the savepoint is released and a read kept from then must not stand for a locked one."""
    session.info.pop(_READ_WITH_CLAIM, None)
    session.info.pop(_CARDS_READ, None)


async def coverage_and_lock(
    session: AsyncSession, psn_no: str, year: int, insutype: str, *, card_no: str | None = None
) -> tuple[dict[str, Eligibility], Totals | None]:
    """The person's coverage rows of ``year`` by scheme (``schemes.year_coverage``) and the accumulator of
    ``insutype`` locked as ``lock_accumulator`` locks it, read together; None: the person has no coverage
    that year or no accumulator under ``insutype`` yet (``lock_accumulator(..., absent=True)`` then).
    ``card_no``: the card swiped (mdtrt_cert_type 03), read in the same statement and kept for the
    transaction's ``find_card``. Read already when the msgid's claim read them (``after_claim``).

    The rows are records built from the statement's columns (``shared.db.transient``), not objects of the
    session: nothing on the settlement path changes them. What the session holds unflushed is flushed first,
    as the ORM's autoflush did."""
    key = CoverageKey(psn_no, year, insutype, card_no)
    read = session.info.pop(_READ_WITH_CLAIM, None)
    if read is not None and read[0] == key:
        rows = read[1]
    else:
        if session.new or session.dirty or session.deleted:
            await session.flush()
        rows = (await run(session, _COVERAGE_AND_LOCK, key.parameters())).all()
    coverage = {
        row.insutype: transient(Eligibility, **dict(zip(_ELIGIBILITY_COLUMNS, row, strict=False)))
        for row in rows
    }
    if card_no is not None and rows:
        first = rows[0]
        card = None
        if first.card_id is not None:
            card = transient(Card, **{name: getattr(first, f"card_{name}") for name in _CARD_COLUMNS})
        session.info.setdefault(_CARDS_READ, {})[card_no] = card
    if not rows or rows[0].acc_id is None:
        return coverage, None
    return coverage, _totals(rows[0], prefix="acc_")


async def lock_accumulator(
    session: AsyncSession, psn_no: str, year: int, insutype: str, *, absent: bool = False
) -> Totals:
    """Get the person's accumulator row for the year, created if missing, locked until commit;
    ``absent``: this transaction has just seen there is none (``coverage_and_lock``).

    This row lock is the one per-person serialisation point (docs/architecture.md, "Flows"): two counters
    settling for the same person at once cannot both spend the same deductible, cap or ceiling."""
    key = {"psn_no": psn_no, "year": year, "insutype": insutype}
    row = None if absent else (await run(session, _LOCK_ACCUMULATOR, key)).first()
    if row is None:  # the person's first settlement of the year under this scheme
        # Inserted and read back in one statement: a row this transaction inserted is as good as locked
        # (a concurrent first settlement waits on the unique key until this one commits or rolls back).
        first = _FIRST_ACCUMULATOR[dialect_name(session)]
        row = (await run(session, first, {**key, "now": utcnow()})).first()
        if row is None:  # a concurrent first settlement inserted it and has committed: lock that row
            row = (await run(session, _LOCK_ACCUMULATOR, key)).first()
    assert row is not None
    return _totals(row)


async def save_accumulator(session: AsyncSession, totals: Totals) -> None:
    """Write the locked totals back (one UPDATE)."""
    await run(session, SAVE_ACCUMULATOR, save_parameters(totals))


def save_parameters(totals: Totals) -> dict[str, Any]:
    """The parameters of ``SAVE_ACCUMULATOR`` for the locked totals (``row_id``, ``new_…``)."""
    assert totals.row_id is not None, "only a locked accumulator is saved"
    values = {f"new_{name}": getattr(totals, name) for name in ZERO_TOTALS}
    return {"row_id": totals.row_id, **values, "new_updated_at": utcnow()}


async def peek_accumulator(session: AsyncSession, psn_no: str, year: int, insutype: str) -> Totals:
    """The totals as they stand, without locking (pre-settlement answers change nothing)."""
    row = (
        await run(session, _ONE_ACCUMULATOR, {"psn_no": psn_no, "year": year, "insutype": insutype})
    ).first()
    return _totals(row) if row is not None else Totals(psn_no=psn_no, year=year, insutype=insutype)


def identities_on(person: Eligibility, day: date) -> list[str]:
    """Identity categories (特困, 低保…) valid on the day of care."""
    valid = []
    for identity in person.identities:
        begin = date.fromisoformat(identity["begin_date"])
        end = date.fromisoformat(identity["end_date"]) if identity.get("end_date") else None
        if begin <= day and (end is None or day <= end):
            valid.append(str(identity["psn_idet_type"]))
    return valid
