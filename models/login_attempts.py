"""Login attempts (inloggningsförsök): every attempt to log in with a password, recorded
before the password is checked, so that every process and every instance counts the
same failures (access/login_guard.py decides from them).

`name` is the user name as typed, folded to lower case; `client` the address the request
came from (behind a trusted proxy: the address it names). `outcome` is `pending` while
the password is being checked (counted as a failure until it is settled: a worker that
dies in the middle leaves a failure, never a free guess), then `failed` or `ok`;
`refused` is an attempt turned away before any check (it counts towards nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from etablera.models.timestamps import UTCDateTime

OUTCOMES = ("pending", "failed", "ok", "refused")


class LoginAttempt(SQLModel, table=True):
    """One attempt to log in with a password."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_name_at", "name", "at"), Index("ix_login_attempts_at", "at"))

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, description="the user name as typed, in lower case")
    client: str = Field(max_length=64, description="the client's address")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    outcome: str = Field(max_length=8, description="pending | failed | ok | refused")
