"""The gateway's own tables (message log; institution registry and sign-in sessions come with security)."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class Base(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and metadata) of its own, so each service's tables and
    migrations stay its own."""
