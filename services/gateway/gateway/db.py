"""The gateway's own tables: message log, institution registry, sign-in sessions, nonces and the audit log."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from shared.audit import define_audit_table


class Base(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and metadata) of its own, so each service's tables and
    migrations stay its own."""


audit = define_audit_table(Base.metadata)
