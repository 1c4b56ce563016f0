"""name search within the user's municipalities: (municipality, given_key) and
(municipality, family_key)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 22:00:00

A name search (cases/search.py) is a prefix of a folded name within the user's
municipalities. On the key indexes alone SQLite reads every case of the prefix in the
whole country and then drops those outside the municipalities (the web benchmark: 2,900
rows at 100,000 cases for "And", ten times that at a million); with the municipality
first, each municipality's range of the prefix is read and nothing else. PostgreSQL gets
them too (the same schema everywhere), with varchar_pattern_ops for LIKE 'prefix%'.
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_municipality_given_key', 'cases', ['municipality', 'given_key'],
                    postgresql_ops={'given_key': 'varchar_pattern_ops'})
    op.create_index('ix_cases_municipality_family_key', 'cases', ['municipality', 'family_key'],
                    postgresql_ops={'family_key': 'varchar_pattern_ops'})


def downgrade() -> None:
    op.drop_index('ix_cases_municipality_family_key', table_name='cases')
    op.drop_index('ix_cases_municipality_given_key', table_name='cases')
