"""Database access shared by the services: one async engine per service database.

The embedded default is a SQLite file through aiosqlite; production is PostgreSQL through asyncpg. On
SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that a read-then-write transaction (lock the
accumulator, then update it) takes the write lock up front instead of failing with "database is locked"
half-way; SQLite then serialises writers, as PostgreSQL's row locks do per person.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from copy import deepcopy
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import cache, partial
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar

import msgspec
from pydantic_core import PydanticUndefined
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Numeric,
    String,
    Table,
    bindparam,
    event,
    insert,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.engine import CursorResult, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import instrumentation
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlalchemy.util.concurrency import await_

from shared import direct

T = TypeVar("T")

#: BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` with the backend's ``ON CONFLICT`` clauses (PostgreSQL and SQLite spell them alike)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert(table) if dialect_name(session) == "postgresql" else sqlite.insert(table)


def dialect_name(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def per_dialect(build: Callable[[Callable[[Any], Any]], Executable]) -> dict[str, Executable]:
    """A prebuilt statement with ``ON CONFLICT`` clauses for each backend: ``build(insert)`` is called with
    PostgreSQL's and SQLite's ``insert``; pick the one for a session with ``[dialect_name(session)]``."""
    from sqlalchemy.dialects import postgresql, sqlite

    return {"postgresql": build(postgresql.insert), "sqlite": build(sqlite.insert)}


def table_of(model: type[Any]) -> Table:
    """The table of an ORM model, typed (SQLModel's classes do not declare ``__table__`` to mypy)."""
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table


def transient(model: type[T], **values: Any) -> T:
    """A new (transient) instance of an ORM table model, as ``model(**values)`` builds it (a field not
    given takes its default or its default factory's value) without SQLModel's path through
    ``__setattr__``, which runs pydantic's and SQLAlchemy's instrumentation for every field: ≈ 270 µs for
    a settlement's 40 columns against ≈ 25 µs here (issue 29). The values go into the instance's
    ``__dict__``, where SQLAlchemy keeps a transient object's values and reads them from on a flush; like
    a table model's own constructor, nothing is validated."""
    instance: T = instrumentation.manager_of_class(model).new_instance()
    state = instance.__dict__
    for name, default, factory in _defaults(model):  # type: ignore[arg-type]  # a class is hashable
        if name in values:
            state[name] = values[name]
        elif factory is not None:
            state[name] = factory()
        else:
            state[name] = default
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


@cache
def _defaults(model: Any) -> tuple[tuple[str, Any, Callable[[], Any] | None], ...]:
    """Per field of a table model, in order: its name, its default and its default factory (None: none),
    read once: pydantic's ``FieldInfo.get_default`` inspects the factory's signature on every call (1.5 %
    of settlement's CPU per card swipe, issue 29). A mutable default is copied for each instance, as
    pydantic does, through a factory. A factory that takes the validated data, which a table model's
    constructor cannot give either, is refused here."""
    plan = []
    for name, field in model.model_fields.items():
        factory, default = field.default_factory, field.default
        if factory is not None and field.default_factory_takes_validated_data:
            raise TypeError(f"{model.__name__}.{name}: a default factory of the validated data")
        if factory is None and not isinstance(default, _IMMUTABLE):
            factory = partial(deepcopy, default)
        plan.append((name, default, factory))
    return tuple(plan)


#: Defaults shared by every instance as they are (pydantic's ``smart_deepcopy`` does not copy them either).
_IMMUTABLE = (
    type(None),
    type(PydanticUndefined),
    str,
    bytes,
    int,
    float,
    bool,
    Decimal,
    datetime,
    date,
    time,
    Enum,
    frozenset,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        for pooling in ("pool_size", "max_overflow"):  # the PostgreSQL pool's settings
            kwargs.pop(pooling, None)
        # One connection per process: every transaction takes SQLite's write lock (BEGIN IMMEDIATE), so
        # two connections could never work at once anyway, and a connection that waits for the lock polls
        # with growing sleeps (the busy handler), not in turn: at 16 counters some card swipes waited out
        # the gateway's 5 s timeout while others went ahead. The pool's queue serves them in order.
        if make_url(url).database not in (None, "", ":memory:"):  # a memory database has one already
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_timeout", 60)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let us issue BEGIN ourselves (below); pysqlite's implicit transactions are off.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # A failed statement's error names its SQL, not its values (persons' identities, amounts): errors are
    # logged, and ``shared.direct`` raises them through the same handler.
    kwargs.setdefault("hide_parameters", True)
    ping = kwargs.pop("pool_pre_ping", True)
    ping_after_idle = kwargs.pop("ping_after_idle", PING_AFTER_IDLE_S)
    engine = create_async_engine(url, **kwargs)
    if ping:
        event.listen(engine.sync_engine, "checkin", _note_idle_since)
        event.listen(engine.sync_engine, "checkout", _pinging_after(ping_after_idle))
    return engine


#: A pooled connection that has been idle this long is checked before the pool hands it out; one used
#: more recently is not (``_pinging_after``).
PING_AFTER_IDLE_S = 1.0


def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = monotonic()


def _pinging_after(idle_s: float) -> Callable[[Any, Any, Any], None]:
    """Pessimistic disconnect handling (a server restarted or failed over, an idle-session timeout, since
    the connection was pooled) in one round trip: ``;`` on the raw asyncpg connection, for a connection
    that has been idle ``idle_s`` or more. SQLAlchemy's ``pool_pre_ping`` wraps the same probe in BEGIN and
    ROLLBACK for pgbouncer's transaction mode, three round trips per checkout; this platform connects to
    PostgreSQL directly. A dead connection is replaced by the pool, which retries the checkout on a new one.

    Under load a connection comes back to the pool many times a second, and the ping was one round trip
    of ≈ 11 per card swipe in the settlement service (bench/results/performance-log.md, stop 17); a
    connection used less than ``idle_s`` ago is trusted. If the server dropped it in that moment its first
    statement fails (that one transaction, as a transaction running at the moment of a restart fails), and
    SQLAlchemy then invalidates the pool: every connection from before is replaced at its next checkout. A
    fresh connection (nothing noted yet) is not pinged."""

    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or monotonic() - idle_since < idle_s:
            return
        try:
            await_(dbapi_connection._connection.fetchrow(";"))
        except Exception as exc:
            raise DisconnectionError("the pooled connection is gone") from exc

    return ping


async def run(
    session: AsyncSession,
    statement: Executable,
    parameters: Mapping[str, Any] | list[dict[str, Any]] | None = None,
) -> CursorResult[Any]:
    """Execute a Core statement built once (module level, ``bindparam`` for what varies) on the session's
    connection, inside its transaction. On the settlement path: a statement written inline is built and
    hashed for SQLAlchemy's compiled cache on every call, and the ORM adds its own layer (about twice the
    CPU of this way: bench/statement_overhead.py). No autoflush: ORM changes pending in the session are
    not seen by the statement (flush first where that matters). On PostgreSQL the statement goes to
    asyncpg directly, in the same transaction (``shared.direct``: SQLAlchemy's execution layer was about a
    quarter of the settlement's CPU per card swipe, docs/performance.md)."""
    conn = await _connection(session)
    if isinstance(parameters, list) or not direct.is_direct(conn):
        return await conn.execute(statement, parameters)
    # On PostgreSQL straight to asyncpg, in the same transaction (shared/direct.py).
    result = await direct.execute(conn, statement, parameters)
    if result is None:
        return await conn.execute(statement, parameters)
    return result  # type: ignore[return-value]  # read as a CursorResult is read on these paths


#: ``session.info`` key: the transaction ``run`` last ran in and its connection.
_CONNECTION = "shared.db.run.connection"


async def _connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection in its transaction. ``session.connection()`` crosses into SQLAlchemy's
    greenlet on every call (≈ 90 µs of CPU under load on this machine, for each statement of a
    settlement); the connection a transaction holds does not change while it lasts, so it is asked once per
    transaction (savepoints run on the same connection) and kept beside the transaction it belongs to."""
    transaction = session.sync_session.get_transaction()
    if transaction is not None:
        kept = session.info.get(_CONNECTION)
        if kept is not None and kept[0] is transaction and not kept[1].invalidated:
            connection: AsyncConnection = kept[1]
            return connection
    connection = await session.connection()
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), connection)
    return connection


#: A multi-row insert's rows as JSON: decimals as numbers written digit for digit (never through a float).
_ROWS_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _json_rows(table: Table, columns: Sequence[str], parameter: str) -> Any:
    """``SELECT columns FROM json_populate_recordset(NULL::table, :parameter)``: the rows of a JSON array of
    objects keyed by column name, typed as the table's columns (a missing key is NULL). Instants are left
    out: a JSON text without an offset would be read in the session's time zone, not as UTC."""
    for name in columns:
        if isinstance(table.c[name].type, DateTime) or isinstance(
            getattr(table.c[name].type, "impl", None), DateTime
        ):
            raise TypeError(f"{table.name}.{name}: an instant in a multi-row insert of OneRoundTrip")
    if not all(name.isidentifier() and name == name.lower() for name in (table.name, *columns)):
        raise ValueError(f"{table.name}: plain lower-case names only in a statement's text")
    listed = ", ".join(columns)
    source = f"SELECT {listed} FROM json_populate_recordset(NULL::{table.name}, CAST(:{parameter} AS json))"
    return text(source).columns(*(table.c[name] for name in columns))


class OneRoundTrip:
    """Several writes of one transaction as ONE statement on PostgreSQL: each write a data-modifying CTE
    (PostgreSQL runs every one of them exactly once, referenced or not, and checks foreign keys at the end
    of the statement, so a child row may reference a parent inserted beside it), and the rows of a
    multi-row insert passed as ONE parameter, a JSON array of objects read by ``json_populate_recordset``
    as rows of the table, so the statement's text is the same whatever the number of rows. (One array per
    column through ``unnest`` did the same; asyncpg's encoding of 23 arrays of a stay's 100 lines cost
    ≈ 1.7 ms of client CPU, the JSON text ≈ 0.1 ms, with exact decimals either way: a JSON number is read
    into ``numeric`` digit for digit.) Under load a round trip costs the client ≈ 150-300 µs of CPU in asyncpg
    and SQLAlchemy and the server ≈ 50-100 µs on this machine, more than most statements themselves
    (bench/results/performance-log.md). Built once at import.

    Only for writes that do not read each other's rows (all of them see the snapshot taken before the
    statement), and only on PostgreSQL: SQLite has no data-modifying CTEs, and callers keep the separate
    statements there."""

    def __init__(
        self,
        inserts: Mapping[str, tuple[Any, Sequence[str], bool]],
        updates: Mapping[str, Any] | None = None,
    ) -> None:
        """``inserts``: prefix -> (table, columns, many): one row of ``columns`` (``many=False``) or any
        number of rows (``many=True``), its values bound as ``{prefix}_{column}``. ``updates``: prefix ->
        a prebuilt UPDATE whose bind parameters the caller named (and kept apart from the others)."""
        self._inserts = {prefix: (tuple(columns), many) for prefix, (_, columns, many) in inserts.items()}
        self._column_sets = {prefix: frozenset(columns) for prefix, (_, columns, _) in inserts.items()}
        ctes = []
        for prefix, (table, columns, many) in inserts.items():
            write: Any
            if many:
                write = insert(table).from_select(list(columns), _json_rows(table, columns, f"{prefix}_rows"))
            else:
                write = insert(table).values(
                    {name: bindparam(f"{prefix}_{name}", type_=table.c[name].type) for name in columns}
                )
            ctes.append(write.cte(f"write_{prefix}"))
        ctes += [statement.cte(f"write_{prefix}") for prefix, statement in (updates or {}).items()]
        self._ctes = ctes
        self.statement: Executable = select(literal(1)).add_cte(*ctes)

    def then(self, read: Any) -> Executable:
        """The writes followed by ``read`` (a SELECT, or a UNION of them), whose rows the statement returns.
        ``read`` sees the database as it was before the statement: none of these writes. Build it once.
        Name ``read``'s bind parameters unlike any column of a table written here: SQLAlchemy takes a
        parameter named like a column of an INSERT's or UPDATE's table as a value to write there."""
        statement: Executable = read.add_cte(*self._ctes)
        return statement

    def parameters(
        self, inserted: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]], **updates: Any
    ) -> dict[str, Any]:
        """``inserted``: prefix -> the row (a mapping) or the rows (a sequence of mappings) of that insert;
        ``updates``: the UPDATEs' bind parameters as they are named there."""
        out: dict[str, Any] = dict(updates)
        for prefix, given in inserted.items():
            columns, many = self._inserts[prefix]
            if many:
                rows: Sequence[Mapping[str, Any]] = given  # type: ignore[assignment]
                # A row of exactly the columns is encoded as it is (JSON objects are read by name);
                # another is cut to them (a column missing from it is a KeyError, never a NULL).
                exact = self._column_sets[prefix]
                objects = [
                    row
                    if type(row) is dict and row.keys() == exact
                    else {name: row[name] for name in columns}
                    for row in rows
                ]
                out[f"{prefix}_rows"] = _ROWS_ENCODER.encode(objects).decode()
            else:
                row: Mapping[str, Any] = given  # type: ignore[assignment]
                out.update({f"{prefix}_{name}": row[name] for name in columns})
        return out


