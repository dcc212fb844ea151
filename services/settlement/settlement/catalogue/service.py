from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement import reference
from settlement.adjudication.engine import ListEntry, ListFlags
from settlement.catalogue.models import CatalogueItem
from settlement.catalogue.schemas import CatalogueItemCreate, ImportError_, ImportResult
from settlement.versions import next_version, publish_change
from shared.clock import now_china
from shared.db import flush_unique, utcnow
from shared.errors import Conflict, DomainError, NotFound, Unprocessable

#: Marks an entry carries besides its class (yes/no columns of the catalogue file; engine ``ListFlags``).
FLAG_FIELDS = ("essential_drug", "negotiated_drug", "child_medicine", "special_item", "direct_reimbursement")
VERSION_FIELDS = (
    "name",
    "med_chrgitm_type",
    "chrgitm_lv",
    "selfpay_prop",
    "pric_uplmt",
    "restricted",
    *FLAG_FIELDS,
    "trace_required",
    "list_kind",
)
YES = ("1", "true", "y", "是")


def _same(item: CatalogueItem, data: CatalogueItemCreate) -> bool:
    caps = {level: str(cap) for level, cap in data.pric_uplmt_by_level.items()}
    regional = {admdvs: str(cap) for admdvs, cap in data.pric_uplmt_by_admdvs.items()}
    return (
        all(getattr(item, f) == getattr(data, f) for f in VERSION_FIELDS)
        and item.pric_uplmt_by_level == caps
        and (item.pric_uplmt_by_admdvs or {}) == regional
    )


async def create(session: AsyncSession, data: CatalogueItemCreate, ver: int | None = None) -> CatalogueItem:
    """Add an entry, or a new version of it from ``effective_from`` on (the current version then ends the
    day before). A version may not start inside or before an existing one's period except as its
    successor; the same version again is a no-op (imports can be re-run)."""
    versions = list(
        await session.scalars(
            select(CatalogueItem)
            .where(CatalogueItem.med_list_codg == data.med_list_codg)
            .order_by(col(CatalogueItem.effective_from))
            .with_for_update()
        )
    )
    for version in versions:
        if version.effective_from == data.effective_from:
            if _same(version, data):
                return version
            raise Conflict(
                f"目录编码 {data.med_list_codg} 自 {data.effective_from} 起的版本已存在且内容不同",
                code="CATALOGUE_VERSION_EXISTS",
            )
    if versions:
        latest = versions[-1]
        if data.effective_from <= latest.effective_from:
            raise Conflict(
                f"目录编码 {data.med_list_codg} 的新版本须晚于现行版本的生效日 {latest.effective_from}",
                code="CATALOGUE_VERSION_ORDER",
            )
    if ver is None:  # a version of its own (an import publishes one event for its whole file)
        ver = await next_version(session)
        await publish_change(session, ver, "items", [data.med_list_codg])
    if versions:
        latest.effective_to = data.effective_from - timedelta(days=1)
        latest.list_ver, latest.updated_at = ver, utcnow()
    item = _new_item(data, ver)
    session.add(item)
    await flush_unique(
        session, Conflict(f"目录编码已存在: {data.med_list_codg}", code="CATALOGUE_ITEM_EXISTS")
    )
    return item


def _new_item(data: CatalogueItemCreate, ver: int) -> CatalogueItem:
    return CatalogueItem(
        **data.model_dump(exclude={"pric_uplmt_by_level", "pric_uplmt_by_admdvs"}),
        pric_uplmt_by_level={level: str(cap) for level, cap in data.pric_uplmt_by_level.items()},
        pric_uplmt_by_admdvs={admdvs: str(cap) for admdvs, cap in data.pric_uplmt_by_admdvs.items()},
        list_ver=ver,
        updated_at=utcnow(),
    )


async def _versions_by_code(session: AsyncSession, codes: set[str]) -> dict[str, list[CatalogueItem]]:
    """Every version of the codes among ``codes`` that the list has (queried in chunks)."""
    found: dict[str, list[CatalogueItem]] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        for item in await session.scalars(
            select(CatalogueItem).where(col(CatalogueItem.med_list_codg).in_(chunk))
        ):
            found.setdefault(item.med_list_codg, []).append(item)
    return found


def _in_force(on: date) -> Any:
    return (col(CatalogueItem.effective_from) <= on) & (
        col(CatalogueItem.effective_to).is_(None) | (col(CatalogueItem.effective_to) >= on)
    )


async def get(session: AsyncSession, code: str, on: date | None = None) -> CatalogueItem:
    found = await session.scalar(
        select(CatalogueItem).where(CatalogueItem.med_list_codg == code, _in_force(on or now_china().date()))
    )
    if found is None:
        raise NotFound(f"目录编码不存在或不在有效期: {code}", code="CATALOGUE_ITEM_NOT_FOUND")
    return found


async def versions_of(session: AsyncSession, code: str) -> list[CatalogueItem]:
    return list(
        await session.scalars(
            select(CatalogueItem)
            .where(CatalogueItem.med_list_codg == code)
            .order_by(col(CatalogueItem.effective_from))
        )
    )


