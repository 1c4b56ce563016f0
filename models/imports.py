"""Cases brought in from an existing caseload (cases/importing.py): which row of which file
made which case, so that importing the same file again changes nothing.

`external_ref` is the key the municipality's own system or spreadsheet gives the person's
case (its row id, a case number): unique, so one external case becomes one case here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from etablera.models.timestamps import UTCDateTime


class ImportedCase(SQLModel, table=True):
    """One imported case and where it came from."""

    __tablename__ = "imported_cases"

    external_ref: str = Field(primary_key=True, max_length=100, description="the case's key in the source")
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False, unique=True))
    source: str = Field(max_length=200, description="the file's name (no folder)")
    line: int = Field(description="the row's line in the file")
    actor: str = Field(max_length=60, description="who imported it")
    imported_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
