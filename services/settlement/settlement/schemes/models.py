"""The switch-over of a pooling region from the two legacy schemes to the unified residents' scheme."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field

from settlement.db import Base, ReferenceData
from shared.db import timestamp_field


class SchemeSwitchover(ReferenceData, Base, table=True):
    """From ``unified_from`` the region settles everyone under 390; before it (双轨运行) each person settles
    under their legacy scheme (391 URBMI / 380 NCMS). A region without a row has no legacy schemes."""

    __tablename__ = "scheme_switchovers"

    admdvs: str = Field(primary_key=True, max_length=6)
    #: Always 1 January: a policy year never mixes two schemes' deductibles and ceilings.
    unified_from: date
    #: Who decided it and where it is written down (the government notice).
    approved_by: str = Field(max_length=50)
    document_ref: str = Field(max_length=100)
    created_at: datetime = timestamp_field()
