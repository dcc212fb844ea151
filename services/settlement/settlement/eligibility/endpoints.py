from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from settlement.eligibility import service
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/eligibility", tags=["eligibility"])


class EligibilityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    psn_no: str
    certno: str
    psn_name: str
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    year: int
    coverage_begin: date
    coverage_end: date
    status: str
    terminated_on: date | None
    continuous_years: int
    psn_insu_date: date | None


@router.get("/{psn_no}", response_model=list[EligibilityOut])
async def get_eligibility(psn_no: str, runtime: RuntimeDep) -> list[EligibilityOut]:
    """The coverage years settlement knows for a person (its read model of the enrollment
    events). Refused: 404 NOT_COVERED when it knows none."""
    async with runtime.db.session() as session:
        return [EligibilityOut.model_validate(r) for r in await service.list_for_person(session, psn_no)]
