"""Prebuilt Core statements run on asyncpg directly, inside the session's transaction (PostgreSQL only).

``shared.db.run`` sends a statement built once (module level, ``bindparam`` for what varies). Through
SQLAlchemy every execution still pays its execution layer: the compiled-cache key of the statement (for the
settlement's one-round-trip write, a tree of five CTEs), the parameters constructed and processed by name,
the execution context, the cursor adapter and the result's rows
(docs/performance.md, "Where a card swipe's CPU goes"). Here the statement is compiled once per dialect
into its SQL text (``$1`` … ``$n``), the order of its parameters, their defaults and the type processors
SQLAlchemy would apply; an execution then orders the values, applies those processors and hands them to
the asyncpg connection the session holds, in the transaction SQLAlchemy began on it (begun here first if
this is the transaction's first statement).

The outcome is the same as through SQLAlchemy: the same SQL, the same values, the same transaction; an
error is raised as SQLAlchemy would raise it (``sqlalchemy.exc.IntegrityError`` for a unique key, which
``settlement.idempotency.once`` retries on); ``before_cursor_execute`` listeners still see the statement
(the tests count statements that way). A statement this module cannot run the same way (expanding ``IN``
parameters, Python-side column defaults, an executemany) goes through SQLAlchemy as before."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from sqlalchemy import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import greenlet_spawn

_MISSING = object()


class DirectRow(tuple[Any, ...]):
    """A result row: by position (``row[0]``) or by column name as an attribute (``row.msgid``), as
    SQLAlchemy's ``Row`` is read on the paths that use this. Each statement has its own subclass
    (``row_class``) whose columns are properties reading the tuple at C speed: a ``__getattr__`` lookup
    cost ≈ 0.7 µs a read, and a stay's 100 lines are read some 2,000 times in a settlement."""

    __slots__ = ()
    #: Column name -> position (of the statement's subclass).
    _columns: Mapping[str, int] = {}

    def __repr__(self) -> str:
        return f"DirectRow({dict(zip(self._columns, self, strict=False))!r})"


def row_class(columns: Mapping[str, int]) -> type[DirectRow]:
    """The row class of a statement whose result columns are ``columns`` (name -> position). A column named
    like a tuple method (``count``, ``index``) is the column here, as on SQLAlchemy's ``Row``."""
    namespace: dict[str, Any] = {"__slots__": (), "_columns": dict(columns)}
    for name, position in columns.items():
        if not name.startswith("__"):
            namespace[name] = property(operator.itemgetter(position))
    return type("DirectRow", (DirectRow,), namespace)


class DirectResult:
    """The rows of one execution, read the ways ``CursorResult`` is read on these paths."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[DirectRow]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[DirectRow]:
        return iter(self._rows)

    def first(self) -> DirectRow | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[DirectRow]:
        return list(self._rows)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


class _Compiled:
    """A statement compiled once for asyncpg: its SQL, its parameters in order (the caller's key, the
    default, the bind processor) and the result columns (names, result processors)."""

    __slots__ = ("columns", "index", "params", "result_processors", "row", "sql")

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if (
            compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.post_compile_params
            or compiled.literal_execute_params
            or compiled.escaped_bind_names
            or "POSTCOMPILE" in compiled.string
            or compiled.positiontup is None
        ):
            raise _NotDirect
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        processors = compiled._bind_processors
        params: list[tuple[str, Any, Any]] = []
        for name in compiled.positiontup:
            bind = by_name[name]
            default = _MISSING if bind.required else bind.effective_value
            params.append((bind.key, default, _bind_processor(bind.type, dialect, processors.get(name))))
        self.sql: str = compiled.string
        self.params = params
        self.columns = compiled._result_columns
        self.index = {entry.keyname: position for position, entry in enumerate(self.columns)}
        self.row = row_class(self.index)
        #: Chosen at the first execution, from the types the server describes (``describe``).
        self.result_processors: list[tuple[int, Any]] | None = None

    async def describe(self, driver: Any, dialect: Dialect) -> list[tuple[int, Any]]:
        """The result processors SQLAlchemy would apply, by the column types PostgreSQL reports (asked
        once per statement and process, as SQLAlchemy's adapter asks when it prepares a statement)."""
        attributes = (await driver.prepare(self.sql)).get_attributes()
        chosen = [
            (position, entry.type._cached_result_processor(dialect, attributes[position].type.oid))
            for position, entry in enumerate(self.columns)
        ]
        self.result_processors = [(p, f) for p, f in chosen if f is not None]
        return self.result_processors

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any] | None:
        """The values in order, processed; None when a required one is missing (SQLAlchemy then raises its
        own error)."""
        out = []
        for key, default, processor in self.params:
            value = parameters.get(key, default)
            if value is _MISSING:
                return None
            out.append(processor(value) if processor is not None and value is not None else value)
        return out


