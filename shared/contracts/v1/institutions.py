"""The settlement service's designated institutions as the gateway reads them (version 1): 1201."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, RootModel


class InstitutionInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fixmedins_code: str
    fixmedins_name: str
    #: 1 定点医疗机构, 2 定点零售药店.
    fixmedins_type: str
    #: 1/2/3 hospital level, 9 pharmacy.
    hosp_lv: str
    admdvs: str
    #: active, suspended or terminated.
    status: str
    agreement_begin: date
    agreement_end: date | None = None


class InstitutionList(RootModel[list[InstitutionInfo]]):
    """``GET /api/v1/institutions``: every institution."""
