from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

CARD_NO = r"^[A-Za-z0-9]{6,30}$"
CARD_SN = r"^[A-Za-z0-9]{6,32}$"


class CardIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_no: str = Field(pattern=CARD_NO)
    card_sn: str = Field(pattern=CARD_SN)
    issued_on: date


class CardLoss(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reported_on: date


class CardReplacement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_card_no: str = Field(pattern=CARD_NO)
    new_card_sn: str = Field(pattern=CARD_SN)
    issued_on: date
