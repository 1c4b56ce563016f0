"""Cases brought in from an existing caseload (cases/importing.py): which row of which file
made which case, so that importing the same file again changes nothing.

`external_ref` is the key the municipality's own system or spreadsheet gives the person's
case (its row id, a case number): unique, so one external case becomes one case here.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from etablera.models.metadata import metadata
from etablera.models.timestamps import UTCDateTime

# One imported case and where it came from.
ImportedCase = Table(
    "imported_cases", metadata,
    Column("external_ref", String(100), primary_key=True),     # the case's key in the source
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, unique=True),
    Column("source", String(200), nullable=False),             # the file's name (no folder)
    Column("line", Integer, nullable=False),                   # the row's line in the file
    Column("actor", String(60), nullable=False),               # who imported it
    Column("imported_at", UTCDateTime, nullable=False),
)
