"""The 13xx catalogue downloads (docs/interface.md, "13xx catalogue downloads"): the rows of one list
changed after the catalogue version an institution holds, in version order, a page at a time. Read from
the tables themselves (never the reference cache), so a new catalogue version is seen by the next
download.

The chronic disease list (1309) is the benefit policies' own: each policy's ``chronic.diseases``, the list
the chronic rules and the 2503 filings check, one row per policy and disease for the policy's period, at
the version the policy was added at.

The match of the medical list to the insurance list (1316, ``item-matches``) is the catalogue items
themselves: on this platform an item's medical list code is its insurance list code, so each version of
an item is one match, and the download cannot differ from the list the settlements read. An institution's
own mappings (1317, ``mappings``) are its 3301/3302 rows, each at the version of its last change.

The item lists and the mappings are narrowed by the filters 1316 and 1317 send (``RowFilter``): a code, the
institution's own code or a part of its name, the 目录类别, valid or not, updated since a time, beginning
on or after a day."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, false, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.catalogue.models import CatalogueItem, CatalogueMapping, NationalCode
from settlement.catalogue.schemas import DRUG_TYPES, SERVICE_TYPES
from settlement.policy.models import BenefitPolicy
from settlement.policy.service import document_of
from settlement.versions import newest_version
from shared.contracts.v1.catalogue import CatalogueChanges, CatalogueRow, ListName
from shared.errors import DomainError

#: Which 医疗收费项目类别 each item list holds, of the items kept in no list of their own (``list_kind``).
ITEM_TYPES: dict[str, tuple[str, ...]] = {
    "drugs": DRUG_TYPES,
    "herbs": ("10",),
    "services": SERVICE_TYPES,
    "materials": ("08",),
}
#: The lists of the items kept apart from their class, by ``list_kind``.
ITEM_KINDS = {
    "preparations": "prep",
    "ethnic-drugs": "ethnic",
    "granules": "granule",
    "services-new": "service2",
}
#: 目录类别 (``list_type``) by ``list_kind``, then by 医疗收费项目类别: 101 西药中成药, 102 中药饮片,
#: 103 医疗机构制剂, 104 民族药, 201 医疗服务项目, 301 医用耗材. 中药配方颗粒 are paid as 中药饮片 are, the
#: new service items are service items (docs/interface.md, "13xx catalogue downloads").
LIST_TYPE_BY_KIND = {"prep": "103", "ethnic": "104", "granule": "102", "service2": "201"}
LIST_TYPE_BY_CLASS = {
    **dict.fromkeys(DRUG_TYPES, "101"),
    "10": "102",
    **dict.fromkeys(SERVICE_TYPES, "201"),
    "08": "301",
}


def list_type(item: CatalogueItem) -> str:
    """The item's 目录类别."""
    if item.list_kind is not None:
        return LIST_TYPE_BY_KIND[item.list_kind]
    return LIST_TYPE_BY_CLASS.get(item.med_chrgitm_type, "101")


CODE_KINDS = {
    "diseases": "dise",
    "operations": "oprn",
    "tumours": "tumr",
    "tcm-diseases": "tcmdise",
    "tcm-syndromes": "tcmsymp",
    "bydise-diseases": "bydise",
    "day-surgeries": "daysrg",
}


def _item_filter(list_name: str, admdvs: str | None) -> Any:
    if list_name in ITEM_TYPES:
        return col(CatalogueItem.med_chrgitm_type).in_(ITEM_TYPES[list_name]) & col(
            CatalogueItem.list_kind
        ).is_(None)
    if list_name in ITEM_KINDS:
        return col(CatalogueItem.list_kind) == ITEM_KINDS[list_name]
    if list_name == "price-caps":
        # Every item with a cap of its own or by level, and those a region caps: the caller's region's
        # (``admdvs``, six digits: its key in the JSON text) or, not named, any region's.
        regional = cast(col(CatalogueItem.pric_uplmt_by_admdvs), String)
        by_region = regional.like(f'%"{admdvs}"%') if admdvs is not None else regional != "{}"
        return (
            col(CatalogueItem.pric_uplmt).is_not(None)
            | (cast(col(CatalogueItem.pric_uplmt_by_level), String) != "{}")
            | by_region
        )
    if list_name == "selfpay-ratios":
        return col(CatalogueItem.selfpay_prop) > 0
    return None  # items: the whole list


