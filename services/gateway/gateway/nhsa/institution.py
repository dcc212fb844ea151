"""1201 医药机构信息获取 (docs/interface.md, "1201 institution information"): the designated institutions
of the region as the settlement service keeps them, by code, name (a part of it) or type, under the
national names (input node ``medinsinfo``, output rows ``medinsinfo``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.declaration import Call, Transaction
from shared.contracts.v1.institutions import InstitutionInfo


class MedinsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    fixmedins_type: str | None = Field(default=None, pattern=r"^[12]?$")
    fixmedins_name: str | None = Field(default=None, max_length=200)
    fixmedins_code: str | None = Field(default=None, max_length=30)


class Input1201(BaseModel):
    model_config = ConfigDict(extra="ignore")

    medinsinfo: MedinsQuery = Field(default_factory=MedinsQuery)


def wanted(query: MedinsQuery, institution: InstitutionInfo) -> bool:
    return (
        (not query.fixmedins_code or institution.fixmedins_code == query.fixmedins_code)
        and (not query.fixmedins_name or query.fixmedins_name in institution.fixmedins_name)
        and (not query.fixmedins_type or institution.fixmedins_type == query.fixmedins_type)
    )


def medinsinfo(institution: InstitutionInfo) -> dict[str, Any]:
    return {
        "fixmedins_code": institution.fixmedins_code,
        "fixmedins_name": institution.fixmedins_name,
        "uscc": None,  # 统一社会信用代码: not kept by this platform
        "fixmedins_type": institution.fixmedins_type,
        "hosp_lv": institution.hosp_lv,
        "admdvs": institution.admdvs,
        # 1 while the agreement is in force and the institution not suspended or terminated.
        "vali_flag": "1" if institution.status == "active" else "0",
        "begndate": institution.agreement_begin.isoformat(),
        "enddate": institution.agreement_end.isoformat() if institution.agreement_end else None,
    }


async def _handle_1201(call: Call, data: Input1201) -> dict[str, Any]:
    found = [i for i in await call.downstream.institutions() if wanted(data.medinsinfo, i)]
    return {"medinsinfo": [medinsinfo(i) for i in sorted(found, key=lambda i: i.fixmedins_code)]}


TRANSACTIONS = (Transaction("1201", "institution", "医药机构信息获取", Input1201, _handle_1201),)
