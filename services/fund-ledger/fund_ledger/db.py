"""The fund ledger's own tables: a metadata of its own, plus the shared messaging tables."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from shared.audit import define_audit_table
from shared.gapwatch import define_feed_watermarks
from shared.infra import define_infra_tables


class Base(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and metadata) of its own, so each service's tables and
    migrations stay its own."""


infra = define_infra_tables(Base.metadata)
audit = define_audit_table(Base.metadata)
#: Per producer, how far the gap check has found every event processed (``shared.gapwatch``).
feed_watermarks = define_feed_watermarks(Base.metadata)
