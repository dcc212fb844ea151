"""manual reimbursements and supervision: who acted is the token's subject, with its roles

Issue 21: the clerk, the approver and the payer of a manual reimbursement, and whoever configures a rule,
reviews a hit, imposes or ends a sanction, were the ``operator`` typed into the request body, so one token
could enter and approve a claim under two names. They are now the bearer token's subject; each record
keeps the roles the token carried beside it (``*_roles``, sorted and comma-separated, as ``audit_log``).
Rows written before keep their typed name and have no roles (NULL).

The ``*_by`` columns hold a token subject, which may be up to 100 characters (``audit_log.subject``'s
width); PostgreSQL widens them from 50. SQLite does not enforce a VARCHAR length, so it is left as it is
there (a table rebuild for nothing).

Revision ID: f1857f100bc4
Revises: c3d9e1f2a4b5
Create Date: 2026-12-05 09:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'f1857f100bc4'
down_revision: str | None = 'c3d9e1f2a4b5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table -> (columns holding a token subject, new roles columns)
ACTORS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    'manual_reimbursements': (
        ('entered_by', 'decided_by', 'paid_by'),
        ('entered_roles', 'decided_roles', 'paid_roles'),
    ),
    'signal_rules': (('updated_by',), ('updated_roles',)),
    'signal_hits': (('reviewed_by',), ('reviewed_roles',)),
    'sanctions': (('decided_by', 'ended_by'), ('decided_roles', 'ended_roles')),
    'supervision_audit': (('operator',), ('roles',)),
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, (subjects, roles) in ACTORS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in roles:
                batch_op.add_column(
                    sa.Column(column, sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
                )
        if postgres:
            for column in subjects:
                op.alter_column(
                    table,
                    column,
                    type_=sqlmodel.sql.sqltypes.AutoString(length=100),
                    existing_type=sqlmodel.sql.sqltypes.AutoString(length=50),
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, (subjects, roles) in ACTORS.items():
        if postgres:
            for column in subjects:
                # A subject longer than the old width is cut: the old schema cannot hold it.
                op.alter_column(
                    table,
                    column,
                    type_=sqlmodel.sql.sqltypes.AutoString(length=50),
                    existing_type=sqlmodel.sql.sqltypes.AutoString(length=100),
                    postgresql_using=f'left({column}, 50)',
                )
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(roles):
                batch_op.drop_column(column)
