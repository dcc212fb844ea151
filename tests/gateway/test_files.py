"""9101 文件上传 / 9102 文件下载 through the gateway (its exchange files on both backends): a zip holding a
text file uploaded as base64 or as byte values and downloaded byte for byte, its checksum, the same msgid
answered with the same file, the limits, another institution's file, the purge of old files; over HTTP a
9102 answers the zip itself (application/octet-stream), or the envelope to a client asking for JSON, and
the message log keeps no second copy of the file."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from datetime import timedelta
from typing import Any

from gateway.config import GatewaySettings
from gateway.files.models import ExchangeFile
from gateway.files.service import purge
from gateway.main import create_app
from gateway.messages.models import MessageLog
from sqlalchemy import func, select, update
from sqlmodel import col

from platformctl import examples
from platformctl.stack import free_port
from shared.db import Database, utcnow
from tests.conftest import DatabaseFactory
from tests.gateway.factories import HOSPITAL, PHARMACY, Gateway
from tests.support.apps import build, running
from tests.support.his import SignedHttp, register_demo_institutions

HIS_PATH = "/fsi/api/rsfComIfsService/callService"

OTHER_HOSPITAL = "H34152400002"
ROWS = "\t".join(
    ["S34152420261120000000000000001", "M34152420261120000000000000001", "3415240000000001", "120.00", "0\n"]
)


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def message(infno: str, sequence: int, node: dict[str, Any], code: str = HOSPITAL) -> dict[str, Any]:
    msgid = f"{code}20261206100000{sequence:04d}"
    return examples.envelope(infno, msgid, node, fixmedins_code=code)


def upload(sequence: int, content: Any, *, filename: str = "mxdz.txt.zip", **changes: Any) -> dict[str, Any]:
    data = {"in": content, "filename": filename, "fixmedins_code": changes.pop("code", HOSPITAL)}
    return message("9101", sequence, {"fsUploadIn": data}, changes.pop("sender", HOSPITAL))


def download(sequence: int, file_qury_no: str, fixmedins_code: str = HOSPITAL) -> dict[str, Any]:
    data = {"file_qury_no": file_qury_no, "filename": "mxdz.txt.zip", "fixmedins_code": fixmedins_code}
    return message("9102", sequence, {"fsDownloadIn": data}, fixmedins_code)


async def stored_files(gateway: Gateway) -> int:
    async with gateway.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(ExchangeFile)) or 0)


async def test_an_uploaded_zip_is_downloaded_byte_for_byte(gateway: Gateway) -> None:
    archive = zipped(("mxdz.txt", ROWS.encode()))
    answer = await gateway.send(upload(1, base64.b64encode(archive).decode()))
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]
    assert len(info["file_qury_no"]) == 30 and info["file_qury_no"].startswith("F")
    assert (info["filename"], info["fixmedins_code"]) == ("mxdz.txt.zip", HOSPITAL)
    # The checksum and size are the zip's own, computed here from the bytes sent.
    assert (info["file_size"], info["file_sha256"]) == (len(archive), hashlib.sha256(archive).hexdigest())
    async with gateway.db.session() as session:
        row = await session.get(ExchangeFile, info["file_qury_no"])
    assert row is not None and row.expires_at - row.created_at == timedelta(days=30)  # the default retention
    assert row.text_bytes == len(ROWS.encode())

    got = await gateway.send(download(2, info["file_qury_no"]))
    assert got["infcode"] == 0, got["err_msg"]
    assert base64.b64decode(got["output"]["file_byte"]) == archive
    assert got["output"]["file_sufx"] == "zip"
    assert got["output"]["dld_endtime"] == info["dld_endtime"]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(got["output"]["file_byte"]))) as back:
        assert back.read("mxdz.txt").decode() == ROWS


async def test_in_as_byte_values_and_a_gb18030_text(gateway: Gateway) -> None:
    archive = zipped(("对账.txt", "结算\t120.00\n".encode("gb18030")))
    answer = await gateway.send(upload(3, list(archive), filename="对账.zip"))
    assert answer["infcode"] == 0, answer["err_msg"]
    assert answer["output"]["file_sha256"] == hashlib.sha256(archive).hexdigest()
    text = await gateway.processor.files.read_text(gateway.db, answer["output"]["file_qury_no"], HOSPITAL)
    assert (text.name, text.text) == ("对账.txt", "结算\t120.00\n")


async def test_the_same_msgid_is_answered_with_the_same_file(gateway: Gateway) -> None:
    body = upload(4, base64.b64encode(zipped(("a.txt", b"x\n"))).decode())
    first = await gateway.send(body)
    again = await gateway.send(body)
    assert first["infcode"] == 0 and again["output"] == first["output"]
    assert await stored_files(gateway) == 1


async def test_bad_files_are_refused_and_nothing_is_stored(gateway: Gateway) -> None:
    good = zipped(("a.txt", b"row\n"))
    # A CRC mismatch: one byte of the deflated member changed (the local header starts at 0, its name
    # length is 5, so the data starts at 30 + 5).
    broken_crc = bytearray(zipped(("a.txt", b"row row row row row\n" * 20)))
    broken_crc[36] ^= 0xFF
    # 33 MiB of zeros deflate to a few kB: above the 32 MiB unzipped limit however small the zip is.
    bomb = zipped(("a.txt", b"\0" * (33 * 1024 * 1024)))
    assert len(bomb) < 512 * 1024
    not_text = b"\xff\xfe\xfd\x81\x30"  # neither UTF-8 nor GB18030 (0xff leads no GB18030 character)
    cases = [
        (upload(10, base64.b64encode(os.urandom(300)).decode()), "[E_FILE_CORRUPT]"),  # not a zip
        (upload(11, "not base64!"), "[E_FILE_CORRUPT]"),
        (upload(12, base64.b64encode(bytes(broken_crc)).decode()), "[E_FILE_CORRUPT]"),
        (upload(13, base64.b64encode(zipped(("a.txt", b"1"), ("b.txt", b"2"))).decode()), "[E_FILE_CORRUPT]"),
        (upload(14, base64.b64encode(zipped(("a.bin", not_text))).decode()), "[E_FILE_CORRUPT]"),
        (upload(15, ""), "[E_FILE_CORRUPT]"),
        # 600 000 random bytes stored (not deflated: incompressible) are above the 512 KiB upload limit.
        (upload(16, base64.b64encode(os.urandom(600_000)).decode()), "[E_FILE_TOO_LARGE]"),
        (upload(17, base64.b64encode(bomb).decode()), "[E_FILE_TOO_LARGE]"),
        (upload(18, base64.b64encode(good).decode(), code=OTHER_HOSPITAL), "[NOT_YOUR_FILE]"),
        (upload(19, base64.b64encode(good).decode(), filename="../../etc/passwd"), "[E_INPUT]"),
        (upload(20, [256, 1]), "[E_INPUT]"),
    ]
    for body, code in cases:
        answer = await gateway.send(body)
        assert answer["infcode"] == -1, (body["msgid"], answer)
        assert answer["err_msg"].startswith(code), (body["msgid"], answer["err_msg"])
    assert await stored_files(gateway) == 0


async def test_unknown_foreign_and_expired_files_are_not_downloaded(gateway: Gateway) -> None:
    mine = await gateway.send(upload(30, base64.b64encode(zipped(("a.txt", b"row\n"))).decode()))
    file_qury_no = mine["output"]["file_qury_no"]

    unknown = await gateway.send(download(31, "F20261206000000000000000000000"))
    assert unknown["infcode"] == -1 and unknown["err_msg"].startswith("[FILE_NOT_FOUND]")
    # Another institution asking for it (its own code in the envelope and the input).
    foreign = await gateway.send(download(32, file_qury_no, OTHER_HOSPITAL))
    assert (foreign["infcode"], foreign["err_msg"]) == (-1, "[NOT_YOUR_FILE] 只能下载本机构的文件")
    # Its own envelope naming another institution in the input.
    body = download(33, file_qury_no)
    body["input"]["fsDownloadIn"]["fixmedins_code"] = PHARMACY
    named = await gateway.send(body)
    assert named["infcode"] == -1 and named["err_msg"].startswith("[NOT_YOUR_FILE]")
    bad_no = await gateway.send(download(34, "x" * 31))
    assert bad_no["infcode"] == -1 and bad_no["err_msg"].startswith("[E_INPUT]")

    # Past its download deadline: refused before any purge has run.
    async with gateway.db.transaction() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(
            update(ExchangeFile).where(ExchangeFile.file_qury_no == file_qury_no).values(expires_at=past)
        )
    expired = await gateway.send(download(35, file_qury_no))
    assert expired["infcode"] == -1 and expired["err_msg"].startswith("[FILE_NOT_FOUND]")


async def test_purge_deletes_the_files_past_their_retention(gateway: Gateway) -> None:
    sent = [
        await gateway.send(upload(40 + n, base64.b64encode(zipped(("a.txt", f"{n}\n".encode()))).decode()))
        for n in range(3)
    ]
    numbers = [answer["output"]["file_qury_no"] for answer in sent]
    now = utcnow()
    async with gateway.db.transaction() as session:
        # The first made 31 days ago (expired at day 30); the second 10 days ago.
        for file_qury_no, days in ((numbers[0], 31), (numbers[1], 10)):
            made = now - timedelta(days=days)
            await session.execute(
                update(ExchangeFile)
                .where(ExchangeFile.file_qury_no == file_qury_no)
                .values(created_at=made, expires_at=made + timedelta(days=30))
            )
    assert await purge(gateway.db, now=now) == 1
    assert await stored_files(gateway) == 2
    gone = await gateway.send(download(50, numbers[0]))
    assert gone["infcode"] == -1 and gone["err_msg"].startswith("[FILE_NOT_FOUND]")
    # A retention shortened to 7 days applies to the files already kept: the 10-day-old one goes too.
    assert await purge(gateway.db, now=now, retention_days=7) == 1
    kept = await gateway.send(download(51, numbers[2]))
    assert kept["infcode"] == 0, kept["err_msg"]


async def test_a_repeated_9102_after_its_file_went_is_refused(gateway: Gateway) -> None:
    archive = zipped(("a.txt", b"row\n"))
    uploaded = await gateway.send(upload(60, base64.b64encode(archive).decode()))
    file_qury_no = uploaded["output"]["file_qury_no"]
    wanted = download(61, file_qury_no)
    first = await gateway.send(wanted)
    assert base64.b64decode(first["output"]["file_byte"]) == archive
    # The message log remembers the answer without the bytes, which are read again for a repeat: once the
    # file is past its deadline, a repeat of the msgid is told so rather than answered from a stale copy.
    async with gateway.db.transaction() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(
            update(ExchangeFile).where(ExchangeFile.file_qury_no == file_qury_no).values(expires_at=past)
        )
    again = await gateway.send(wanted)
    assert again["infcode"] == -1 and again["err_msg"].startswith("[FILE_NOT_FOUND]")


async def test_the_gateway_app_applies_its_file_settings(databases: DatabaseFactory) -> None:
    """Over HTTP through the app: GATEWAY_FILE_MAX_BYTES and GATEWAY_FILE_RETENTION_DAYS reach 9101."""
    url = databases.migrated("gateway")
    dead = f"http://127.0.0.1:{free_port()}"  # 9101 is answered by the gateway itself
    app = build(
        create_app,
        GatewaySettings,
        database_url=url,
        enrollment_url=dead,
        settlement_url=dead,
        file_max_bytes=400,
        file_retention_days=2,
    )
    db = Database(url)
    await register_demo_institutions(db)
    small = zipped(("a.txt", b"row\n"))
    assert len(small) < 400
    try:
        async with running(app) as http:
            his = SignedHttp(http)
            await his.post(upload(60, base64.b64encode(small).decode()))
            kept = his.responses[-1].json()
            await his.post(upload(61, base64.b64encode(zipped(("a.txt", os.urandom(500)))).decode()))
            refused = his.responses[-1].json()
        assert kept["infcode"] == 0, kept["err_msg"]
        async with db.session() as session:
            row = await session.get(ExchangeFile, kept["output"]["file_qury_no"])
        assert row is not None and row.expires_at - row.created_at == timedelta(days=2)
        assert refused["infcode"] == -1 and refused["err_msg"].startswith("[E_FILE_TOO_LARGE]")
    finally:
        await db.dispose()


async def test_9102_over_http_answers_the_zip_itself(databases: DatabaseFactory) -> None:
    url = databases.migrated("gateway")
    dead = f"http://127.0.0.1:{free_port()}"  # 9101 / 9102 are answered by the gateway itself
    app = build(create_app, GatewaySettings, database_url=url, enrollment_url=dead, settlement_url=dead)
    db = Database(url)
    await register_demo_institutions(db)
    archive = zipped(("mxdz.txt", ROWS.encode()))
    try:
        async with running(app) as http:
            his = SignedHttp(http)
            await his.post(upload(70, base64.b64encode(archive).decode()))
            file_qury_no = his.responses[-1].json()["output"]["file_qury_no"]
            # As the national platform answers and deployed HIS code reads it: the body is the zip.
            wanted = download(71, file_qury_no)
            raw = await his.post(wanted)
            assert raw.status_code == 200
            assert raw.headers["content-type"] == "application/octet-stream"
            assert raw.headers["content-disposition"] == f'attachment; filename="{file_qury_no}.zip"'
            assert raw.content == archive
            with zipfile.ZipFile(io.BytesIO(raw.content)) as back:
                assert back.read("mxdz.txt").decode() == ROWS
            # The same msgid again (a lost answer): the same bytes, from the message log and the store.
            assert (await his.post(wanted)).content == archive
            # Posted to the base address plus the number with no Accept value, as a deployed C# HIS sends
            # it (WebClient) and writes the body to a .zip (liutao2019/IBORN_HIS_ALL,
            # API.GZSI/Class/HttpHelper.cs).
            by_number = SignedHttp(http, path=f"{HIS_PATH}/9102", headers={"accept": ""})
            by_number.his.sign_nos = his.his.sign_nos  # signed in already (9001 is not 9102's address)
            numbered = await by_number.post(download(74, file_qury_no))
            assert numbered.headers["content-type"] == "application/octet-stream"
            assert numbered.content == archive
            # A client that asks for JSON gets the envelope, the zip in file_byte.
            enveloped = await SignedHttp(http, headers={"accept": "application/json"}).post(
                download(72, file_qury_no)
            )
            assert enveloped.headers["content-type"].startswith("application/json")
            answer = enveloped.json()
            assert answer["infcode"] == 0, answer["err_msg"]
            assert base64.b64decode(answer["output"]["file_byte"]) == archive
            assert answer["output"]["file_sha256"] == hashlib.sha256(archive).hexdigest()
            # A refusal is an envelope whatever the client accepts.
            missing = await his.post(download(73, "F" + "0" * 29))
            assert missing.headers["content-type"].startswith("application/json")
            assert missing.json()["err_msg"].startswith("[FILE_NOT_FOUND]")
        # The message log holds each 9102 answer without the file: the store has the only copy.
        async with db.session() as session:
            logged = list(
                await session.scalars(select(col(MessageLog.response)).where(col(MessageLog.infno) == "9102"))
            )
        assert len(logged) == 4 and all("file_byte" not in text for text in logged)
        assert sum(file_qury_no in text for text in logged) == 3  # 71, 72 and 74 answered it; 73 refused
    finally:
        await db.dispose()