async def _versions(
    session: AsyncSession, codes: Iterable[str]
) -> dict[tuple[str, str], list[tuple[CatalogueItem, ListEntry]]]:
    """Every version of each code with what the engine reads of it, from the reference cache (every
    settlement and fee upload asks): a version's ``ListEntry`` is built once, when the version is loaded."""

    async def load(
        missing: list[tuple[str, str]],
    ) -> dict[tuple[str, str], list[tuple[CatalogueItem, ListEntry]]]:
        versions: dict[tuple[str, str], list[tuple[CatalogueItem, ListEntry]]] = {key: [] for key in missing}
        rows = await session.scalars(
            select(CatalogueItem).where(col(CatalogueItem.med_list_codg).in_([code for _, code in missing]))
        )
        for item in rows:
            versions[("catalogue", item.med_list_codg)].append((item, list_entry(item)))
        return versions

    return await reference.cached_many(session, [("catalogue", code) for code in set(codes)], load)


def _version_on(
    versions: list[tuple[CatalogueItem, ListEntry]], on: date
) -> tuple[CatalogueItem, ListEntry] | None:
    found = None
    for version in versions:
        item = version[0]
        if item.effective_from <= on and (item.effective_to is None or item.effective_to >= on):
            found = version
    return found


async def find_many(session: AsyncSession, codes: Iterable[str], on: date) -> dict[str, CatalogueItem]:
    """The version of each code in force on the day of service (read-only). A code with no version in force
    is left out."""
    out = {}
    for (_, code), versions in (await _versions(session, codes)).items():
        version = _version_on(versions, on)
        if version is not None:
            out[code] = version[0]
    return out


async def find_entries(session: AsyncSession, codes: Iterable[str], on: date) -> dict[str, ListEntry]:
    """``find_many`` as the engine reads it (``list_entry`` of each version in force)."""
    out = {}
    for (_, code), versions in (await _versions(session, codes)).items():
        version = _version_on(versions, on)
        if version is not None:
            out[code] = version[1]
    return out


CSV_COLUMNS = (
    "med_list_codg",
    "name",
    "med_chrgitm_type",
    "chrgitm_lv",
    "selfpay_prop",
    "pric_uplmt",
    "pric_uplmt_lv1",
    "pric_uplmt_lv2",
    "pric_uplmt_lv3",
    "pric_uplmt_by_admdvs",
    "restricted",
    *FLAG_FIELDS,
    "trace_required",
    "effective_from",
    "list_kind",
)


def regional_caps(text: str) -> dict[str, str]:
    """The ``pric_uplmt_by_admdvs`` column: a treating region's own caps for its institutions (就医地限价,
    docs/domain.md "Out-of-area care"), ``admdvs:cap`` pairs separated by ``;`` (``341502:9.00;341503:8.5``);
    empty: none. The model checks the regions and caps; a pair without its ``:`` is refused here."""
    caps: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(";"))):
        admdvs, sep, cap = pair.partition(":")
        if not sep or not admdvs.strip() or not cap.strip() or admdvs.strip() in caps:
            raise ValueError(f"就医地限价须写作 区划:限价，以分号分隔，区划不重复: {pair}")
        caps[admdvs.strip()] = cap.strip()
    return caps


