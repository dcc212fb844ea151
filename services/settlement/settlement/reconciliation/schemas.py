from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.v1.reconciliation import SettlementAmount, SettlementsOut
from shared.contracts.v1.settlement import TotalsOut, TotalsRow

__all__ = [
    "MAX_REPUBLISH",
    "SETL_ID_PATTERN",
    "RepublishOut",
    "RepublishRequest",
    "SettlementAmount",
    "SettlementsOut",
    "TotalsOut",
    "TotalsRow",
]

#: What a setl_id looks like on the way in (letters, digits, "-" and "_"): nothing that could widen a LIKE.
SETL_ID_PATTERN = r"^[A-Za-z0-9-]{1,30}$"
#: At most this many outbox rows per republish request.
MAX_REPUBLISH = 10_000


class RepublishRequest(BaseModel):
    """Either ``setl_ids`` (their settlement.completed / settlement.reversed events) or an inclusive outbox
    id range."""

    model_config = ConfigDict(extra="forbid")

    setl_ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    outbox_id_from: int | None = Field(default=None, ge=1)
    outbox_id_to: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_way(self) -> RepublishRequest:
        by_ids = self.setl_ids is not None
        by_range = self.outbox_id_from is not None or self.outbox_id_to is not None
        if by_ids == by_range:
            raise ValueError("give either setl_ids or outbox_id_from and outbox_id_to")
        if by_ids:
            bad = [s for s in self.setl_ids or [] if not re.match(SETL_ID_PATTERN, s)]
            if bad:
                raise ValueError(f"not a setl_id: {bad[0]!r}")
        else:
            if self.outbox_id_from is None or self.outbox_id_to is None:
                raise ValueError("give both outbox_id_from and outbox_id_to")
            if self.outbox_id_to < self.outbox_id_from:
                raise ValueError("outbox_id_to is below outbox_id_from")
            if self.outbox_id_to - self.outbox_id_from + 1 > MAX_REPUBLISH:
                raise ValueError(f"at most {MAX_REPUBLISH} outbox rows per request")
        return self


class RepublishOut(BaseModel):
    #: How many outbox rows were marked unsent again.
    republished: int
    outbox_ids: list[int]
    #: Rows found that were not sent yet (the relay sends them anyway).
    already_pending: list[int]
    setl_ids_not_found: list[str]
