from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime

from settlement.catalogue import codes, downloads, mappings, service
from settlement.catalogue.schemas import CatalogueItemCreate, CatalogueItemOut, ImportResult
from shared import zipfiles
from shared.contracts.v1.catalogue import (
    MAX_PAGE_SIZE,
    CatalogueChanges,
    ListName,
    MappingOut,
    MappingRevocation,
    MappingUpload,
)
from shared.errors import DomainError
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/catalogue/items", tags=["catalogue"])

#: The largest file an import reads, unzipped: a full national list is tens of megabytes.
MAX_IMPORT_TEXT_BYTES = 256 * 1024 * 1024


def _file_text(raw: bytes) -> str:
    """An import's file as sent: CSV text, or a zip holding it (as the national files come), in UTF-8 or
    GB18030 (``shared.zipfiles``); unreadable ``BAD_FILE``, too large ``PAYLOAD_TOO_LARGE``."""
    try:
        return zipfiles.text_of(raw, MAX_IMPORT_TEXT_BYTES)
    except zipfiles.FileRefused as exc:
        if exc.too_large:
            raise DomainError(exc.message, code="PAYLOAD_TOO_LARGE", status_code=413) from exc
        raise DomainError(exc.message, code="BAD_FILE", status_code=422) from exc


@router.post("", status_code=201, response_model=CatalogueItemOut)
async def create_item(body: CatalogueItemCreate, runtime: RuntimeDep) -> CatalogueItemOut:
    """Add a catalogue item (drug, service or material) with its class (甲/乙/丙), price cap and
    first self-pay ratio from a date. Refused: 409 CATALOGUE_ITEM_EXISTS,
    CATALOGUE_VERSION_EXISTS or CATALOGUE_VERSION_ORDER."""
    async with runtime.transaction() as session:
        return CatalogueItemOut.model_validate(await service.create(session, body))


@router.post("/import", response_model=ImportResult)
async def import_items(request: Request, runtime: RuntimeDep) -> ImportResult:
    """Import a catalogue CSV (columns in settlement.catalogue.service.CSV_COLUMNS), as text or zipped,
    UTF-8 or GB18030; all or nothing."""
    text = _file_text(await request.body())
    async with runtime.transaction() as session:
        return await service.import_csv(session, text)


@router.get("/{code}", response_model=CatalogueItemOut)
async def get_item(code: str, runtime: RuntimeDep, on: date | None = None) -> CatalogueItemOut:
    """The version in force today, or on ``on``."""
    async with runtime.db.session() as session:
        return CatalogueItemOut.model_validate(await service.get(session, code, on))


@router.get("/{code}/versions", response_model=list[CatalogueItemOut])
async def item_versions(code: str, runtime: RuntimeDep) -> list[CatalogueItemOut]:
    """Every dated version of a catalogue item, oldest first. Refused: 404
    CATALOGUE_ITEM_NOT_FOUND."""
    async with runtime.db.session() as session:
        return [CatalogueItemOut.model_validate(v) for v in await service.versions_of(session, code)]


#: The 13xx downloads and the national code lists (diagnoses, procedures, tumour morphology, TCM, by-disease
#: payment and day surgery).
downloads_router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])


