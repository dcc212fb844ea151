"""Alembic environment of the enrollment service (run through `python -m platformctl migrate`)."""

import enrollment.cards.models
import enrollment.enrollments.models
import enrollment.households.models
import enrollment.legacy.models
import enrollment.persons.models
import enrollment.regions.models
import enrollment.vouchers.models  # noqa: F401
from enrollment.db import Base
from shared.migrations import run_env

run_env(Base.metadata)
