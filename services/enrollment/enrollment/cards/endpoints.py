from __future__ import annotations

from fastapi import APIRouter

from enrollment.cards import service
from enrollment.cards.schemas import CardIssue, CardLoss, CardReplacement
from shared.contracts.v1.enrollment import CardOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["cards"])


@router.post("/persons/{psn_no}/cards", status_code=201, response_model=CardOut)
async def issue_card(psn_no: str, body: CardIssue, runtime: RuntimeDep) -> CardOut:
    async with runtime.transaction() as session:
        return CardOut.model_validate(await service.issue(session, psn_no, body))


@router.get("/cards/{card_no}", response_model=CardOut)
async def get_card(card_no: str, runtime: RuntimeDep) -> CardOut:
    async with runtime.db.session() as session:
        return CardOut.model_validate(await service.get(session, card_no))


@router.post("/cards/{card_no}/loss", response_model=CardOut)
async def report_lost(card_no: str, body: CardLoss, runtime: RuntimeDep) -> CardOut:
    async with runtime.transaction() as session:
        return CardOut.model_validate(await service.report_lost(session, card_no, body.reported_on))


@router.post("/cards/{card_no}/replacement", status_code=201, response_model=CardOut)
async def replace_card(card_no: str, body: CardReplacement, runtime: RuntimeDep) -> CardOut:
    async with runtime.transaction() as session:
        return CardOut.model_validate(await service.replace(session, card_no, body))