async def flush_unique(session: AsyncSession, conflict: Exception) -> None:
    """Flush pending inserts; a unique-constraint violation becomes ``conflict`` (a domain error).

    The database's constraint is the arbiter, so two concurrent creations of the same key cannot both win."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise conflict from exc


class Statements:
    """The connection of ``Database.statements()``. Its first statement, the first use of a connection
    taken from the pool unpinged, is run again once on a new connection when the old one turns out dead
    (SQLAlchemy has then invalidated the pool, so every other connection from before is replaced too)."""

    def __init__(self, conn: AsyncConnection, *, retry_stale: bool) -> None:
        self.conn = conn
        self._retry_stale = retry_stale

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        return await self._execute(statement, parameters, prebuilt=False)

    async def run(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        """``execute`` for a statement built once (module level, ``bindparam`` for what varies): on
        PostgreSQL straight to asyncpg as ``shared.db.run`` sends it (the gateway's statements of every
        envelope). Its rows are read by position, by attribute, ``first()``, ``all()`` and ``scalar()``."""
        return await self._execute(statement, parameters, prebuilt=True)

    async def _execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None, *, prebuilt: bool
    ) -> CursorResult[Any]:
        if not self._retry_stale:
            return await self._once(statement, parameters, prebuilt)
        self._retry_stale = False
        try:
            return await self._once(statement, parameters, prebuilt)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        await self.conn.rollback()  # leaves the invalidated connection; the next use reconnects
        return await self._once(statement, parameters, prebuilt)

    async def _once(
        self, statement: Executable, parameters: Mapping[str, Any] | None, prebuilt: bool
    ) -> CursorResult[Any]:
        if prebuilt and direct.is_direct(self.conn):
            result = await direct.execute(self.conn, statement, parameters)
            if result is not None:
                return result  # type: ignore[return-value]  # read as a CursorResult is read by callers
        return await self.conn.execute(statement, parameters)


class Database:
    """Engine plus session factory for one service database."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        self._engine_kwargs = engine_kwargs
        self._autocommit_engine: AsyncEngine | None = None
        self._is_sqlite = is_sqlite(url)

    @property
    def is_sqlite(self) -> bool:
        return self._is_sqlite

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[Statements]:
        """A connection for statements that each stand on their own: reads, and writes that need nothing
        else to be atomic with them. On PostgreSQL every statement commits by itself (a pool of its own in
        autocommit mode, so no BEGIN/COMMIT round trips) and the connection is not pinged when it leaves the
        pool (SQLAlchemy's pre-ping costs three round trips outside autocommit, one inside): a connection
        the server has dropped (a restart) fails its first statement, which is then run again once on a new
        connection (``Statements.execute``). On SQLite, whose ``BEGIN IMMEDIATE`` hook rules out
        autocommit, the statements share one transaction, committed at the end and rolled back on an
        exception. Callers must be right under both: at most one write per block unless each may stand
        alone, and a first statement that may run twice if the server went away while running it."""
        if self._is_sqlite:
            async with self.engine.begin() as conn:
                yield Statements(conn, retry_stale=False)
            return
        if self._autocommit_engine is None:
            options = {**self._engine_kwargs, "pool_pre_ping": False}
            options.setdefault("pool_recycle", 1800)
            self._autocommit_engine = create_engine(self.url, isolation_level="AUTOCOMMIT", **options)
        async with self._autocommit_engine.connect() as conn:
            yield Statements(conn, retry_stale=True)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._autocommit_engine is not None:
            await self._autocommit_engine.dispose()


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal column: NUMERIC(precision, scale) on PostgreSQL, canonical text on SQLite (whose
    NUMERIC affinity would round-trip through a binary float)."""

    impl = String(40)
    cache_ok = True

    def __init__(self, precision: int = 16, scale: int = 6) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def __repr__(self) -> str:
        return f"ExactDecimal(precision={self.precision}, scale={self.scale})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        if dialect.name == "postgresql":
            return dec
        return format(dec.normalize(), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class AwareDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on both backends: stored in UTC, read back with its zone.

    PostgreSQL keeps ``timestamptz`` in UTC already; SQLite has no zones, and without this a Beijing-time
    value would be stored as its wall-clock reading and read back eight hours off."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous here: give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        return result.replace(tzinfo=UTC) if result.tzinfo is None else result

    def __repr__(self) -> str:
        return "AwareDateTime()"


def timestamp_field() -> Any:
    """A timezone-aware ``created_at``-style column defaulting to now (a new Column for every table)."""
    from sqlalchemy import Column
    from sqlmodel import Field

    return Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
