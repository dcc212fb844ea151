"""Alembic environment of the gateway service (run through `python -m platformctl migrate`)."""

import gateway.files.models
import gateway.messages.models
import gateway.security.models  # noqa: F401
from gateway.db import Base
from shared.migrations import run_env

run_env(Base.metadata)
