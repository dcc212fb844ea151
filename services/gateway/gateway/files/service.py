"""The gateway's exchange files: a zip holding one text file, uploaded by an institution (9101) or made
by the platform for it to fetch (9102: a catalogue download, a reconciliation result), kept in the
gateway's database on either backend until its retention period ends. See
docs/interface.md, "9101 / 9102 files" and docs/architecture.md, "Exchange files".

What other gateway code uses: ``FileStore.upload`` (a 9101 file read and checked), ``FileStore.make`` (a
text the platform answers with, zipped and stored), ``FileStore.load`` / ``FileStore.read_text`` (one of
the institution's files), ``purge`` (files past their retention period)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from gateway.files.models import ExchangeFile
from gateway.protocol.errors import Refusal
from shared import zipfiles
from shared.db import Database, utcnow
from shared.zipfiles import Unzipped, zip_text

#: Largest zip an institution may upload (bytes); its base64 form must also fit the envelope's size limit.
DEFAULT_MAX_FILE_BYTES = 512 * 1024
#: Largest text inside a zip, unzipped (a zip bomb is refused before it is expanded).
DEFAULT_MAX_TEXT_BYTES = 32 * 1024 * 1024
#: Days a file may be downloaded and is kept; then it is purged.
DEFAULT_RETENTION_DAYS = 30


@dataclass(frozen=True)
class FileLimits:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    retention_days: int = DEFAULT_RETENTION_DAYS


def unzip_text(data: bytes, max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES) -> Unzipped:
    """The text file of a zip, checked (``shared.zipfiles.unzip_text``); anything else is refused
    ``E_FILE_CORRUPT`` / ``E_FILE_TOO_LARGE``."""
    try:
        return zipfiles.unzip_text(data, max_text_bytes)
    except zipfiles.FileRefused as exc:
        raise Refusal("E_FILE_TOO_LARGE" if exc.too_large else "E_FILE_CORRUPT", exc.message) from exc


def new_file_qury_no(now: datetime) -> str:
    return f"F{now:%Y%m%d}{secrets.token_hex(11)[:21]}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    """Stores and finds exchange files in the gateway's database, within ``limits``."""

    def __init__(self, limits: FileLimits | None = None) -> None:
        self.limits = limits or FileLimits()

    async def upload(
        self, db: Database, *, fixmedins_code: str, filename: str, data: bytes, msgid: str
    ) -> ExchangeFile:
        """A 9101 upload: the zip checked (size, readable, one text file, CRC) and stored. The same msgid
        again finds the file it stored (nothing is stored twice)."""
        if len(data) > self.limits.max_file_bytes:
            raise Refusal(
                "E_FILE_TOO_LARGE", f"文件 {len(data)} 字节，超过上传上限 {self.limits.max_file_bytes} 字节"
            )
        if not data:
            raise Refusal("E_FILE_CORRUPT", "文件内容为空")
        earlier = await self._by_msgid(db, msgid)
        if earlier is not None:
            return earlier
        unzipped = unzip_text(data, self.limits.max_text_bytes)
        return await self._store(
            db,
            fixmedins_code=fixmedins_code,
            filename=filename,
            kind="upload",
            data=data,
            text_bytes=unzipped.text_bytes,
            msgid=msgid,
        )

    async def make(
        self, db: Database, *, fixmedins_code: str, filename: str, text: str, kind: str, inner_name: str
    ) -> ExchangeFile:
        """A file the platform answers with (no size limit of uploads): ``text`` zipped as ``inner_name``."""
        data = zip_text(inner_name, text)
        return await self._store(
            db,
            fixmedins_code=fixmedins_code,
            filename=filename,
            kind=kind,
            data=data,
            text_bytes=len(text.encode("utf-8")),
            msgid=None,
        )

    async def load(self, db: Database, file_qury_no: str, fixmedins_code: str) -> ExchangeFile:
        """One of the institution's files still within its retention period, its checksum verified.
        Unknown, purged or expired: ``FILE_NOT_FOUND``; another institution's: ``NOT_YOUR_FILE``."""
        async with db.session() as session:
            found = await session.get(ExchangeFile, file_qury_no)
        if found is None or found.expires_at <= utcnow():
            raise Refusal("FILE_NOT_FOUND", f"文件查询号 {file_qury_no} 不存在或已过下载截止时间")
        if found.fixmedins_code != fixmedins_code:
            raise Refusal("NOT_YOUR_FILE", "只能下载本机构的文件")
        if sha256_hex(found.content) != found.sha256:
            raise Refusal("E_FILE_CORRUPT", f"文件 {file_qury_no} 存储校验失败，请重新上传或重新生成")
        return found

    async def read_text(self, db: Database, file_qury_no: str, fixmedins_code: str) -> Unzipped:
        """The text inside one of the institution's files (e.g. the detail rows a 3202 names)."""
        found = await self.load(db, file_qury_no, fixmedins_code)
        return unzip_text(found.content, self.limits.max_text_bytes)

    async def _by_msgid(self, db: Database, msgid: str) -> ExchangeFile | None:
        async with db.session() as session:
            found: ExchangeFile | None = await session.scalar(
                select(ExchangeFile).where(col(ExchangeFile.msgid) == msgid)
            )
            return found

    async def _store(
        self,
        db: Database,
        *,
        fixmedins_code: str,
        filename: str,
        kind: str,
        data: bytes,
        text_bytes: int,
        msgid: str | None,
    ) -> ExchangeFile:
        now = utcnow()
        entry = ExchangeFile(
            file_qury_no=new_file_qury_no(now),
            fixmedins_code=fixmedins_code,
            filename=filename,
            kind=kind,
            msgid=msgid,
            content=data,
            size_bytes=len(data),
            text_bytes=text_bytes,
            sha256=sha256_hex(data),
            created_at=now,
            expires_at=now + timedelta(days=self.limits.retention_days),
        )
        try:
            async with db.transaction() as session:
                session.add(entry)
        except IntegrityError:
            if msgid is not None:  # the same 9101 msgid stored concurrently: that first file stands
                earlier = await self._by_msgid(db, msgid)
                if earlier is not None:
                    return earlier
            raise
        return entry


async def purge(db: Database, *, now: datetime | None = None, retention_days: int | None = None) -> int:
    """Deletes the files whose download deadline has passed and, with ``retention_days``, every file made
    longer ago than that (a shortened retention period applies to files already kept). The count deleted."""
    cutoff = now or utcnow()
    expired = col(ExchangeFile.expires_at) <= cutoff
    if retention_days is not None:
        expired = expired | (col(ExchangeFile.created_at) <= cutoff - timedelta(days=retention_days))
    async with db.transaction() as session:
        result = await session.execute(delete(ExchangeFile).where(expired))
    return int(getattr(result, "rowcount", 0) or 0)
