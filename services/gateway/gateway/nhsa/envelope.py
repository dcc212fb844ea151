"""The national interface envelope (research doc §1): public input fields around ``input``, and the public
output fields around ``output``. Unknown public fields are tolerated (provinces add their own); the ones we
use are validated."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import simplejson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.clock import compact_ms, now_china, parse_wire_time

ADMDVS = r"^\d{6}$"


class RequestEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    infno: str = Field(pattern=r"^\d{4}[A-Z]?$")
    msgid: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=ADMDVS)
    insuplc_admdvs: str | None = Field(default=None, pattern=r"^(\d{6})?$")
    recer_sys_code: str = Field(min_length=1, max_length=10)
    dev_no: str | None = Field(default=None, max_length=100)
    dev_safe_info: str | None = Field(default=None, max_length=2000)
    cainfo: str | None = Field(default=None, max_length=1024)
    signtype: str | None = Field(default=None, max_length=10)
    infver: str = Field(min_length=1, max_length=6)
    opter_type: str = Field(pattern=r"^(1|2|3)$")
    opter: str = Field(min_length=1, max_length=30)
    opter_name: str = Field(min_length=1, max_length=50)
    inf_time: str
    fixmedins_code: str = Field(min_length=1, max_length=30)
    fixmedins_name: str = Field(min_length=1, max_length=200)
    sign_no: str | None = Field(default=None, max_length=30)
    input: dict[str, Any]

    @field_validator("inf_time")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            parse_wire_time(value)
        except ValueError as exc:
            raise ValueError("格式应为 yyyy-MM-dd HH:mm:ss") from exc
        return value


def parse_body(raw: bytes) -> Any:
    """JSON with every number kept exact (Decimal), never a binary float."""
    return json.loads(raw.decode("utf-8"), parse_float=Decimal)


@dataclass(frozen=True)
class Answer:
    """A handler's ``output`` with a ``warn_msg`` for the operator (e.g. the HIS's own sums disagree with
    the settlement's classification). A handler that has nothing to warn about returns the output alone."""

    output: dict[str, Any]
    warn_msg: str | None = None


class ResponseBuilder:
    """Builds the public output; ``inf_refmsgid`` = receiver admdvs(6) + time(14) + sequence(10)."""

    #: Starts at a random point so that replicas and restarts do not hand out the same ids in one second.
    _sequence = secrets.randbelow(10**10)

    def __init__(self, region_admvs: str) -> None:
        self.region_admvs = region_admvs
        self.received = now_china()

    @classmethod
    def _next_sequence(cls) -> int:
        cls._sequence = (cls._sequence + 1) % 10**10
        return cls._sequence

    def build(
        self,
        *,
        infcode: int,
        output: dict[str, Any] | None = None,
        err_msg: str | None = None,
        warn_msg: str | None = None,
    ) -> dict[str, Any]:
        responded = now_china()
        return {
            "infcode": infcode,
            "inf_refmsgid": f"{self.region_admvs}{self.received:%Y%m%d%H%M%S}{self._next_sequence():010d}",
            "refmsg_time": compact_ms(self.received),
            "respond_time": compact_ms(responded),
            "err_msg": err_msg,
            "warn_msg": warn_msg,
            "cainfo": None,
            "signtype": None,
            "output": output if output is not None else {},
        }


def dumps(body: dict[str, Any]) -> str:
    """Decimals are written as JSON numbers exactly as held (12.30 stays 12.30)."""
    return simplejson.dumps(body, use_decimal=True, ensure_ascii=False, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
