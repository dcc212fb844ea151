"""policy documents, yearly totals, reversals and msgid claims

Revision ID: e740a4e4ef2e
Revises: 2c8774fec0e0
Create Date: 2026-11-23 04:09:36.798524
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db


revision: str = 'e740a4e4ef2e'
down_revision: str | None = '2c8774fec0e0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TOTALS = (
    "outpatient_deductible_fen", "outpatient_paid_fen", "pooled_paid_fen", "chronic_cost_fen", "chronic_paid_fen",
    "catastrophic_burden_fen", "catastrophic_paid_fen", "assistance_base_fen", "assistance_paid_fen", "admissions",
)


def upgrade() -> None:
    op.create_table('msgid_claims',
    sa.Column('msgid', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('msgid')
    )
    bind = op.get_bind()

    # Policies: the outpatient-pooling columns become a full policy document. A policy written before had
    # outpatient pooling only, so its document pays nothing else (zero ratios and ceilings).
    with op.batch_alter_table('benefit_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('document', sa.JSON(), nullable=True))
    policies = sa.table('benefit_policies', sa.column('id', sa.Integer), sa.column('document', sa.JSON),
                        sa.column('outpatient_deductible_fen', sa.Integer),
                        sa.column('outpatient_pool_ratio', sa.String), sa.column('outpatient_annual_cap_fen', sa.Integer))
    for row in bind.execute(sa.select(policies)).all():
        document = {
            "outpatient": {"deductible_fen": row.outpatient_deductible_fen, "ratio": str(row.outpatient_pool_ratio),
                           "annual_cap_fen": row.outpatient_annual_cap_fen},
            "inpatient": {"deductible_by_level": {"1": 0, "2": 0, "3": 0},
                          "ratio_by_level": {"1": "0", "2": "0", "3": "0"}},
            "pooled_annual_ceiling_fen": 0,
        }
        bind.execute(policies.update().where(policies.c.id == row.id).values(document=document))
    with op.batch_alter_table('benefit_policies', schema=None) as batch_op:
        batch_op.alter_column('document', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('outpatient_deductible_fen')
        batch_op.drop_column('outpatient_pool_ratio')
        batch_op.drop_column('outpatient_annual_cap_fen')

    with op.batch_alter_table('catalogue_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pric_uplmt_by_level', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), nullable=False, server_default=sa.false()))

    # Settlements so far were pharmacy purchases under outpatient pooling: that is what they added to the
    # yearly totals (and what a reversal must take back).
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('catastrophic_paid_fen', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('assistance_paid_fen', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('encounter_kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False, server_default='pharmacy'))
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default='settled'))
        batch_op.add_column(sa.Column('reversal_of', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.add_column(sa.Column('reversed_by', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.add_column(sa.Column('ytd_delta', sa.JSON(), nullable=True))
    settlements = sa.table('settlements', sa.column('id', sa.Integer), sa.column('ytd_delta', sa.JSON),
                           sa.column('deductible_fen', sa.Integer), sa.column('pooled_fund_paid_fen', sa.Integer))
    for row in bind.execute(sa.select(settlements)).all():
        delta = dict.fromkeys(TOTALS, 0)
        delta.update(outpatient_deductible_fen=row.deductible_fen, outpatient_paid_fen=row.pooled_fund_paid_fen)
        bind.execute(settlements.update().where(settlements.c.id == row.id).values(ytd_delta=delta))
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.alter_column('ytd_delta', existing_type=sa.JSON(), nullable=False)

    # Accumulators: one row per person, year and scheme, with every total; the outpatient-pool totals
    # carry over.
    with op.batch_alter_table('year_accumulators', schema=None) as batch_op:
        for name in TOTALS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))
    bind.execute(sa.text(
        "UPDATE year_accumulators SET outpatient_deductible_fen = deductible_used_fen, "
        "outpatient_paid_fen = fund_paid_fen WHERE benefit = 'outpatient_pool'"
    ))
    with op.batch_alter_table('year_accumulators', schema=None) as batch_op:
        batch_op.drop_constraint('uq_accumulator', type_='unique')
        batch_op.create_unique_constraint('uq_accumulator', ['psn_no', 'year', 'insutype'])
        batch_op.drop_column('deductible_used_fen')
        batch_op.drop_column('benefit')
        batch_op.drop_column('fund_paid_fen')


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('year_accumulators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fund_paid_fen', sa.INTEGER(), nullable=False))
        batch_op.add_column(sa.Column('benefit', sa.VARCHAR(length=30), nullable=False))
        batch_op.add_column(sa.Column('deductible_used_fen', sa.INTEGER(), nullable=False))
        batch_op.drop_constraint('uq_accumulator', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_accumulator'), ['psn_no', 'year', 'insutype', 'benefit'])
        batch_op.drop_column('admissions')
        batch_op.drop_column('assistance_paid_fen')
        batch_op.drop_column('assistance_base_fen')
        batch_op.drop_column('catastrophic_paid_fen')
        batch_op.drop_column('catastrophic_burden_fen')
        batch_op.drop_column('chronic_paid_fen')
        batch_op.drop_column('chronic_cost_fen')
        batch_op.drop_column('pooled_paid_fen')
        batch_op.drop_column('outpatient_paid_fen')
        batch_op.drop_column('outpatient_deductible_fen')

    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_column('ytd_delta')
        batch_op.drop_column('reversed_by')
        batch_op.drop_column('reversal_of')
        batch_op.drop_column('status')
        batch_op.drop_column('encounter_kind')
        batch_op.drop_column('assistance_paid_fen')
        batch_op.drop_column('catastrophic_paid_fen')

    with op.batch_alter_table('catalogue_items', schema=None) as batch_op:
        batch_op.drop_column('restricted')
        batch_op.drop_column('pric_uplmt_by_level')

    with op.batch_alter_table('benefit_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outpatient_annual_cap_fen', sa.INTEGER(), nullable=False))
        batch_op.add_column(sa.Column('outpatient_pool_ratio', sa.VARCHAR(length=40), nullable=False))
        batch_op.add_column(sa.Column('outpatient_deductible_fen', sa.INTEGER(), nullable=False))
        batch_op.drop_column('document')

    op.drop_table('msgid_claims')
    # ### end Alembic commands ###
