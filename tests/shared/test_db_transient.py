"""``shared.db.transient``: a table model's instance built without SQLModel's per-field ``__setattr__`` is the
instance its constructor builds (values, defaults and default factories, the fields set), and SQLAlchemy
takes it as its own: transient, and written and read back by a flush, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.messages.models import MessageLog
from sqlalchemy import inspect
from sqlmodel import select

from shared.db import Database, transient
from tests.conftest import DatabaseFactory

VALUES: dict[str, Any] = {
    "msgid": "H34152420261207000000000001",
    "infno": "2102",
    "fixmedins_code": "H341524",
    "request_sha256": "a" * 64,
    "infcode": 0,
    "response": '{"infcode":0}',
}


def test_it_is_what_the_constructor_builds() -> None:
    built = transient(MessageLog, **VALUES)
    constructed = MessageLog(**VALUES)
    assert inspect(built).transient
    assert built.__pydantic_fields_set__ == constructed.__pydantic_fields_set__ == set(VALUES)
    assert built.model_dump(exclude={"created_at"}) == constructed.model_dump(exclude={"created_at"})
    # The default factory ran (now, in UTC), as the constructor's did.
    assert isinstance(built.created_at, datetime) and built.created_at.tzinfo is UTC
    assert abs((built.created_at - constructed.created_at).total_seconds()) < 60
    given = transient(MessageLog, **VALUES, created_at=datetime(2026, 12, 7, tzinfo=UTC))
    assert given.created_at == datetime(2026, 12, 7, tzinfo=UTC)


async def test_a_flush_writes_it_and_it_reads_back(databases: DatabaseFactory) -> None:
    db = Database(databases.migrated("gateway"))
    try:
        at = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)
        async with db.transaction() as session:
            session.add(transient(MessageLog, **VALUES, created_at=at))
        async with db.session() as session:
            stored = await session.scalar(select(MessageLog).where(MessageLog.msgid == VALUES["msgid"]))
        assert stored is not None
        assert stored.model_dump() == {**VALUES, "created_at": at}
    finally:
        await db.dispose()


def test_every_table_model_gets_the_defaults_its_constructor_gives() -> None:
    """For every table model of the four services: the fields ``transient`` fills by itself are those the
    constructor fills, with the same values (a default factory's value compared by its type: now, an id)."""
    import enrollment.main  # noqa: F401  (the services' models, registered on their Base's registry)
    import fund_ledger.main  # noqa: F401
    import gateway.main  # noqa: F401
    import settlement.main  # noqa: F401
    from enrollment.db import Base as EnrollmentBase
    from fund_ledger.db import Base as LedgerBase
    from gateway.db import Base as GatewayBase
    from settlement.db import Base as SettlementBase

    bases = (EnrollmentBase, LedgerBase, GatewayBase, SettlementBase)
    models = [mapper.class_ for base in bases for mapper in base._sa_registry.mappers]
    assert len(models) > 20
    for model in models:
        built, constructed = transient(model), model()
        for name, field in model.model_fields.items():
            if field.default_factory is not None:
                assert type(built.__dict__[name]) is type(getattr(constructed, name)), (model, name)
            elif name in constructed.__dict__:
                assert built.__dict__[name] == constructed.__dict__[name], (model, name)


def test_a_mutable_default_is_copied_for_each_instance() -> None:
    from pydantic import BaseModel

    from shared.db import _defaults

    class Tagged(BaseModel):
        tags: list[str] = ["甲类"]
        limits: dict[str, int] = {"fen": 100}
        name: str = "张三"

    plan = {name: (default, factory) for name, default, factory in _defaults(Tagged)}
    assert plan["name"] == ("张三", None)  # immutable: shared as it is
    for name in ("tags", "limits"):
        default, factory = plan[name]
        assert factory is not None
        first, second = factory(), factory()
        assert first == second == default
        assert first is not default and first is not second
