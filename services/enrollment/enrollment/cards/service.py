"""Social-security cards: issue, report lost, replace. A lost or replaced card cannot be used."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from enrollment.cards.models import Card
from enrollment.cards.schemas import CardIssue, CardReplacement
from enrollment.db import infra
from enrollment.persons import service as persons
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound
from shared.events import CardStatusChanged
from shared.outbox import enqueue

PRODUCER = "enrollment"


async def _changed(session: AsyncSession, card: Card) -> None:
    await enqueue(
        session,
        infra,
        CardStatusChanged(
            psn_no=card.psn_no,
            card_no=card.card_no,
            card_sn=card.card_sn,
            status=card.status,
            changed_on=card.changed_on,
        ),
        PRODUCER,
    )


async def active_card(session: AsyncSession, psn_no: str) -> Card | None:
    return await session.scalar(select(Card).where(Card.psn_no == psn_no, Card.status == "active"))


async def issue(session: AsyncSession, psn_no: str, data: CardIssue) -> Card:
    await persons.get_person(session, psn_no, for_update=True)
    current = await active_card(session, psn_no)
    if current is not None:
        raise Conflict(f"该人员已有在用社保卡 {current.card_no}，请办理换卡", code="CARD_EXISTS")
    card = Card(
        card_no=data.card_no,
        card_sn=data.card_sn,
        psn_no=psn_no,
        status="active",
        issued_on=data.issued_on,
        changed_on=data.issued_on,
    )
    session.add(card)
    await flush_unique(session, Conflict(f"社保卡号 {data.card_no} 已存在", code="CARD_EXISTS"))
    await _changed(session, card)
    return card


async def get(session: AsyncSession, card_no: str, *, for_update: bool = False) -> Card:
    query = select(Card).where(Card.card_no == card_no)
    if for_update:
        query = query.with_for_update()
    card = await session.scalar(query)
    if card is None:
        raise NotFound(f"社保卡不存在: {card_no}", code="CARD_NOT_FOUND")
    return card


async def report_lost(session: AsyncSession, card_no: str, on: date) -> Card:
    card = await get(session, card_no, for_update=True)
    if card.status != "active":
        raise Conflict(f"该社保卡状态为 {card.status}，不能挂失", code="CARD_NOT_ACTIVE")
    card.status = "lost"
    card.changed_on = on
    await session.flush()
    await _changed(session, card)
    return card


async def replace(session: AsyncSession, card_no: str, data: CardReplacement) -> Card:
    """A new card for a lost or damaged one: the old card stops working, the new one is active."""
    old = await get(session, card_no, for_update=True)
    if old.status == "replaced":
        raise Conflict(f"该社保卡已换卡为 {old.replaced_by}", code="CARD_REPLACED")
    old.status = "replaced"
    old.changed_on = data.issued_on
    old.replaced_by = data.new_card_no
    await session.flush()
    await _changed(session, old)
    new = Card(
        card_no=data.new_card_no,
        card_sn=data.new_card_sn,
        psn_no=old.psn_no,
        status="active",
        issued_on=data.issued_on,
        changed_on=data.issued_on,
    )
    session.add(new)
    await flush_unique(session, Conflict(f"社保卡号 {data.new_card_no} 已存在", code="CARD_EXISTS"))
    await _changed(session, new)
    return new


async def usable(session: AsyncSession, card_no: str, card_sn: str | None) -> Card:
    """The card presented at a counter, if it may be used: active, and its chip serial matches."""
    card = await session.scalar(select(Card).where(Card.card_no == card_no))
    if card is None:
        raise NotFound("未查询到该社保卡", code="CARD_NOT_FOUND")
    if card_sn is not None and card_sn != card.card_sn:
        raise DomainError("社保卡识别码与卡号不符", code="CARD_SN_MISMATCH", status_code=422)
    if card.status != "active":
        what = "已挂失" if card.status == "lost" else f"已换卡（新卡 {card.replaced_by}）"
        raise DomainError(f"该社保卡{what}，不能使用", code="CARD_NOT_ACTIVE", status_code=422)
    return card