def parse_csv(text: str) -> tuple[list[tuple[int, CatalogueItemCreate]], list[ImportError_]]:
    """The entries of a catalogue file (columns CSV_COLUMNS; optional ones may be empty) by line number, and
    every line that is not a valid entry. Reads only the text: ``import_csv`` stores what this accepts, and
    the demo's sample catalogue is checked with it (tests/settlement/test_catalogue_sample.py)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [
        c
        for c in ("med_list_codg", "name", "med_chrgitm_type", "chrgitm_lv")
        if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise DomainError(f"目录文件缺少列: {', '.join(missing)}", code="BAD_FILE", status_code=422)
    entries: list[tuple[int, CatalogueItemCreate]] = []
    errors: list[ImportError_] = []
    for number, row in enumerate(reader, start=2):
        values = {k: (v or "").strip() for k, v in row.items() if k}
        caps = {lv: values.get(f"pric_uplmt_lv{lv}", "") for lv in ("1", "2", "3")}
        try:
            entries.append(
                (
                    number,
                    CatalogueItemCreate.model_validate(
                        {
                            "med_list_codg": values["med_list_codg"],
                            "name": values["name"],
                            "med_chrgitm_type": values["med_chrgitm_type"],
                            "chrgitm_lv": values["chrgitm_lv"],
                            "selfpay_prop": values.get("selfpay_prop") or "0",
                            "pric_uplmt": values.get("pric_uplmt") or None,
                            "pric_uplmt_by_level": {lv: cap for lv, cap in caps.items() if cap},
                            "pric_uplmt_by_admdvs": regional_caps(values.get("pric_uplmt_by_admdvs", "")),
                            "restricted": values.get("restricted", "").lower() in YES,
                            **{flag: values.get(flag, "").lower() in YES for flag in FLAG_FIELDS},
                            "trace_required": values.get("trace_required", "").lower() in YES,
                            "list_kind": values.get("list_kind") or None,
                            "effective_from": values.get("effective_from") or "2000-01-01",
                        }
                    ),
                )
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            message = str(first.get("msg", "")).removeprefix("Value error, ")
            errors.append(
                ImportError_(
                    line=number,
                    med_list_codg=values.get("med_list_codg", ""),
                    message=f"{where}: {message}" if where else message,
                )
            )
        except ValueError as exc:  # the regional caps' form (a ValidationError is one too, caught above)
            code = values.get("med_list_codg", "")
            errors.append(
                ImportError_(line=number, med_list_codg=code, message=f"pric_uplmt_by_admdvs: {exc}")
            )
    return entries, errors


async def import_csv(session: AsyncSession, text: str) -> ImportResult:
    """Import a catalogue file (``parse_csv``). All or nothing: a file with any bad line imports nothing and
    lists every bad line."""
    entries, errors = parse_csv(text)
    imported = unchanged = 0
    changed: list[str] = []
    if not errors:
        ver = await next_version(session)  # one version for the whole file
        # A code the list does not know yet and the file names once is simply added, all in one flush (a
        # national file is mostly such lines); the others go one by one through ``create``'s version rules.
        # A line the list already holds as it stands (a re-run import) is counted unchanged without a write.
        counts = Counter(entry.med_list_codg for _, entry in entries)
        known = await _versions_by_code(session, set(counts))
        fresh = [e for _, e in entries if counts[e.med_list_codg] == 1 and e.med_list_codg not in known]
        session.add_all([_new_item(entry, ver) for entry in fresh])
        await flush_unique(session, Conflict("目录编码已存在（并发导入）", code="CATALOGUE_ITEM_EXISTS"))
        imported, changed = len(fresh), [entry.med_list_codg for entry in fresh]
        fresh_codes = set(changed)
        for number, entry in entries:
            if entry.med_list_codg in fresh_codes:
                continue
            if counts[entry.med_list_codg] == 1 and any(
                v.effective_from == entry.effective_from and _same(v, entry)
                for v in known.get(entry.med_list_codg, [])
            ):
                unchanged += 1
                continue
            try:
                async with session.begin_nested():
                    before = len(await versions_of(session, entry.med_list_codg))
                    await create(session, entry, ver)
                    if len(await versions_of(session, entry.med_list_codg)) > before:
                        imported += 1
                        changed.append(entry.med_list_codg)
                    else:
                        unchanged += 1
            except DomainError as exc:
                errors.append(
                    ImportError_(line=number, med_list_codg=entry.med_list_codg, message=exc.message)
                )
    if errors:
        raise DomainError(
            f"目录文件有 {len(errors)} 行错误，未导入任何条目",
            code="IMPORT_REFUSED",
            status_code=422,
            details=[e.model_dump() for e in errors],
        )
    if changed:
        await publish_change(session, ver, "items", changed)
    return ImportResult(imported=imported, unchanged=unchanged, errors=[])


def list_entry(item: CatalogueItem) -> ListEntry:
    """What the engine needs to know about a catalogue item."""
    return ListEntry(
        chrgitm_lv=item.chrgitm_lv,
        selfpay_prop=item.selfpay_prop,
        price_cap=item.pric_uplmt,
        med_chrgitm_type=item.med_chrgitm_type,
        price_cap_by_level={level: Decimal(cap) for level, cap in item.pric_uplmt_by_level.items()},
        price_cap_by_admdvs={
            admdvs: Decimal(cap) for admdvs, cap in (item.pric_uplmt_by_admdvs or {}).items()
        },
        restricted=item.restricted,
        flags=ListFlags(**{flag: bool(getattr(item, flag)) for flag in FLAG_FIELDS}),
    )


class TracedLine(Protocol):
    """A dispensed line as the trace-code rule reads it (a pharmacy line, an outpatient fee line)."""

    @property
    def feedetl_sn(self) -> str: ...
    @property
    def med_list_codg(self) -> str: ...
    @property
    def drug_trac_codg(self) -> list[str]: ...


async def require_trace_codes(session: AsyncSession, lines: Sequence[TracedLine], on: date) -> None:
    """A line of a drug the list in force on ``on`` marks ``trace_required`` must name at least one
    traceability code (追溯码); the lines that do not are refused by their place (from 1) and
    ``feedetl_sn`` (docs/domain.md, "Inventory")."""
    items = await find_many(session, {x.med_list_codg for x in lines}, on)
    missing = [
        f"第 {number} 行（费用明细 {x.feedetl_sn}）药品 {x.med_list_codg}"
        for number, x in enumerate(lines, start=1)
        if (item := items.get(x.med_list_codg)) is not None and item.trace_required and not x.drug_trac_codg
    ]
    if missing:
        raise Unprocessable(
            "须上传药品追溯码 drug_trac_codg: " + "；".join(missing), code="TRACE_CODE_REQUIRED"
        )
