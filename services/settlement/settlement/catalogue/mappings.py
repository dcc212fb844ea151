"""目录对照 (3301 / 3302): an institution's own item codes mapped to national list codes, with the days
they apply (docs/domain.md, "Catalogue mapping"). A fee line that carries only the institution's code is
settled as the national code mapped for it on the day of the fee. Every change to a mapping (its upload,
its end set by a later upload, its revocation) takes the next catalogue version, so that 1317 answers an
institution exactly the mappings changed after the version it holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.catalogue.models import CatalogueItem, CatalogueMapping
from settlement.db import infra
from settlement.versions import next_version
from shared.clock import now_china
from shared.contracts.v1.catalogue import MappingRevocation, MappingUpload
from shared.contracts.v1.events import CatalogueMappingChanged
from shared.db import utcnow
from shared.errors import Conflict, DomainError, NotFound
from shared.outbox import enqueue


async def _publish(session: AsyncSession, action: str, mapping: CatalogueMapping, msgid: str) -> None:
    event = CatalogueMappingChanged(
        ver=mapping.list_ver,
        action="uploaded" if action == "uploaded" else "revoked",
        fixmedins_code=mapping.fixmedins_code,
        medins_list_codg=mapping.medins_list_codg,
        med_list_codg=mapping.med_list_codg,
        begndate=mapping.begndate,
        enddate=mapping.enddate,
        revoked_on=mapping.revoked_on,
        msgid=msgid,
    )
    await enqueue(session, infra, event, "settlement")


def applies(mapping: CatalogueMapping, on: date) -> bool:
    return (
        mapping.begndate <= on
        and (mapping.enddate is None or mapping.enddate >= on)
        and (mapping.revoked_on is None or on < mapping.revoked_on)
    )


async def _of_code(
    session: AsyncSession, fixmedins_code: str, medins_list_codg: str
) -> list[CatalogueMapping]:
    return list(
        await session.scalars(
            select(CatalogueMapping)
            .where(
                CatalogueMapping.fixmedins_code == fixmedins_code,
                CatalogueMapping.medins_list_codg == medins_list_codg,
            )
            .order_by(col(CatalogueMapping.begndate), col(CatalogueMapping.id))
            .with_for_update()
        )
    )


async def upload(session: AsyncSession, data: MappingUpload) -> CatalogueMapping:
    """Map the code from ``begndate``. The national code must be on the list on that day
    (``MAPPING_TARGET_UNKNOWN``). An open mapping of the same code that began earlier ends the day before;
    the same mapping again (same day, same code) is answered as it stands; another from the same day is
    ``MAPPING_EXISTS`` (revoke it first)."""
    if data.enddate is not None and data.enddate < data.begndate:
        raise DomainError("结束日期早于开始日期", code="MAPPING_DATES", status_code=422)
    target = await session.scalar(
        select(CatalogueItem).where(
            CatalogueItem.med_list_codg == data.med_list_codg,
            col(CatalogueItem.effective_from) <= data.begndate,
            col(CatalogueItem.effective_to).is_(None) | (col(CatalogueItem.effective_to) >= data.begndate),
        )
    )
    if target is None:
        raise DomainError(
            f"医疗目录编码 {data.med_list_codg} 在 {data.begndate} 不在医保目录中，不能对照",
            code="MAPPING_TARGET_UNKNOWN",
            status_code=422,
        )
    now = utcnow()
    ended: list[CatalogueMapping] = []
    for earlier in await _of_code(session, data.fixmedins_code, data.medins_list_codg):
        if earlier.revoked_on is not None and earlier.revoked_on <= earlier.begndate:
            continue  # revoked before it ever applied
        if earlier.begndate == data.begndate:
            if earlier.med_list_codg == data.med_list_codg and earlier.revoked_on is None:
                return earlier
            raise Conflict(
                f"院内编码 {data.medins_list_codg} 自 {data.begndate} 起已有对照，请先撤销【3302】",
                code="MAPPING_EXISTS",
            )
        if earlier.begndate < data.begndate and (earlier.enddate is None or earlier.enddate >= data.begndate):
            ended.append(earlier)
    ver = await next_version(session)
    for earlier in ended:
        earlier.enddate, earlier.updated_at, earlier.list_ver = data.begndate - timedelta(days=1), now, ver
    mapping = CatalogueMapping(
        **data.model_dump(exclude={"msgid"}),
        created_msgid=data.msgid,
        created_at=now,
        updated_at=now,
        list_ver=ver,
    )
    session.add(mapping)
    await session.flush()
    await _publish(session, "uploaded", mapping, data.msgid)
    return mapping


async def revoke(session: AsyncSession, data: MappingRevocation) -> CatalogueMapping:
    """Revoke the mapping of the code to ``med_list_codg`` in force today, from today on. The same msgid
    again answers the mapping it revoked; nothing in force is ``MAPPING_NOT_FOUND``."""
    today = now_china().date()
    found = None
    for mapping in await _of_code(session, data.fixmedins_code, data.medins_list_codg):
        if mapping.med_list_codg != data.med_list_codg:
            continue
        if mapping.revoked_msgid == data.msgid:
            return mapping
        if mapping.revoked_on is None and (mapping.enddate is None or mapping.enddate >= today):
            found = mapping
    if found is None:
        raise NotFound(
            f"院内编码 {data.medins_list_codg} 没有对照到 {data.med_list_codg} 的在用目录对照",
            code="MAPPING_NOT_FOUND",
        )
    found.revoked_on, found.revoked_msgid, found.updated_at = max(today, found.begndate), data.msgid, utcnow()
    found.list_ver = await next_version(session)
    await session.flush()
    await _publish(session, "revoked", found, data.msgid)
    return found


async def listing(
    session: AsyncSession, fixmedins_code: str | None, medins_list_codg: str | None, limit: int
) -> list[CatalogueMapping]:
    query = select(CatalogueMapping)
    if fixmedins_code:
        query = query.where(CatalogueMapping.fixmedins_code == fixmedins_code)
    if medins_list_codg:
        query = query.where(CatalogueMapping.medins_list_codg == medins_list_codg)
    order = (
        col(CatalogueMapping.fixmedins_code),
        col(CatalogueMapping.medins_list_codg),
        col(CatalogueMapping.id),
    )
    return list(await session.scalars(query.order_by(*order).limit(limit)))


class MappedLine(Protocol):
    feedetl_sn: str
    med_list_codg: str
    medins_list_codg: str


async def national_codes(
    session: AsyncSession, fixmedins_code: str, lines: Sequence[tuple[MappedLine, date]]
) -> dict[str, str]:
    """feedetl_sn -> the national code of each line that carries only the institution's code, by the
    mapping in force on the line's day; a line with none is refused ``UNMAPPED_ITEM`` naming its line
    number (1-based, in the order sent) and code."""
    wanted = [(n, line, day) for n, (line, day) in enumerate(lines, start=1) if not line.med_list_codg]
    if not wanted:
        return {}
    rows = await session.scalars(
        select(CatalogueMapping).where(
            CatalogueMapping.fixmedins_code == fixmedins_code,
            col(CatalogueMapping.medins_list_codg).in_({line.medins_list_codg for _, line, _ in wanted}),
        )
    )
    by_code: dict[str, list[CatalogueMapping]] = {}
    for row in rows:
        by_code.setdefault(row.medins_list_codg, []).append(row)
    out: dict[str, str] = {}
    for number, line, day in wanted:
        found = [m for m in by_code.get(line.medins_list_codg, []) if applies(m, day)]
        if not found:
            raise DomainError(
                f"第 {number} 行（费用明细 {line.feedetl_sn}）院内编码 {line.medins_list_codg} 在 {day} "
                "没有在用的目录对照，请先上传目录对照【3301】或填写医疗目录编码",
                code="UNMAPPED_ITEM",
                status_code=422,
            )
        out[line.feedetl_sn] = max(found, key=lambda m: (m.begndate, m.id or 0)).med_list_codg
    return out
