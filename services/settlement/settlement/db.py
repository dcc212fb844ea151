"""The settlement service's own tables: a metadata of its own, plus the shared messaging tables."""

from shared.db import make_base
from shared.infra import define_infra_tables

Base = make_base()
infra = define_infra_tables(Base.metadata)
