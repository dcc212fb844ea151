"""The settlement service's own tables: a metadata of its own, plus the shared messaging tables."""

from sqlalchemy import BigInteger, Column, Integer, Table
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from shared.audit import define_audit_table
from shared.infra import define_infra_tables


class Base(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and metadata) of its own, so each service's tables and
    migrations stay its own."""


class ReferenceData:
    """Marks a table of the reference data every settlement reads and each process caches
    (``settlement.reference``): a change to one of its rows, through the ORM, raises ``reference_version``
    in the same transaction. A marker here, below the models, so that the cache needs no domain package
    (each of which reads through it)."""


infra = define_infra_tables(Base.metadata)
audit = define_audit_table(Base.metadata)

#: One row (id 1) whose ``version`` goes up in the transaction of every change to the reference data each
#: settlement reads (``settlement.reference``): the processes' caches of it are checked against this.
reference_version = Table(
    "reference_version",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)
