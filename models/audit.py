"""The audit trail (AuditEvent) and the access log (AccessLog).

Both are append-only: the application never updates or deletes a row, and the migration
installs database triggers that refuse UPDATE and DELETE on them. Each audit event
carries a SHA-256 hash over its own content and the previous event's hash of the same
case, so a changed, removed or reordered event breaks the chain (`etablera audit verify`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from etablera.models.timestamps import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One thing that happened to a case: a transition, a measure change, a transfer."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_audit_case_seq"),
        Index("ix_audit_trigger_at", "trigger", "at"),
        Index("ix_audit_feed", "txid", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    seq: int
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(max_length=60)
    trigger: str = Field(max_length=40)
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str = Field(max_length=40)
    municipality: str = Field(max_length=4, description="where the case was when this happened")
    reason: str | None = Field(default=None, max_length=40)
    note: str | None = None
    skipped: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Each erasable value's salt, outside the hash (cases/sealing.py); none once erased.
    salts: dict | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # The writing transaction's id on PostgreSQL (the database sets it; 0 on SQLite), for
    # the event feed's order (cases/feed.py). Never written by the application.
    txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0")))


class AccessLog(SQLModel, table=True):
    """Who looked at or changed which case's personal data, when (append-only)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_case_at", "case_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(max_length=60)
    role: str | None = Field(default=None, max_length=20)
    organisation: str | None = Field(default=None, max_length=40)
    case_id: int | None = None                  # (by case: ix_access_case_at)
    action: str = Field(max_length=40)
    detail: str | None = None