@downloads_router.get("/downloads/{list_name}", response_model=CatalogueChanges)
async def download(
    list_name: ListName,
    runtime: RuntimeDep,
    ver: Annotated[int, Query(ge=0)] = 0,
    page_num: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 1000,
    upto_ver: Annotated[int | None, Query(ge=0)] = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}:\d{1,18}$")] = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    admdvs: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    code: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    medins_list_codg: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    name_contains: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    list_type: Annotated[str | None, Query(min_length=1, max_length=30)] = None,
    med_chrgitm_type: Annotated[str | None, Query(min_length=1, max_length=6)] = None,
    chrgitm_lv: Annotated[str | None, Query(min_length=1, max_length=3)] = None,
    restricted: bool | None = None,
    valid: bool | None = None,
    updated_since: Annotated[AwareDatetime | None, Query()] = None,
    begins_from: date | None = None,
) -> CatalogueChanges:
    """The rows of a list changed after catalogue version ``ver`` (0: all of it), a page at a time; or,
    with ``cursor`` ("0:0" for the start), the batch after it up to ``upto_ver``. ``mappings`` (1317) are
    one institution's (``fixmedins_code``, required for it); ``admdvs``: the caller's region (price-caps:
    the items it caps itself, with the others). The item lists and the mappings are narrowed by ``code``
    (the national code), ``medins_list_codg`` (an institution's own code), ``name_contains`` (a part of the
    name), ``list_type``, an item's ``med_chrgitm_type``, ``chrgitm_lv`` and ``restricted``, ``valid``,
    ``updated_since`` and ``begins_from`` (``downloads.RowFilter``)."""
    if list_name == "mappings" and not fixmedins_code:
        missing = {"type": "missing", "loc": ("query", "fixmedins_code"), "msg": "Field required"}
        raise RequestValidationError([{**missing, "input": None}])
    async with runtime.db.session() as session:
        return await downloads.changes(
            session,
            list_name,
            ver,
            page_num,
            page_size,
            upto_ver=upto_ver,
            cursor=cursor,
            fixmedins_code=fixmedins_code,
            admdvs=admdvs,
            narrow=downloads.RowFilter(
                code=code,
                medins_list_codg=medins_list_codg,
                name_contains=name_contains,
                list_type=list_type,
                med_chrgitm_type=med_chrgitm_type,
                chrgitm_lv=chrgitm_lv,
                restricted=restricted,
                valid=valid,
                updated_since=updated_since,
                begins_from=begins_from,
            ),
        )


@downloads_router.post("/codes/{kind}/import", response_model=ImportResult)
async def import_codes(
    kind: Literal["dise", "oprn", "tumr", "tcmdise", "tcmsymp", "bydise", "daysrg"],
    request: Request,
    runtime: RuntimeDep,
) -> ImportResult:
    """Import a national code file: diagnoses (dise, 1307), procedures (oprn, 1308), tumour morphology
    (tumr, 1313), TCM diseases (tcmdise, 1314), TCM syndromes (tcmsymp, 1315), by-disease payment
    diseases (bydise, 1310) or day-surgery diseases (daysrg, 1311). CSV (as text or zipped, UTF-8 or
    GB18030), columns ``code``,
    ``name`` and optionally ``effective_from``, and for bydise / daysrg the qualifying operation
    ``oprn_code``, ``oprn_name``; all or nothing."""
    text = _file_text(await request.body())
    async with runtime.transaction() as session:
        return await codes.import_csv(session, kind, text)


#: 3301 / 3302 and the operators' list of mappings (read by auditors too).
mappings_router = APIRouter(prefix="/api/v1/catalogue/mappings", tags=["catalogue"])


@mappings_router.post("", response_model=MappingOut)
async def upload_mapping(body: MappingUpload, runtime: RuntimeDep) -> MappingOut:
    """3301 目录对照上传: map an institution's own code to a national code from a day. Refused: 422 when the
    national code is not in the catalogue or the dates are out of order."""
    async with runtime.transaction() as session:
        return MappingOut.model_validate(await mappings.upload(session, body))


@mappings_router.post("/revocation", response_model=MappingOut)
async def revoke_mapping(body: MappingRevocation, runtime: RuntimeDep) -> MappingOut:
    """3302 目录对照撤销: the mapping stops applying from the day given (earlier care keeps it). Refused: 404
    for a mapping that does not exist."""
    async with runtime.transaction() as session:
        return MappingOut.model_validate(await mappings.revoke(session, body))


@mappings_router.get("", response_model=list[MappingOut])
async def list_mappings(
    runtime: RuntimeDep,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    medins_list_codg: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[MappingOut]:
    """Every mapping, revoked and ended ones too (the audit of what applied when)."""
    async with runtime.db.session() as session:
        rows = await mappings.listing(session, fixmedins_code, medins_list_codg, limit)
        return [MappingOut.model_validate(row) for row in rows]
