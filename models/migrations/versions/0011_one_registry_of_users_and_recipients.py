"""one registry: the officers (reminder recipients) become users with an e-mail address
and a notification URL

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 00:10:00

People who log in (`users`) and people who receive reminders (`officers`) were two
registries: a case could name an officer who had no login, a login user had no address
for reminders, and the same id could be both with different municipalities. Now a user
is both: `users.email` (reminders go there through the configured mail server) and
`users.notify` (an apprise URL or file:PATH that comes first; the officers' column).

Each officer row becomes a user with the same id, name, role (officer | coordinator),
organisation, municipality, notification URL, active flag and creation time, and no
password: a recipient who cannot log in until an administrator gives them one (`etablera
user add ID ... --update`). An id that is a user already keeps the user's role and scope
(what they log in with decides what they may do) and takes the officer's notification
URL if the user has none. Then the officers table goes.

The downgrade puts an officers table back from the users with role officer or
coordinator and a municipality (their notification URL with them) and drops the two
columns; the users the upgrade made stay users (without a password they cannot log in).
"""
from alembic import op
import sqlalchemy as sa

import etablera.models.timestamps

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _officers_table() -> sa.Table:
    return sa.table('officers', sa.column('id', sa.String), sa.column('name', sa.String), sa.column('org', sa.String),
                    sa.column('municipality', sa.String), sa.column('role', sa.String),
                    sa.column('notify', sa.String), sa.column('active', sa.Boolean),
                    sa.column('created_at', etablera.models.timestamps.UTCDateTime()))


def _users_table() -> sa.Table:
    return sa.table('users', sa.column('id', sa.String), sa.column('name', sa.String), sa.column('role', sa.String),
                    sa.column('organisation', sa.String), sa.column('municipality', sa.String),
                    sa.column('office', sa.String), sa.column('password_hash', sa.String),
                    sa.column('email', sa.String), sa.column('notify', sa.String), sa.column('active', sa.Boolean),
                    sa.column('created_at', etablera.models.timestamps.UTCDateTime()))


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('notify', sa.String(length=500), nullable=True))

    conn = op.get_bind()
    officers, users = _officers_table(), _users_table()
    known = set(conn.execute(sa.select(users.c.id)).scalars())
    rows = conn.execute(sa.select(officers).order_by(officers.c.id)).mappings().all()
    new = [{"id": r["id"], "name": r["name"], "role": r["role"], "organisation": r["org"],
            "municipality": r["municipality"], "office": None, "password_hash": None, "email": None,
            "notify": r["notify"], "active": r["active"], "created_at": r["created_at"]}
           for r in rows if r["id"] not in known]
    for start in range(0, len(new), 1000):
        conn.execute(sa.insert(users), new[start:start + 1000])
    for r in rows:
        if r["id"] in known and r["notify"]:
            conn.execute(sa.update(users).where(users.c.id == r["id"], users.c.notify.is_(None))
                         .values(notify=r["notify"]))

    with op.batch_alter_table('officers', schema=None) as batch_op:
        batch_op.drop_index('ix_officers_municipality_role')
    op.drop_table('officers')


def downgrade() -> None:
    op.create_table('officers',
                    sa.Column('id', sa.String(length=60), nullable=False),
                    sa.Column('name', sa.String(length=120), nullable=False),
                    sa.Column('org', sa.String(length=6), nullable=False),
                    sa.Column('municipality', sa.String(length=4), nullable=False),
                    sa.Column('role', sa.String(length=12), nullable=False),
                    sa.Column('notify', sa.String(length=500), nullable=True),
                    sa.Column('active', sa.Boolean(), nullable=False),
                    sa.Column('created_at', etablera.models.timestamps.UTCDateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('officers', schema=None) as batch_op:
        batch_op.create_index('ix_officers_municipality_role', ['municipality', 'role'], unique=False)

    conn = op.get_bind()
    officers, users = _officers_table(), _users_table()
    rows = conn.execute(sa.select(users).where(users.c.role.in_(("officer", "coordinator")),
                                               users.c.municipality.is_not(None))).mappings().all()
    back = [{"id": r["id"], "name": r["name"], "org": r["organisation"], "municipality": r["municipality"],
             "role": r["role"], "notify": r["notify"], "active": r["active"], "created_at": r["created_at"]}
            for r in rows]
    for start in range(0, len(back), 1000):
        conn.execute(sa.insert(officers), back[start:start + 1000])

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('notify')
        batch_op.drop_column('email')
