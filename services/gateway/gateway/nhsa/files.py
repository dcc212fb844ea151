"""9101 文件上传 / 9102 文件下载 (docs/interface.md, "9101 / 9102 files"). Answered by the gateway itself
from its exchange files (``gateway.files``): an institution uploads a zip holding one text file and is
given its ``file_qury_no``; it downloads its own files (its uploads, and the files the platform made for it:
catalogue downloads, reconciliation results) by that number until the download deadline ``dld_endtime``.

The HIS code that sends them (public SDKs of the interface) names the input nodes ``fsUploadIn`` (``in``:
the zip's bytes, as base64 text or a JSON array of byte values; ``filename``; ``fixmedins_code``) and
``fsDownloadIn`` (``file_qury_no``, ``filename``, ``fixmedins_code``)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.declaration import Call, Transaction
from gateway.files.models import ExchangeFile
from gateway.protocol.envelope import dumps
from gateway.protocol.errors import Refusal
from shared.clock import format_wire_time

#: A file name as the HIS gives it: no path, no control characters.
FILENAME = r"^[^/\\\x00-\x1f]{1,200}$"
FILE_QURY_NO = r"^[A-Za-z0-9_./-]{1,30}$"

Byte = Annotated[int, Field(ge=0, le=255)]


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    #: 文件数据: the zip, base64 (as the C# and Java clients send a byte array) or a list of byte values.
    content: str | list[Byte] = Field(alias="in")
    filename: str = Field(pattern=FILENAME)
    fixmedins_code: str = Field(min_length=1, max_length=30)


class Input9101(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fsUploadIn: UploadIn


class DownloadIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    file_qury_no: str = Field(pattern=FILE_QURY_NO)
    #: The name the file was given ("plc" for the catalogue files, as the interface has it); not checked.
    filename: str | None = Field(default=None, max_length=200)
    fixmedins_code: str = Field(min_length=1, max_length=30)


class Input9102(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fsDownloadIn: DownloadIn


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")


def file_bytes(content: str | list[int], max_bytes: int) -> bytes:
    """The uploaded bytes; refused before decoding when the text alone says they are too many."""
    if isinstance(content, list):
        if len(content) > max_bytes:
            raise Refusal("E_FILE_TOO_LARGE", f"文件超过上传上限 {max_bytes} 字节")
        return bytes(content)
    text = re.sub(r"\s+", "", content)
    if len(text) // 4 * 3 > max_bytes + 2:
        raise Refusal("E_FILE_TOO_LARGE", f"文件超过上传上限 {max_bytes} 字节")
    if _NOT_BASE64.search(text):
        raise Refusal("E_FILE_CORRUPT", "fsUploadIn.in: 不是有效的 base64 文本")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refusal("E_FILE_CORRUPT", "fsUploadIn.in: 不是有效的 base64 文本") from exc


def _own(call: Call, fixmedins_code: str) -> None:
    if fixmedins_code != call.envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_FILE", f"fixmedins_code {fixmedins_code} 与报文的定点医药机构编号不一致")


def fileinfo(entry: ExchangeFile) -> dict[str, Any]:
    """A stored file as the 9101 answer (and the ``fileinfo`` node of the codes that answer with a file)
    names it; ``dld_endtime`` in Beijing time."""
    return {
        "file_qury_no": entry.file_qury_no,
        "filename": entry.filename,
        "fixmedins_code": entry.fixmedins_code,
        "dld_endtime": format_wire_time(entry.expires_at),
        "file_size": entry.size_bytes,
        "file_sha256": entry.sha256,
    }


async def _handle_9101(call: Call, data: Input9101) -> dict[str, Any]:
    upload = data.fsUploadIn
    _own(call, upload.fixmedins_code)
    content = file_bytes(upload.content, call.files.limits.max_file_bytes)
    entry = await call.files.upload(
        call.db,
        fixmedins_code=call.envelope.fixmedins_code,
        filename=upload.filename,
        data=content,
        msgid=call.envelope.msgid,
    )
    return fileinfo(entry)


async def _handle_9102(call: Call, data: Input9102) -> dict[str, Any]:
    """The file's description. Its bytes are added to each answer as it leaves (``with_file_byte``, or
    the HTTP body itself), so that the message log does not hold a second copy of every file."""
    wanted = data.fsDownloadIn
    _own(call, wanted.fixmedins_code)
    entry = await call.files.load(call.db, wanted.file_qury_no, call.envelope.fixmedins_code)
    return {**fileinfo(entry), "file_sufx": "zip"}


def with_file_byte(answer: str, content: bytes) -> str:
    """A 9102 answer (JSON text) with the zip as ``output.file_byte`` (base64), for the clients that read
    the envelope rather than the raw body."""
    body = json.loads(answer)
    body["output"]["file_byte"] = base64.b64encode(content).decode("ascii")
    return dumps(body)


TRANSACTIONS = (
    Transaction(
        "9101",
        "files",
        "文件上传",
        Input9101,
        _handle_9101,
        changes_state=True,
        replayed=True,
        downstream=False,
    ),
    Transaction("9102", "files", "文件下载", Input9102, _handle_9102, downstream=False),
)
