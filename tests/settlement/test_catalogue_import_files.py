"""The import path for the national files (issue 24: "A CSV/zip import path for the full national files"):
the catalogue import and the code-list import take the file as CSV text or as the zip the national
files come in (one text file inside), in UTF-8 or GB18030; a zip that is corrupt, holds more than one
file, unzips beyond the limit, or text in another encoding is refused and imports nothing."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from settlement.catalogue import endpoints

from shared.zipfiles import zip_text
from tests.settlement.conftest import SettlementApi

ITEMS = (
    "med_list_codg,name,med_chrgitm_type,chrgitm_lv,selfpay_prop,pric_uplmt,effective_from\n"
    "XZ01,阿莫西林胶囊,09,1,,0.80,2026-01-01\n"
    "XZ02,头孢克洛缓释片,09,2,0.05,,2026-01-01\n"
)
DISEASES = "code,name\nJ20.900,急性支气管炎\nK29.700,胃炎\n"


async def import_items(api: SettlementApi, content: bytes) -> Any:
    return await api.client.post("/api/v1/catalogue/items/import", content=content)


async def import_diseases(api: SettlementApi, content: bytes) -> Any:
    return await api.client.post("/api/v1/catalogue/codes/dise/import", content=content)


async def diseases(api: SettlementApi) -> dict[str, str]:
    response = await api.client.get("/api/v1/catalogue/downloads/diseases", params={"page_size": 1000})
    assert response.status_code == 200, response.text
    return {row["code"]: row["name"] for row in response.json()["rows"]}


def refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    return str(error["message"])


async def test_a_zipped_catalogue_file_imports_as_its_text_does(settlement_api: SettlementApi) -> None:
    imported = await import_items(settlement_api, zip_text("YP.csv", ITEMS))
    assert imported.status_code == 200, imported.text
    assert (imported.json()["imported"], imported.json()["errors"]) == (2, [])
    item = (await settlement_api.client.get("/api/v1/catalogue/items/XZ01")).json()
    assert (item["name"], item["chrgitm_lv"], Decimal(item["pric_uplmt"])) == (
        "阿莫西林胶囊",
        "1",
        Decimal("0.8"),
    )
    # The same file as plain text again changes nothing: both rows are as stored.
    again = await import_items(settlement_api, ITEMS.encode())
    assert (again.json()["imported"], again.json()["unchanged"]) == (0, 2)


async def test_a_gb18030_code_file_zipped_or_not_keeps_its_names(settlement_api: SettlementApi) -> None:
    before = await diseases(settlement_api)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ICD10.txt", DISEASES.encode("gb18030"))
    imported = await import_diseases(settlement_api, buffer.getvalue())
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 2
    assert (await diseases(settlement_api)) == {**before, "J20.900": "急性支气管炎", "K29.700": "胃炎"}
    plain = await import_diseases(settlement_api, "code,name\nJ45.900,哮喘\n".encode("gb18030"))
    assert plain.status_code == 200 and plain.json()["imported"] == 1
    assert (await diseases(settlement_api))["J45.900"] == "哮喘"


def two_files() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", DISEASES)
        archive.writestr("b.csv", DISEASES)
    return buffer.getvalue()


def corrupt() -> bytes:
    """A stored (uncompressed) member whose bytes were changed after the CRC was written."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("a.csv", DISEASES)
    data = bytearray(buffer.getvalue())
    at = data.index(b"J20.900")
    data[at] = ord("X")
    return bytes(data)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (two_files(), "只含一个文本文件"),
        (corrupt(), "已损坏"),
        (b"PK\x03\x04 not really a zip", "不是有效的 zip"),
        (b"\xff\xfe\xfd\x81\x30", "UTF-8 或 GB18030"),
    ],
    ids=["two-files", "crc", "truncated", "not-text"],
)
async def test_an_unreadable_file_is_refused_and_imports_nothing(
    settlement_api: SettlementApi, content: bytes, says: str
) -> None:
    before = await diseases(settlement_api)
    assert says in refused(await import_diseases(settlement_api, content), 422, "BAD_FILE")
    assert says in refused(await import_items(settlement_api, content), 422, "BAD_FILE")
    assert await diseases(settlement_api) == before


async def test_a_file_over_the_limit_is_refused_before_it_is_read_whole(
    settlement_api: SettlementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await diseases(settlement_api)
    monkeypatch.setattr(endpoints, "MAX_IMPORT_TEXT_BYTES", len(DISEASES.encode()) - 1)
    # Zipped, the text unzips one byte over the limit; sent as text, it is one byte over too.
    assert "超过" in refused(await import_diseases(settlement_api, zip_text("a.csv", DISEASES)), 413,
                             "PAYLOAD_TOO_LARGE")  # fmt: skip
    assert "超过" in refused(
        await import_diseases(settlement_api, DISEASES.encode()), 413, "PAYLOAD_TOO_LARGE"
    )
    assert await diseases(settlement_api) == before
