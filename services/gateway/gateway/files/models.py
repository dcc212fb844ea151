from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field

from gateway.db import Base
from shared.db import AwareDateTime, utcnow


class ExchangeFile(Base, table=True):
    """One file exchanged with an institution (9101 upload, or a file the platform made for it to fetch
    with 9102: a catalogue download, a reconciliation result): the zip as sent or made, with its size and
    SHA-256 (docs/architecture.md, "Exchange files"). Kept until ``expires_at``, then purged."""

    __tablename__ = "exchange_file"

    #: 文件查询号: ``F`` + yyyyMMdd + 21 hexadecimal digits (30 characters).
    file_qury_no: str = Field(primary_key=True, max_length=30)
    #: The only institution that may download it.
    fixmedins_code: str = Field(max_length=30, index=True)
    filename: str = Field(max_length=200)
    #: upload (9101), catalogue (1301-1319 as a file), reconciliation...
    kind: str = Field(max_length=20)
    #: The 9101 message that uploaded it (a repeat of that msgid finds the same file); None for files the
    #: platform made.
    msgid: str | None = Field(default=None, max_length=30, unique=True)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size_bytes: int
    #: Bytes of the text inside, unzipped.
    text_bytes: int
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    #: 下载截止时间: downloads are refused after it, and the purge removes it.
    expires_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False, index=True))
