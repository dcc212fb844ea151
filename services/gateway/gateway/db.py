"""The gateway's own tables (message log; institution registry and sign-in sessions come with security)."""

from shared.db import make_base

Base = make_base()
