"""name search within the user's municipalities by the name's head: (municipality,
substr(key, 1, 3), id) beside (municipality, key)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 21:10:00

A name search shows the newest 20 cases whose given or family name begins with what was
typed, within the user's municipalities (cases/search.py). On (municipality, given_key)
the cases of a prefix lie in name order, so every one of them was read to keep the newest:
at a million cases "ahm" in Stockholm is thousands of index entries on SQLite, and on
PostgreSQL the table read backwards by id until the 21st match. Under the first three
characters of the key, a three-character word is one equality, whose entries lie newest
last: the search reads the 21 newest of each name index and stops (models/case.py
`name_head`); a two-character word reads one range of heads (PostgreSQL: text_pattern_ops
for its LIKE). (municipality, key) stays for a longer word, whose range there holds its
own cases only.

Plain CREATE / DROP INDEX, never a batch (a batch may copy the table on SQLite, and the
append-only triggers must stay).
"""
from alembic import op
from sqlalchemy import text

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

KEYS = ('given', 'family')


def upgrade() -> None:
    for key in KEYS:
        op.create_index(f'ix_cases_municipality_{key}_head', 'cases',
                        ['municipality', text(f'substr({key}_key, 1, 3)'), 'id'],
                        postgresql_ops={f'substr({key}_key, 1, 3)': 'text_pattern_ops'})


def downgrade() -> None:
    for key in KEYS:
        op.drop_index(f'ix_cases_municipality_{key}_head', table_name='cases')