@dataclass(frozen=True)
class RowFilter:
    """What a query narrows a list's rows by (1312 / 1316 / 1317; every field None: the whole list). Each
    applies to the item lists and the mappings (an item's marks: none of a mapping's rows has them); the code
    lists and the chronic diseases take none."""

    #: The national code (医疗目录编码 / 医保目录编码, one code on this platform).
    code: str | None = None
    #: The institution's own code (mappings).
    medins_list_codg: str | None = None
    #: A part of the name: an item's, or the institution's own name for the item (mappings).
    name_contains: str | None = None
    #: 医疗收费项目类别, 收费项目等级 and 限制使用 of an item (1312).
    med_chrgitm_type: str | None = None
    chrgitm_lv: str | None = None
    restricted: bool | None = None
    #: 目录类别 (101 西药中成药, 102 中药饮片, ...; ``list_type`` of an item).
    list_type: str | None = None
    #: vali_flag: True the rows that stand (an item's version, a mapping not revoked), False the others.
    valid: bool | None = None
    #: Changed at or after this instant (updt_time).
    updated_since: datetime | None = None
    #: Beginning on or after this day (begndate).
    begins_from: date | None = None

    def narrows(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def _list_type_is(value: str) -> Any:
    """The items whose ``list_type`` is ``value``: by their list kind, else by their class (101 also for
    a class no list names, as ``list_type`` reads it)."""
    kinds = [kind for kind, type_ in LIST_TYPE_BY_KIND.items() if type_ == value]
    classes = [cls for cls, type_ in LIST_TYPE_BY_CLASS.items() if type_ == value]
    unkept = col(CatalogueItem.list_kind).is_(None)
    found = col(CatalogueItem.list_kind).in_(kinds) | (
        unkept & col(CatalogueItem.med_chrgitm_type).in_(classes)
    )
    if value == "101":
        found = found | (unkept & col(CatalogueItem.med_chrgitm_type).not_in(list(LIST_TYPE_BY_CLASS)))
    return found


def _narrowed(table: Any, narrow: RowFilter) -> list[Any]:
    """The conditions of ``narrow`` on the item or mapping table."""
    found: list[Any] = []
    item_marks = (narrow.med_chrgitm_type, narrow.chrgitm_lv, narrow.restricted)
    if table is CatalogueMapping:
        code, begins, name = (
            col(CatalogueMapping.med_list_codg),
            col(CatalogueMapping.begndate),
            col(CatalogueMapping.name),
        )
        if narrow.medins_list_codg is not None:
            found.append(col(CatalogueMapping.medins_list_codg) == narrow.medins_list_codg)
        if narrow.list_type is not None:
            found.append(col(CatalogueMapping.list_type) == narrow.list_type)
        if narrow.valid is not None:
            revoked = col(CatalogueMapping.revoked_on)
            found.append(revoked.is_(None) if narrow.valid else revoked.is_not(None))
        if any(mark is not None for mark in item_marks):
            found.append(false())  # a mapping has none of an item's marks
    else:
        code, begins, name = (
            col(CatalogueItem.med_list_codg),
            col(CatalogueItem.effective_from),
            col(CatalogueItem.name),
        )
        if narrow.medins_list_codg is not None or narrow.valid is False:
            found.append(false())  # no item has an institution's code, and every version stands
        if narrow.list_type is not None:
            found.append(_list_type_is(narrow.list_type))
        if narrow.med_chrgitm_type is not None:
            found.append(col(CatalogueItem.med_chrgitm_type) == narrow.med_chrgitm_type)
        if narrow.chrgitm_lv is not None:
            found.append(col(CatalogueItem.chrgitm_lv) == narrow.chrgitm_lv)
        if narrow.restricted is not None:
            found.append(col(CatalogueItem.restricted) == narrow.restricted)
    if narrow.name_contains is not None:
        found.append(name.contains(narrow.name_contains, autoescape=True))
    if narrow.code is not None:
        found.append(code == narrow.code)
    if narrow.updated_since is not None:
        found.append(col(table.updated_at) >= narrow.updated_since)
    if narrow.begins_from is not None:
        found.append(begins >= narrow.begins_from)
    return found


def _item_row(item: CatalogueItem) -> CatalogueRow:
    return CatalogueRow(
        code=item.med_list_codg,
        name=item.name,
        effective_from=item.effective_from,
        effective_to=item.effective_to,
        list_ver=item.list_ver,
        updated_at=item.updated_at,
        rid=f"catalogue_items-{item.id}",
        med_chrgitm_type=item.med_chrgitm_type,
        chrgitm_lv=item.chrgitm_lv,
        selfpay_prop=item.selfpay_prop,
        pric_uplmt=item.pric_uplmt,
        pric_uplmt_by_level={level: Decimal(cap) for level, cap in item.pric_uplmt_by_level.items()},
        pric_uplmt_by_admdvs={
            admdvs: Decimal(cap) for admdvs, cap in (item.pric_uplmt_by_admdvs or {}).items()
        },
        restricted=item.restricted,
        list_type=list_type(item),
        created_at=item.created_at,
    )


def _mapping_row(mapping: CatalogueMapping) -> CatalogueRow:
    """A mapping as 1317 lists it: revoked, it ends the day before its revocation and no longer stands."""
    end = mapping.enddate
    if mapping.revoked_on is not None:
        last = mapping.revoked_on - timedelta(days=1)
        end = last if end is None else min(end, last)
    return CatalogueRow(
        code=mapping.med_list_codg,
        name=mapping.name,
        effective_from=mapping.begndate,
        effective_to=end,
        list_ver=mapping.list_ver,
        updated_at=mapping.updated_at,
        rid=f"catalogue_mappings-{mapping.id}",
        list_type=mapping.list_type,
        fixmedins_code=mapping.fixmedins_code,
        medins_list_codg=mapping.medins_list_codg,
        created_at=mapping.created_at,
        valid=mapping.revoked_on is None,
    )


def _code_row(entry: NationalCode) -> CatalogueRow:
    return CatalogueRow(
        code=entry.code,
        name=entry.name,
        effective_from=entry.effective_from,
        effective_to=entry.effective_to,
        list_ver=entry.list_ver,
        updated_at=entry.updated_at,
        rid=f"national_codes-{entry.id}",
        oprn_code=entry.oprn_code,
        oprn_name=entry.oprn_name,
    )


def _chronic_rows(policy: BenefitPolicy) -> list[CatalogueRow]:
    """The chronic diseases of one policy, in the order its document lists them."""
    chronic = document_of(policy).chronic
    if chronic is None:
        return []
    return [
        CatalogueRow(
            code=code,
            name=chronic.names.get(code, ""),
            effective_from=policy.effective_from,
            effective_to=policy.effective_to,
            list_ver=policy.list_ver,
            updated_at=policy.created_at,
            rid=f"benefit_policies-{policy.id}-{code}",
            admdvs=policy.admdvs,
            insutype=policy.insutype,
        )
        for code in chronic.diseases
    ]


def _out_of_range(page_num: int, page_size: int, total: int) -> DomainError:
    pages = max(1, -(-total // page_size))
    return DomainError(
        f"页码 {page_num} 超出范围：共 {pages} 页（每页 {page_size} 条，共 {total} 条）",
        code="PAGE_OUT_OF_RANGE",
        status_code=422,
    )


async def _chronic_changes(
    session: AsyncSession,
    after_ver: int,
    newest: int,
    page_num: int,
    page_size: int,
    upto_ver: int | None,
    cursor: str | None,
) -> CatalogueChanges:
    """The chronic diseases of the policies added after ``after_ver``. A policy's rows go together: a
    cursor batch holds ``page_size`` policies (its rows may be more), a page ``page_size`` rows."""
    where: Any = col(BenefitPolicy.list_ver) > after_ver
    if upto_ver is not None:
        where = where & (col(BenefitPolicy.list_ver) <= upto_ver)
    query = select(BenefitPolicy).where(where).order_by(col(BenefitPolicy.list_ver), col(BenefitPolicy.id))
    result = CatalogueChanges(
        list_name="chronic-diseases",
        after_ver=after_ver,
        newest_ver=newest,
        total=-1,
        page_num=1,
        page_size=page_size,
        rows=[],
    )
    if cursor is not None:
        ver, row_id = parse_cursor(cursor)
        after = (col(BenefitPolicy.list_ver) > ver) | (
            (col(BenefitPolicy.list_ver) == ver) & (col(BenefitPolicy.id) > row_id)
        )
        batch = list(await session.scalars(query.where(after).limit(page_size)))
        last = batch[-1] if len(batch) == page_size else None
        result.rows = [row for policy in batch for row in _chronic_rows(policy)]
        result.next_cursor = f"{last.list_ver}:{last.id}" if last is not None else None
        return result
    rows = [row for policy in await session.scalars(query) for row in _chronic_rows(policy)]
    if page_num > max(1, -(-len(rows) // page_size)):
        raise _out_of_range(page_num, page_size, len(rows))
    result.total, result.page_num = len(rows), page_num
    result.rows = rows[(page_num - 1) * page_size : page_num * page_size]
    return result


def parse_cursor(cursor: str) -> tuple[int, int]:
    """``list_ver:id`` (the endpoint checks the form)."""
    ver, _, row_id = cursor.partition(":")
    return int(ver), int(row_id)


def _row(row: CatalogueItem | NationalCode | CatalogueMapping) -> CatalogueRow:
    if isinstance(row, CatalogueMapping):
        return _mapping_row(row)
    return _code_row(row) if isinstance(row, NationalCode) else _item_row(row)


def _table_and_filter(list_name: ListName, fixmedins_code: str | None, admdvs: str | None) -> tuple[Any, Any]:
    """The table a list is read from and what selects its rows there (None: every row)."""
    if list_name in CODE_KINDS:
        return NationalCode, col(NationalCode.kind) == CODE_KINDS[list_name]
    if list_name == "mappings":  # one institution's (the endpoint requires the code for them)
        return CatalogueMapping, col(CatalogueMapping.fixmedins_code) == (fixmedins_code or "")
    return CatalogueItem, _item_filter(list_name, admdvs)


async def changes(
    session: AsyncSession,
    list_name: ListName,
    after_ver: int,
    page_num: int,
    page_size: int,
    *,
    upto_ver: int | None = None,
    cursor: str | None = None,
    fixmedins_code: str | None = None,
    admdvs: str | None = None,
    narrow: RowFilter = RowFilter(),
) -> CatalogueChanges:
    """One page of the rows of ``list_name`` changed after ``after_ver``. A version newer than the newest
    is refused (``CATALOGUE_VER_UNKNOWN``: the caller holds a version this platform never gave), as is a
    page past the last (``PAGE_OUT_OF_RANGE``; page 1 of nothing is an empty page). ``mappings`` are the
    mappings of ``fixmedins_code`` only; ``admdvs``: the caller's region, whose own price caps the
    price-caps list includes (1318); ``narrow``: the rows a query asks for (``RowFilter``), refused
    (``FILTER_NOT_SUPPORTED``) for a code list or the chronic diseases."""
    if narrow.narrows() and (list_name == "chronic-diseases" or list_name in CODE_KINDS):
        message = f"{list_name} 目录不支持按条件查询"
        raise DomainError(message, code="FILTER_NOT_SUPPORTED", status_code=422)
    newest = await newest_version(session)
    if after_ver > newest:
        message = f"目录版本号 {after_ver} 不存在：最新版本为 {newest}"
        raise DomainError(message, code="CATALOGUE_VER_UNKNOWN", status_code=422)
    if list_name == "chronic-diseases":
        return await _chronic_changes(session, after_ver, newest, page_num, page_size, upto_ver, cursor)
    table, extra = _table_and_filter(list_name, fixmedins_code, admdvs)
    where: Any = col(table.list_ver) > after_ver
    if extra is not None:
        where = where & extra
    for condition in _narrowed(table, narrow):
        where = where & condition
    if upto_ver is not None:
        where = where & (col(table.list_ver) <= upto_ver)
    order = (col(table.list_ver), col(table.id))
    if cursor is not None:
        ver, row_id = parse_cursor(cursor)
        after = (col(table.list_ver) > ver) | ((col(table.list_ver) == ver) & (col(table.id) > row_id))
        query = select(table).where(where & after).order_by(*order).limit(page_size)
        batch = list(await session.scalars(query))
        last = batch[-1] if len(batch) == page_size else None
        return CatalogueChanges(
            list_name=list_name,
            after_ver=after_ver,
            newest_ver=newest,
            total=-1,
            page_num=1,
            page_size=page_size,
            rows=[_row(r) for r in batch],
            next_cursor=f"{last.list_ver}:{last.id}" if last is not None else None,
        )
    total = int(await session.scalar(select(func.count()).select_from(table).where(where)) or 0)
    query = select(table).where(where).order_by(*order)
    if page_num > max(1, -(-total // page_size)):
        raise _out_of_range(page_num, page_size, total)
    found = await session.scalars(query.offset((page_num - 1) * page_size).limit(page_size))
    rows = [_row(r) for r in found]
    return CatalogueChanges(
        list_name=list_name,
        after_ver=after_ver,
        newest_ver=newest,
        total=total,
        page_num=page_num,
        page_size=page_size,
        rows=rows,
    )
