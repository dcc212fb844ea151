"""filings: referral / out-of-area care (2501/2502) and accident injury (2507) columns

Revision ID: d4e6f8a0b2c5
Revises: f3a8b1c7d2e9
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d4e6f8a0b2c5"
down_revision: str | None = "f3a8b1c7d2e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = {
    "mdtrtarea_admdvs": 6,
    "reflin_medins_no": 30,
    "reflin_medins_name": 200,
    "refl_type": 6,
    "refl_rea": 300,
    "refl_opnn": 300,
    "hosp_agre_refl_flag": 3,
    "refl_old_mdtrt_id": 30,
    "diag_code": 30,
    "diag_name": 300,
    "trum_site": 200,
    "trum_rea": 300,
    "thrd_pty_resp_flag": 1,
    "wrk_inj_flag": 1,
}


def upgrade() -> None:
    with op.batch_alter_table("filings") as batch:
        for name, length in _TEXT.items():
            batch.add_column(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=True))
        batch.add_column(sa.Column("refl_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("trum_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("filings") as batch:
        batch.drop_column("trum_time")
        batch.drop_column("refl_date")
        for name in reversed(_TEXT):
            batch.drop_column(name)
