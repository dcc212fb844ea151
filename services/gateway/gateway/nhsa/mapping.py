"""3301 目录对照上传 / 3302 目录对照撤销 (docs/interface.md, "3301 / 3302 catalogue mapping"): the
institution maps its own item code (``fixmedins_hilist_id``, the ``medins_list_codg`` of its fee lines) to
a national list code (``med_list_codg``) from ``begndate``; a fee line may then carry only its own code.
Kept by the settlement service (``catalogue_mappings``); each answered once per msgid."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.declaration import Call, Transaction
from gateway.protocol.errors import Refusal
from shared.contracts.v1.catalogue import MappingOut, MappingRevocation, MappingUpload


class Data3301(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    fixmedins_hilist_id: str = Field(min_length=1, max_length=30)
    fixmedins_hilist_name: str = Field(min_length=1, max_length=200)
    #: 目录类别 (101 西药, 102 中成药, 201 医疗服务项目, 301 医用耗材...): kept as sent.
    list_type: str = Field(min_length=1, max_length=30)
    med_list_codg: str = Field(min_length=1, max_length=50)
    begndate: date
    enddate: date | None = None
    # aprvno, dosform, exct_cont, item_cont, prcunt, spec, pacspec, memo: accepted, not kept.


class Input3301(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3301


class Data3302(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    fixmedins_code: str = Field(min_length=1, max_length=30)
    fixmedins_hilist_id: str = Field(min_length=1, max_length=30)
    list_type: str = Field(min_length=1, max_length=30)
    med_list_codg: str = Field(min_length=1, max_length=50)


class Input3302(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3302


def wire(mapping: MappingOut) -> dict[str, Any]:
    return {
        "fixmedins_code": mapping.fixmedins_code,
        "fixmedins_hilist_id": mapping.medins_list_codg,
        "fixmedins_hilist_name": mapping.name,
        "list_type": mapping.list_type,
        "med_list_codg": mapping.med_list_codg,
        "begndate": mapping.begndate.isoformat(),
        "enddate": mapping.enddate.isoformat() if mapping.enddate else None,
        "revoked_on": mapping.revoked_on.isoformat() if mapping.revoked_on else None,
    }


async def _handle_3301(call: Call, data: Input3301) -> dict[str, Any]:
    d = data.data
    request = MappingUpload(
        msgid=call.envelope.msgid,
        fixmedins_code=call.envelope.fixmedins_code,
        medins_list_codg=d.fixmedins_hilist_id,
        name=d.fixmedins_hilist_name,
        list_type=d.list_type,
        med_list_codg=d.med_list_codg,
        begndate=d.begndate,
        enddate=d.enddate,
    )
    return {"data": wire(await call.downstream.upload_mapping(request))}


async def _handle_3302(call: Call, data: Input3302) -> dict[str, Any]:
    d = data.data
    if d.fixmedins_code != call.envelope.fixmedins_code:
        raise Refusal("E_INSTITUTION", f"fixmedins_code {d.fixmedins_code} 与报文的定点医药机构编号不一致")
    request = MappingRevocation(
        msgid=call.envelope.msgid,
        fixmedins_code=d.fixmedins_code,
        medins_list_codg=d.fixmedins_hilist_id,
        list_type=d.list_type,
        med_list_codg=d.med_list_codg,
    )
    return {"data": wire(await call.downstream.revoke_mapping(request))}


TRANSACTIONS = (
    Transaction(
        "3301", "mapping", "目录对照上传", Input3301, _handle_3301, changes_state=True, replayed=True
    ),
    Transaction(
        "3302", "mapping", "目录对照撤销", Input3302, _handle_3302, changes_state=True, replayed=True
    ),
)
