from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from gateway.db import Base
from shared.db import AwareDateTime, utcnow


class MessageLog(Base, table=True):
    """The first final answer given to each msgid; a repeat of the same request gets it back verbatim."""

    __tablename__ = "message_log"

    msgid: str = Field(primary_key=True, max_length=30)
    infno: str = Field(max_length=10)
    fixmedins_code: str = Field(max_length=30, index=True)
    request_sha256: str = Field(max_length=64)
    infcode: int
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class VoidedMessage(Base, table=True):
    """A message 冲正'd by 2601: whatever answer the log holds for it, a repeat of its msgid is answered
    "[E_VOIDED] 原交易已冲正" from then on (the answer it may hold describes an effect that was undone)."""

    __tablename__ = "voided_message"

    msgid: str = Field(primary_key=True, max_length=30)
    infno: str = Field(max_length=10)
    fixmedins_code: str = Field(max_length=30)
    #: reversed (it had settled; the reversal is ``reversal_setl_id``) or voided (nothing had settled).
    outcome: str = Field(max_length=10)
    reversal_setl_id: str | None = Field(default=None, max_length=30)
    #: The 2601 message that voided it.
    void_msgid: str = Field(max_length=30)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
