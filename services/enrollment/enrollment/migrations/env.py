"""Alembic environment of the enrollment service (run through `python -m platformctl migrate`)."""

import enrollment.persons.models  # noqa: F401
from enrollment.db import Base
from shared.migrations import run_env

run_env(Base.metadata)
