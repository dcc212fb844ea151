from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.adjudication.engine import ListEntry
from settlement.catalogue.models import CatalogueItem
from settlement.catalogue.schemas import CatalogueItemCreate
from shared.db import flush_unique
from shared.errors import Conflict, NotFound


async def create(session: AsyncSession, data: CatalogueItemCreate) -> CatalogueItem:
    item = CatalogueItem(
        **data.model_dump(exclude={"pric_uplmt_by_level"}),
        pric_uplmt_by_level={level: str(cap) for level, cap in data.pric_uplmt_by_level.items()},
    )
    session.add(item)
    await flush_unique(
        session, Conflict(f"目录编码已存在: {data.med_list_codg}", code="CATALOGUE_ITEM_EXISTS")
    )
    return item


async def get(session: AsyncSession, code: str) -> CatalogueItem:
    found = await session.scalar(select(CatalogueItem).where(CatalogueItem.med_list_codg == code))
    if found is None:
        raise NotFound(f"目录编码不存在: {code}", code="CATALOGUE_ITEM_NOT_FOUND")
    return found


async def find_many(session: AsyncSession, codes: Iterable[str]) -> dict[str, CatalogueItem]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = await session.scalars(select(CatalogueItem).where(col(CatalogueItem.med_list_codg).in_(wanted)))
    return {item.med_list_codg: item for item in rows}


def list_entry(item: CatalogueItem) -> ListEntry:
    """What the engine needs to know about a catalogue item."""
    return ListEntry(
        chrgitm_lv=item.chrgitm_lv,
        selfpay_prop=item.selfpay_prop,
        price_cap=item.pric_uplmt,
        med_chrgitm_type=item.med_chrgitm_type,
        price_cap_by_level={level: Decimal(cap) for level, cap in item.pric_uplmt_by_level.items()},
        restricted=item.restricted,
    )
