"""A pharmacy's inventory (进销存, 3501-3507; docs/domain.md, "Inventory"): batches with what is on hand,
never below zero, and the traceability codes (追溯码) each movement brings in or takes out. A settlement line
that names a code must name one the pharmacy holds (``require_held``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.catalogue import service as catalogue
from settlement.inventory.models import InventoryBatch, InventoryMovement, TraceCode
from shared.clock import now_china
from shared.contracts.v1.inventory import BatchOut, DeletionIn, DeletionOut, MovementIn, MovementOut
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable

IN_STOCK, SOLD, RETURNED = "in_stock", "sold", "returned"
#: 3502 库存变更类型 that bring stock in (the others take it out).
CHANGES_IN = ("101", "103", "106")
#: 3507 进销存数据类型 -> the operations it takes back.
DATA_TYPES = {
    "1": ("stocktake",),
    "2": ("change",),
    "3": ("purchase", "purchase_return"),
    "4": ("sale", "sale_return"),
}
#: What a movement does to the codes it names: the status they must have before (None: must be new or
#: returned), and the status after.
CODE_MOVES: dict[str, tuple[tuple[str | None, ...], str]] = {
    "purchase": ((None, RETURNED), IN_STOCK),
    "stocktake": ((None, IN_STOCK, RETURNED), IN_STOCK),
    "purchase_return": ((IN_STOCK,), RETURNED),
    "sale": ((IN_STOCK,), SOLD),
    "sale_return": ((SOLD,), IN_STOCK),
}
_STATUS_NAMES = {IN_STOCK: "在库", SOLD: "已售", RETURNED: "已退货", None: "未入库"}


async def _batch(session: AsyncSession, fixmedins_code: str, bchno: str) -> InventoryBatch | None:
    return await session.scalar(
        select(InventoryBatch)
        .where(InventoryBatch.fixmedins_code == fixmedins_code, InventoryBatch.fixmedins_bchno == bchno)
        .with_for_update()
    )


async def batch_out(session: AsyncSession, batch: InventoryBatch) -> BatchOut:
    codes = await session.scalars(
        select(TraceCode.drug_trac_codg)
        .where(
            TraceCode.fixmedins_code == batch.fixmedins_code,
            TraceCode.fixmedins_bchno == batch.fixmedins_bchno,
            TraceCode.status == IN_STOCK,
        )
        .order_by(col(TraceCode.drug_trac_codg))
    )
    return BatchOut(
        fixmedins_code=batch.fixmedins_code,
        fixmedins_bchno=batch.fixmedins_bchno,
        med_list_codg=batch.med_list_codg,
        on_hand=batch.on_hand,
        trace_codes=list(codes),
    )


def _delta(req: MovementIn, batch: InventoryBatch) -> Decimal:
    if req.operation == "stocktake":
        return req.cnt - batch.on_hand
    if req.operation == "change":
        if req.inv_chg_type is None:
            raise Unprocessable("库存变更须填写库存变更类型 inv_chg_type", code="INV_CHANGE_TYPE")
        return req.cnt if req.inv_chg_type in CHANGES_IN else -req.cnt
    return req.cnt if req.operation in ("purchase", "sale_return") else -req.cnt


def _apply(batch: InventoryBatch, delta: Decimal) -> None:
    after = batch.on_hand + delta
    if after < 0:
        raise Conflict(
            f"批次 {batch.fixmedins_bchno} 库存 {batch.on_hand.normalize():f}，不足 {(-delta).normalize():f}",
            code="INV_STOCK_SHORT",
        )
    batch.on_hand, batch.updated_at = after, utcnow()


async def _move_codes(session: AsyncSession, req: MovementIn, batch: InventoryBatch) -> dict[str, str | None]:
    """Moves the codes the movement names; answers each code's status before (for 3507)."""
    if not req.trace_codes:
        return {}
    if req.operation == "change":
        raise Unprocessable("库存变更不携带追溯码", code="INV_TRACE_CODE")
    allowed, after = CODE_MOVES[req.operation]
    found = {
        t.drug_trac_codg: t
        for t in await session.scalars(
            select(TraceCode)
            .where(
                TraceCode.fixmedins_code == req.fixmedins_code,
                col(TraceCode.drug_trac_codg).in_(req.trace_codes),
            )
            .with_for_update()
        )
    }
    before: dict[str, str | None] = {}
    for code in req.trace_codes:
        if code in before:
            raise Unprocessable(f"追溯码 {code} 重复", code="INV_TRACE_CODE")
        row = found.get(code)
        status = row.status if row else None
        if status not in allowed or (row is not None and row.med_list_codg != batch.med_list_codg):
            raise Conflict(
                f"追溯码 {code} 状态为{_STATUS_NAMES.get(status, status)}"
                + (f"（药品 {row.med_list_codg}）" if row is not None else "")
                + "，不能办理此业务",
                code="INV_TRACE_CODE",
            )
        before[code] = status
        if row is None:
            row = TraceCode(
                fixmedins_code=req.fixmedins_code,
                drug_trac_codg=code,
                med_list_codg=batch.med_list_codg,
                fixmedins_bchno=batch.fixmedins_bchno,
                status=after,
            )
            session.add(row)
        row.status, row.fixmedins_bchno, row.updated_at = after, batch.fixmedins_bchno, utcnow()
        row.setl_id = req.setl_id if after == SOLD else None
    return before


