"""What officers keep on a case beside its process: journal notes, attached documents,
corrections of mistaken steps, and each user's saved list filters.

A note's text and a document's file are bound into the case's audit chain by their
SHA-256 (the audit event of adding them carries the digest), so the row or the file can
be erased later (gallring) while the chain still verifies; the file itself lives outside
the database, in the configured document store (cases/documents.py).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, UniqueConstraint

from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

# A dated journal note (anteckning) on a case's timeline.
Note = Table(
    "notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),               # the audit event that added it
    Column("at", UTCDateTime, nullable=False),            # the note's date and time
    Column("author", String(60), nullable=False),
    Column("text", String),                               # none once erased
    Column("sha256", String(64), nullable=False),
    Index("ix_notes_case", "case_id", "id"),
)


def text_digest(text: str) -> str:
    """The SHA-256 a note's text is kept with, recorded by its event and checked by `audit verify`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# A file attached to a case, stored outside the database under `storage_key`.
Document = Table(
    "documents", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),               # the audit event that attached it
    Column("filename", String(200)),                      # as uploaded; none once erased
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(200), nullable=False),   # the file's name in the document store
    Column("added_at", UTCDateTime, nullable=False),
    Column("added_by", String(60), nullable=False),
    Column("erased_at", UTCDateTime),
    Index("ix_documents_case", "case_id", "id"),
)

# A mistaken step and the event that corrected it (append-only): the reports leave
# both out, so a corrected case counts as if the step had not happened.
Correction = Table(
    "corrections", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("corrected_seq", Integer, nullable=False),     # the mistaken step's event
    Column("correction_seq", Integer, nullable=False),    # the correction's event
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "corrected_seq", name="uq_corrections_step"),
)

# A user's own named list filter (a queue of their own).
SavedFilter = Table(
    "saved_filters", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("query", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "name", name="uq_saved_filter_name"),
)