class _NotDirect(Exception):
    pass


def _bind_processor(type_: Any, dialect: Dialect, processor: Any) -> Any:
    """SQLAlchemy's bind processor, left out for an array of values that need none (it only copies the
    list: the values on these paths are lists already)."""
    if processor is None:
        return None
    if isinstance(type_, ARRAY):
        item = type_.item_type.dialect_impl(dialect).bind_processor(dialect)
        if item is None:
            return list
    return processor


#: id(statement) -> (statement, compiled or None: runs through SQLAlchemy). Only statements built once are
#: given to ``shared.db.run``; the cap keeps a mistaken inline statement from growing this without end.
_CACHE: dict[int, tuple[Any, _Compiled | None]] = {}
_CACHE_CAP = 2000


def _compiled(statement: Any, dialect: Dialect) -> _Compiled | None:
    found = _CACHE.get(id(statement))
    if found is not None and found[0] is statement:
        return found[1]
    try:
        compiled: _Compiled | None = _Compiled(statement, dialect)
    except _NotDirect:
        compiled = None
    if len(_CACHE) < _CACHE_CAP:
        _CACHE[id(statement)] = (statement, compiled)
    return compiled


def is_direct(conn: AsyncConnection) -> bool:
    return conn.dialect.driver == "asyncpg"


async def execute(
    conn: AsyncConnection, statement: Any, parameters: Mapping[str, Any] | None
) -> DirectResult | None:
    """Run ``statement`` on the asyncpg connection under ``conn`` in its transaction; None when it is not
    one this module runs (the caller sends it through SQLAlchemy)."""
    compiled = _compiled(statement, conn.dialect)
    if compiled is None:
        return None
    arguments = compiled.arguments(parameters or {})
    if arguments is None:
        return None
    sync = conn.sync_connection
    assert sync is not None
    if sync.invalidated:  # getting a new connection is SQLAlchemy's (it connects in its greenlet)
        return None
    if sync._has_events or sync.engine._has_events:
        for listener in sync.dispatch.before_cursor_execute:
            listener(sync, None, compiled.sql, tuple(arguments), None, False)
    adapter: Any = sync.connection.dbapi_connection
    async with adapter._execute_mutex:
        try:
            if adapter._transaction is None:
                await adapter._start_transaction()
            processors = compiled.result_processors
            if processors is None:
                processors = await compiled.describe(adapter._connection, conn.dialect)
            records = await adapter._connection.fetch(compiled.sql, *arguments)
        except Exception as error:
            failed: Exception | None = error
        else:
            failed = None
    if failed is not None:
        await _raise_as_sqlalchemy(sync, adapter, compiled.sql, arguments, failed)
    row = compiled.row
    if not processors:
        return DirectResult([row(record) for record in records])
    rows = []
    for record in records:
        listed = list(record)
        for position, process in processors:
            listed[position] = process(listed[position])
        rows.append(row(listed))
    return DirectResult(rows)


async def _raise_as_sqlalchemy(
    sync: Any, adapter: Any, sql: str, arguments: list[Any], error: Exception
) -> NoReturn:
    """The driver's error as SQLAlchemy raises it, with what SQLAlchemy does about it: the adapter's DBAPI
    error (``IntegrityError``…) wrapped in the ``sqlalchemy.exc`` class of the same name, and for a lost
    connection (a server restarted, a backend terminated) the connection invalidated and the pool with it,
    so that every connection from before is replaced at its next checkout and the error says
    ``connection_invalidated`` (``Database.statements`` runs such a first statement again on a new
    connection). SQLAlchemy's own handler does it, in the greenlet its synchronous layer needs."""
    try:
        adapter._handle_exception(error)
    except Exception as translated:
        if not isinstance(translated, sync.dialect.loaded_dbapi.Error):
            raise
        await greenlet_spawn(sync._handle_dbapi_exception, translated, sql, tuple(arguments), None, None)
    raise error
