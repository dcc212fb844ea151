from __future__ import annotations

from fastapi import APIRouter

from enrollment.cards import service
from enrollment.cards.schemas import CardIssue, CardLoss, CardReplacement
from shared.contracts.v1.enrollment import CardOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["cards"])


@router.post("/persons/{psn_no}/cards", status_code=201, response_model=CardOut)
async def issue_card(psn_no: str, body: CardIssue, runtime: RuntimeDep) -> CardOut:
    """Issue a social-security card to a person. Refused: 404 PERSON_NOT_FOUND; 409
    CARD_EXISTS (the card number is taken, or the person already holds an active card)."""
    async with runtime.transaction() as session:
        return CardOut.model_validate(await service.issue(session, psn_no, body))


@router.get("/cards/{card_no}", response_model=CardOut)
async def get_card(card_no: str, runtime: RuntimeDep) -> CardOut:
    """One card with its status (active, lost, replaced, cancelled) and its holder. Refused:
    404 CARD_NOT_FOUND."""
    async with runtime.db.session() as session:
        return CardOut.model_validate(await service.get(session, card_no))


@router.post("/cards/{card_no}/loss", response_model=CardOut)
async def report_lost(card_no: str, body: CardLoss, runtime: RuntimeDep) -> CardOut:
    """Report a card lost (挂失): from then on the gateway refuses it (CARD_NOT_ACTIVE).
    Refused: 404 CARD_NOT_FOUND; 409 CARD_NOT_ACTIVE or CARD_REPLACED (it is not active
    any more)."""
    async with runtime.transaction() as session:
        return CardOut.model_validate(await service.report_lost(session, card_no, body.reported_on))


@router.post("/cards/{card_no}/replacement", status_code=201, response_model=CardOut)
async def replace_card(card_no: str, body: CardReplacement, runtime: RuntimeDep) -> CardOut:
    """Replace a card (换卡): the old one stops working, the new one is active. Refused: 404
    CARD_NOT_FOUND; 409 CARD_REPLACED (replaced already) or CARD_EXISTS (the new number is
    taken)."""
    async with runtime.transaction() as session:
        return CardOut.model_validate(await service.replace(session, card_no, body))