async def _require_codes_of_traced(session: AsyncSession, req: MovementIn) -> None:
    """A sale (3505) of a drug the list in force today marks as traced names the codes it sells."""
    if req.operation != "sale" or req.trace_codes:
        return
    item = (await catalogue.find_many(session, [req.med_list_codg], now_china().date())).get(
        req.med_list_codg
    )
    if item is not None and item.trace_required:
        raise Unprocessable(
            f"须上传药品追溯码 drug_trac_codg: 批次 {req.fixmedins_bchno} 药品 {req.med_list_codg}",
            code="TRACE_CODE_REQUIRED",
        )


async def record(session: AsyncSession, req: MovementIn) -> MovementOut:
    """One movement of a batch: what is on hand changes by it (never below zero), and its codes move."""
    batch = await _batch(session, req.fixmedins_code, req.fixmedins_bchno)
    if batch is None:
        if req.operation not in ("purchase", "stocktake", "change"):
            raise NotFound(f"批次 {req.fixmedins_bchno} 不存在", code="INV_BATCH_NOT_FOUND")
        batch = InventoryBatch(
            fixmedins_code=req.fixmedins_code,
            fixmedins_bchno=req.fixmedins_bchno,
            med_list_codg=req.med_list_codg,
            fixmedins_hilist_id=req.fixmedins_hilist_id,
            fixmedins_hilist_name=req.fixmedins_hilist_name,
            manu_lotnum=req.manu_lotnum,
            manu_date=req.manu_date,
            expy_end=req.expy_end,
        )
        session.add(batch)
    elif batch.med_list_codg != req.med_list_codg:
        raise Conflict(
            f"批次 {req.fixmedins_bchno} 是药品 {batch.med_list_codg}，不是 {req.med_list_codg}",
            code="INV_BATCH_DRUG",
        )
    await _require_codes_of_traced(session, req)
    delta = _delta(req, batch)
    _apply(batch, delta)
    codes = await _move_codes(session, req, batch)
    movement = InventoryMovement(
        fixmedins_code=req.fixmedins_code,
        fixmedins_bchno=req.fixmedins_bchno,
        operation=req.operation,
        delta=delta,
        setl_id=req.setl_id,
        psn_no=req.psn_no,
        codes=codes,
    )
    session.add(movement)
    await session.flush()
    assert movement.id is not None
    return MovementOut(
        movement_id=movement.id, operation=req.operation, delta=delta, batch=await batch_out(session, batch)
    )


async def delete(session: AsyncSession, req: DeletionIn) -> DeletionOut:
    """3507: takes back the batch's movements of that kind, newest first (stock and codes as before)."""
    batch = await _batch(session, req.fixmedins_code, req.fixmedins_bchno)
    if batch is None:
        raise NotFound(f"批次 {req.fixmedins_bchno} 不存在", code="INV_BATCH_NOT_FOUND")
    movements = list(
        await session.scalars(
            select(InventoryMovement)
            .where(
                InventoryMovement.fixmedins_code == req.fixmedins_code,
                InventoryMovement.fixmedins_bchno == req.fixmedins_bchno,
                col(InventoryMovement.operation).in_(DATA_TYPES[req.inv_data_type]),
                col(InventoryMovement.deleted).is_(False),
            )
            .order_by(col(InventoryMovement.id).desc())
        )
    )
    for movement in movements:
        _apply(batch, -movement.delta)
        await _restore(session, req.fixmedins_code, movement.codes)
        movement.deleted = True
    await session.flush()
    return DeletionOut(undone=len(movements), batch=await batch_out(session, batch))


async def _restore(session: AsyncSession, fixmedins_code: str, codes: dict[str, str | None]) -> None:
    if not codes:
        return
    rows = await session.scalars(
        select(TraceCode).where(
            TraceCode.fixmedins_code == fixmedins_code, col(TraceCode.drug_trac_codg).in_(list(codes))
        )
    )
    for row in rows:
        previous = codes[row.drug_trac_codg]
        if previous is None:
            await session.delete(row)
        else:
            row.status, row.updated_at = previous, utcnow()


async def get_batch(session: AsyncSession, fixmedins_code: str, bchno: str) -> BatchOut:
    batch = await session.scalar(
        select(InventoryBatch).where(
            InventoryBatch.fixmedins_code == fixmedins_code, InventoryBatch.fixmedins_bchno == bchno
        )
    )
    if batch is None:
        raise NotFound(f"批次 {bchno} 不存在", code="INV_BATCH_NOT_FOUND")
    return await batch_out(session, batch)


async def require_held(session: AsyncSession, fixmedins_code: str, lines: Iterable[tuple[str, str]]) -> None:
    """A settlement line that names traceability codes (``(med_list_codg, code)``) must name codes of that
    drug the institution holds in stock; lines without a code are not checked (docs/domain.md,
    "Inventory")."""
    wanted = list(lines)
    if not wanted:
        return
    held = {
        (t.med_list_codg, t.drug_trac_codg)
        for t in await session.scalars(
            select(TraceCode).where(
                TraceCode.fixmedins_code == fixmedins_code,
                col(TraceCode.drug_trac_codg).in_([code for _, code in wanted]),
                TraceCode.status == IN_STOCK,
            )
        )
    }
    missing = [f"{drug}/{code}" for drug, code in wanted if (drug, code) not in held]
    if missing:
        raise Unprocessable(f"追溯码不在本机构库存中: {', '.join(missing)}", code="TRACE_CODE_NOT_HELD")
