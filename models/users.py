"""Who may log in (users, användare), their web sessions and their API tokens.

A user has one role (`officer`, `coordinator`, `auditor`, `admin`), belongs to the
municipality (`kommun`) or to Arbetsförmedlingen (`af`), and has a municipality (a
municipal user) or an AF office (an AF user: the office's municipalities come from
`config/af_offices.toml`). A user is also whom reminders go to (one registry of the
people who log in and the people who are reminded, since migration 0011 folded the
former `officers` table in): a case names its responsible officers by user id, and an
officer's or coordinator's reminders go to their `notify` URL, else to their `email`
through the configured mail server, else to the default channel
(reminders/outbox.py). A user without a password is a recipient who cannot log in
(yet). Passwords are stored as argon2id hashes; a session or an API
token is stored only as the SHA-256 of the secret the browser or the integration holds,
so a copy of the database gives no one a way in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from etablera.models.timestamps import UTCDateTime

ROLES = ("officer", "coordinator", "auditor", "admin")
ORGANISATIONS = ("kommun", "af")


class User(SQLModel, table=True):
    """Someone who logs in to the web interface or owns API tokens."""

    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=60, description="login name; the actor id on audit events")
    name: str = Field(max_length=120)
    role: str = Field(max_length=12, description="officer | coordinator | auditor | admin")
    organisation: str = Field(max_length=6, description="kommun | af")
    municipality: str | None = Field(default=None, max_length=4, description="a municipal user's kommunkod")
    office: str | None = Field(default=None, max_length=40, description="an AF user's office (config/af_offices.toml)")
    password_hash: str | None = Field(default=None, max_length=200, description="argon2id; none: token only")
    email: str | None = Field(default=None, max_length=254, description="where reminders go, through the mail server "
                                                                        "of reminders.toml [delivery] mail_url")
    notify: str | None = Field(default=None, max_length=500, description="an apprise URL or file:PATH for reminders, "
                                                                         "before the e-mail address; may hold credentials")
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class WebSession(SQLModel, table=True):
    """A logged-in browser. Expires when idle and, at the latest, a fixed time after login."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id"),)

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 of the cookie's secret")
    user_id: str = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    csrf: str = Field(max_length=64, description="the token every form of this session carries")
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False), description="idle expiry")
    absolute_expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ApiToken(SQLModel, table=True):
    """A bearer token for an integration, acting as its user with that user's scope."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 of the token")
    prefix: str = Field(max_length=12, description="the token's first characters, to tell tokens apart")
    user_id: str = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    label: str = Field(max_length=120)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    scopes: str | None = Field(default=None, max_length=200,
                               description="space-separated (events:read): the token may do only that; none: all "
                                           "its user may")
