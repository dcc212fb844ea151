"""``shared.db.OneRoundTrip``: several writes as one PostgreSQL statement. A child row may reference a
parent inserted in the same statement, any number of rows (none included) goes through one text, values
keep their types (exact decimals, NULLs, aware instants), and a refused write keeps none of the others."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from shared.db import AwareDateTime, Database, ExactDecimal, OneRoundTrip, run
from tests.conftest import DatabaseFactory

metadata = MetaData()
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_no", String(10), nullable=False, unique=True),
    Column("placed_at", AwareDateTime(), nullable=False),
)
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_no", String(10), ForeignKey("orders.order_no"), nullable=False),
    Column("sku", String(10), nullable=False),
    Column("qty", ExactDecimal(16, 4), nullable=False),
    Column("cap", ExactDecimal(16, 6), nullable=True),
)
counters = Table("counters", metadata, Column("id", Integer, primary_key=True), Column("n", Integer))

WRITE = OneRoundTrip(
    {"o": (orders, ("order_no", "placed_at"), False), "i": (items, ("order_no", "sku", "qty", "cap"), True)},
    {"c": update(counters).where(counters.c.id == 1).values(n=counters.c.n + bindparam("c_by"))},
)


@pytest.fixture
async def db(databases: DatabaseFactory, backend: str) -> AsyncIterator[Database]:
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no data-modifying CTEs (callers write one by one there)")
    database = Database(databases.new_url("oneround"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(counters.insert().values(id=1, n=0))
    yield database
    await database.dispose()


async def _write(db: Database, order_no: str, lines: list[dict[str, object]], by: int) -> None:
    at = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    async with db.transaction() as session:
        params = WRITE.parameters({"o": {"order_no": order_no, "placed_at": at}, "i": lines}, c_by=by)
        await run(session, WRITE.statement, params)


async def test_parent_children_and_update_are_written_by_one_statement(db: Database) -> None:
    lines = [
        {"order_no": "A1", "sku": "x", "qty": Decimal("2.5"), "cap": None},
        {"order_no": "A1", "sku": "y", "qty": Decimal("0.0001"), "cap": Decimal("12.345678")},
        {"order_no": "A1", "sku": "z", "qty": Decimal("3"), "cap": Decimal("1")},
    ]
    await _write(db, "A1", lines, 3)
    await _write(db, "B2", [], 5)  # no child rows: the same statement inserts none
    async with db.session() as session:
        kept = (
            await session.execute(select(items.c.sku, items.c.qty, items.c.cap).order_by(items.c.id))
        ).all()
        placed = (await session.execute(select(orders.c.order_no, orders.c.placed_at).order_by("id"))).all()
        n = await session.scalar(select(counters.c.n))
    assert [tuple(r) for r in kept] == [
        ("x", Decimal("2.5000"), None),
        ("y", Decimal("0.0001"), Decimal("12.345678")),
        ("z", Decimal("3.0000"), Decimal("1.000000")),
    ]
    assert [r.order_no for r in placed] == ["A1", "B2"]
    assert placed[0].placed_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert n == 3 + 5


async def test_a_refused_part_keeps_none_of_the_statement(db: Database) -> None:
    await _write(db, "A1", [{"order_no": "A1", "sku": "x", "qty": Decimal(1), "cap": None}], 1)
    with pytest.raises(
        IntegrityError
    ):  # the order number is taken: its items and the counter stay as they were
        await _write(db, "A1", [{"order_no": "A1", "sku": "y", "qty": Decimal(1), "cap": None}], 10)
    with pytest.raises(IntegrityError):  # an item of an order that is not in the statement nor the table
        await _write(db, "C3", [{"order_no": "ZZ", "sku": "y", "qty": Decimal(1), "cap": None}], 10)
    async with db.session() as session:
        skus = (await session.scalars(select(items.c.sku))).all()
        order_nos = (await session.scalars(select(orders.c.order_no))).all()
        n = await session.scalar(select(counters.c.n))
    assert (skus, order_nos, n) == (["x"], ["A1"], 1)


#: The orders already placed with a sku: read by the writing statement, which does not see its own writes.
EARLIER = WRITE.then(
    select(orders.c.order_no, counters.c.n)
    .join(items, items.c.order_no == orders.c.order_no)
    .join(counters, counters.c.id == 1)
    .where(items.c.sku == bindparam("read_sku"))
    .order_by(orders.c.order_no)
)


async def test_a_read_after_the_writes_sees_the_database_as_it_was_before_them(db: Database) -> None:
    await _write(db, "A1", [{"order_no": "A1", "sku": "x", "qty": Decimal(1), "cap": None}], 2)
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    lines = [{"order_no": "B2", "sku": "x", "qty": Decimal(1), "cap": None}]
    async with db.transaction() as session:
        params = WRITE.parameters({"o": {"order_no": "B2", "placed_at": at}, "i": lines}, c_by=3)
        seen = (await run(session, EARLIER, {**params, "read_sku": "x"})).all()
    # A1 and the counter as they stood: neither B2 nor its +3 is visible to the statement writing them ...
    assert [tuple(r) for r in seen] == [("A1", 2)]
    async with db.session() as session:  # ... and both are kept
        kept = (await session.scalars(select(orders.c.order_no).order_by(orders.c.order_no))).all()
        n = await session.scalar(select(counters.c.n))
    assert (kept, n) == (["A1", "B2"], 5)


async def test_the_rows_keep_every_digit_and_character(db: Database) -> None:
    """The rows travel as one JSON text: a decimal at the column's full precision, and a text with the
    characters JSON escapes (quotes, backslash, a line break, a tab) or that are not ASCII, come back as
    written; a key missing from the object is not how a NULL is sent here (every column is named)."""
    cap = Decimal("9999999999.999999")  # NUMERIC(16, 6) at its widest: a float would not keep it
    sku = 'a"\\\n\t—'
    lines = [
        {"order_no": "A1", "sku": sku, "qty": Decimal("123456789012.3456"), "cap": cap},
        {"order_no": "A1", "sku": "中", "qty": Decimal("-0.0001"), "cap": None},
    ]
    await _write(db, "A1", lines, 1)
    async with db.session() as session:
        kept = (
            await session.execute(select(items.c.sku, items.c.qty, items.c.cap).order_by(items.c.id))
        ).all()
    assert [tuple(r) for r in kept] == [
        (sku, Decimal("123456789012.3456"), cap),
        ("中", Decimal("-0.0001"), None),
    ]
    parameters = WRITE.parameters(
        {"o": {"order_no": "B2", "placed_at": datetime.now(UTC)}, "i": lines}, c_by=0
    )
    assert set(parameters) == {"o_order_no", "o_placed_at", "i_rows", "c_by"}  # the rows as ONE parameter


def test_a_multi_row_insert_takes_no_instant_and_no_name_to_quote() -> None:
    """An instant in a JSON text without an offset would be read in the session's time zone; a name that
    is not a plain lower-case identifier would have to be quoted in the statement's text: both refused when
    the statement is built (at import), not when it runs."""
    with pytest.raises(TypeError, match=r"orders\.placed_at"):
        OneRoundTrip({"o": (orders, ("order_no", "placed_at"), True)})
    plain = Table("stamped", MetaData(), Column("id", Integer, primary_key=True), Column("at", DateTime()))
    with pytest.raises(TypeError, match=r"stamped\.at"):
        OneRoundTrip({"s": (plain, ("at",), True)})
    shouting = Table("Items", MetaData(), Column("id", Integer, primary_key=True), Column("sku", String(10)))
    with pytest.raises(ValueError, match="Items"):
        OneRoundTrip({"i": (shouting, ("sku",), True)})
    OneRoundTrip({"o": (orders, ("order_no", "placed_at"), False)})  # one row: bound by type, instants too


def test_a_row_is_sent_with_exactly_its_columns() -> None:
    """A row of exactly the insert's columns (in any order) goes as it is; a row with more keys is cut to
    the columns (nothing else reaches the statement); a row missing a column is refused, never sent as a
    NULL; a mapping that is not a dict is read column by column."""

    def sent(row: Any) -> list[dict[str, Any]]:
        parameters = WRITE.parameters(
            {"o": {"order_no": "C3", "placed_at": datetime.now(UTC)}, "i": [row]}, c_by=0
        )
        decoded: list[dict[str, Any]] = json.loads(parameters["i_rows"])
        return decoded

    exact = {"cap": None, "qty": Decimal("1.5"), "sku": "x", "order_no": "C3"}
    assert sent(exact) == [{"cap": None, "qty": 1.5, "sku": "x", "order_no": "C3"}]
    assert sent({**exact, "note": "not a column"}) == [
        {"order_no": "C3", "sku": "x", "qty": 1.5, "cap": None}
    ]
    assert sent(MappingProxyType(exact)) == [{"order_no": "C3", "sku": "x", "qty": 1.5, "cap": None}]
    with pytest.raises(KeyError, match="cap"):
        sent({"order_no": "C3", "sku": "x", "qty": Decimal(1)})
