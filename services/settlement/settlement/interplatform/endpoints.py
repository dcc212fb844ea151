"""The insured platform's side of the inter-platform protocol (docs/interface.md, "Between platforms")."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from settlement.interplatform import service
from shared.contracts.v1.interplatform import EligibilityAnswer, EligibilityQuery
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/interplatform", tags=["inter-platform"])
log = logging.getLogger(__name__)


@router.post(
    "/eligibility", response_model=EligibilityAnswer, responses={422: {"description": "VALIDATION_ERROR"}}
)
async def interplatform_eligibility(body: EligibilityQuery, runtime: RuntimeDep) -> EligibilityAnswer:
    """A treating platform asks whether a person insured here is covered for care on a day, under which
    scheme and insured region, with the year's totals the policy reads and the filings in force. Writes
    nothing; a person not covered is answered ``covered`` false with the reason."""
    async with runtime.db.session() as session:
        answer = await service.eligibility_of(session, body)
    log.info(
        "inter-platform eligibility",
        extra={"platform": body.platform, "msgid": body.msgid, "covered": answer.covered},
    )
    return answer
