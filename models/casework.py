"""What officers keep on a case beside its process: journal notes, attached documents,
corrections of mistaken steps, and each user's saved list filters.

A note's text and a document's file are bound into the case's audit chain by their
SHA-256 (the audit event of adding them carries the digest), so the row or the file can
be erased later (gallring) while the chain still verifies; the file itself lives outside
the database, in the configured document store (cases/documents.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from etablera.models.timestamps import UTCDateTime


class Note(SQLModel, table=True):
    """A dated journal note (anteckning) on a case's timeline."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_case", "case_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    seq: int = Field(description="the audit event that added it")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False), description="the note's date and time")
    author: str = Field(max_length=60)
    text: str | None = Field(default=None, description="none once erased")
    sha256: str = Field(max_length=64)


def text_digest(text: str) -> str:
    """The SHA-256 a note's text is kept with, recorded by its event and checked by `audit verify`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Document(SQLModel, table=True):
    """A file attached to a case, stored outside the database under `storage_key`."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_case", "case_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    seq: int = Field(description="the audit event that attached it")
    filename: str | None = Field(default=None, max_length=200, description="as uploaded; none once erased")
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=200, description="the file's name in the document store")
    added_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    added_by: str = Field(max_length=60)
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class Correction(SQLModel, table=True):
    """A mistaken step and the event that corrected it (append-only): the reports leave
    both out, so a corrected case counts as if the step had not happened."""

    __tablename__ = "corrections"
    __table_args__ = (UniqueConstraint("case_id", "corrected_seq", name="uq_corrections_step"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    corrected_seq: int = Field(description="the mistaken step's event")
    correction_seq: int = Field(description="the correction's event")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SavedFilter(SQLModel, table=True):
    """A user's own named list filter (a queue of their own)."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter_name"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    name: str = Field(max_length=80)
    query: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
