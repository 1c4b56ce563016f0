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

from sqlalchemy import Column, Integer, String, Table

from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

OUTCOMES = ("pending", "failed", "ok", "refused")

# One attempt to log in with a password.
LoginAttempt = Table(
    "login_attempts", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(60), nullable=False),           # the user name as typed, in lower case
    Column("client", String(64), nullable=False),         # the client's address
    Column("at", UTCDateTime, nullable=False),
    Column("outcome", String(8), nullable=False),         # pending | failed | ok | refused
    Index("ix_login_attempts_name_at", "name", "at"),
    Index("ix_login_attempts_at", "at"),
)
