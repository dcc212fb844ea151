"""A zip holding one text file, as the national interface exchanges files (9101/9102, the catalogue files
a region loads): made (``zip_text``) and read back checked (``unzip_text``): a readable zip, exactly one
file in it, no larger unzipped than a limit (read in chunks, so a zip that lies about its size is stopped
too), its CRC right, its text UTF-8 or GB18030 (which Chinese systems also write). A refusal is
``FileRefused``, which each service turns into its own error (the gateway's ``E_FILE_*``, settlement's
``BAD_FILE`` / ``PAYLOAD_TOO_LARGE``)."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

#: The first bytes of a zip (a local file header).
ZIP_MAGIC = b"PK\x03\x04"


class FileRefused(ValueError):
    """A file that cannot be read: ``too_large`` (over the limit) or not readable (the message says why)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message, self.too_large = message, too_large


@dataclass(frozen=True)
class Unzipped:
    """The one text file a zip holds."""

    name: str
    text: str
    text_bytes: int


def zip_text(name: str, text: str) -> bytes:
    """A zip holding ``name`` with ``text`` in UTF-8 (deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()


def decode_text(raw: bytes) -> str:
    """UTF-8 (a byte-order mark is dropped), else GB18030."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileRefused("文件内容不是 UTF-8 或 GB18030 编码的文本") from exc


def unzip_text(data: bytes, max_text_bytes: int) -> Unzipped:
    """The text file of a zip, checked as the module says."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise FileRefused("文件不是有效的 zip 压缩包") from exc
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) != 1:
            raise FileRefused(f"zip 压缩包应只含一个文本文件，实含 {len(entries)} 个")
        (entry,) = entries
        too_large = FileRefused(f"解压后文件超过 {max_text_bytes} 字节", too_large=True)
        if entry.file_size > max_text_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            with archive.open(entry) as stream:
                while chunk := stream.read(1024 * 1024):
                    size += len(chunk)
                    if size > max_text_bytes:
                        raise too_large
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as exc:
            if exc is too_large:
                raise
            # a CRC or header mismatch, an unsupported compression or encryption, a truncated member
            raise FileRefused("zip 压缩包已损坏（校验失败或无法解压）") from exc
        except RuntimeError as exc:  # an encrypted member
            raise FileRefused("zip 压缩包已加密，无法解压") from exc
    raw = b"".join(chunks)
    return Unzipped(entry.filename, decode_text(raw), len(raw))


def text_of(data: bytes, max_text_bytes: int) -> str:
    """A file sent as plain text or as a zip holding it (recognised by its first bytes)."""
    if data.startswith(ZIP_MAGIC):
        return unzip_text(data, max_text_bytes).text
    if len(data) > max_text_bytes:
        raise FileRefused(f"文件超过 {max_text_bytes} 字节", too_large=True)
    return decode_text(data)
