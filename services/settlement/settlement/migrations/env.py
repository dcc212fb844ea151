"""Alembic environment of the settlement service (run through `python -m platformctl migrate`)."""

import settlement.catalogue.models  # noqa: F401
import settlement.eligibility.models  # noqa: F401
import settlement.institutions.models  # noqa: F401
import settlement.policy.models  # noqa: F401
import settlement.settlements.models  # noqa: F401
from settlement.db import Base
from shared.migrations import run_env

run_env(Base.metadata)
