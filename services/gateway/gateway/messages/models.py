from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text
from sqlmodel import Field

from gateway.db import Base
from shared.db import utcnow


class MessageLog(Base, table=True):
    """The first final answer given to each msgid; a repeat of the same request gets it back verbatim."""

    __tablename__ = "message_log"

    msgid: str = Field(primary_key=True, max_length=30)
    infno: str = Field(max_length=10)
    fixmedins_code: str = Field(max_length=30, index=True)
    request_sha256: str = Field(max_length=64)
    infcode: int
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
