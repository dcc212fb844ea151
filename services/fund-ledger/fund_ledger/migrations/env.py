"""Alembic environment of the fund_ledger service (run through `python -m platformctl migrate`)."""

import fund_ledger.applications.models
import fund_ledger.books.models
import fund_ledger.clearing.models
import fund_ledger.interregion.models
import fund_ledger.pooling.models  # noqa: F401
from fund_ledger.db import Base
from shared.migrations import run_env

run_env(Base.metadata)
