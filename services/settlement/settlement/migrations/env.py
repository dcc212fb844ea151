"""Alembic environment of the settlement service (run through `python -m platformctl migrate`)."""

import settlement.catalogue.models
import settlement.eligibility.models
import settlement.encounters.models
import settlement.filings.models
import settlement.institutions.models
import settlement.interplatform.models
import settlement.inventory.models
import settlement.manual.models
import settlement.policy.models
import settlement.prechecks.models
import settlement.schemes.models
import settlement.setl_lists.models
import settlement.settlements.models
import settlement.supervision.models  # noqa: F401
from settlement.db import Base
from shared.migrations import run_env

run_env(Base.metadata)
