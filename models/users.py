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

from sqlalchemy import Boolean, Column, ForeignKey, String, Table

from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

ROLES = ("officer", "coordinator", "auditor", "admin")
ORGANISATIONS = ("kommun", "af")

# Someone who logs in to the web interface or owns API tokens.
User = Table(
    "users", metadata,
    Column("id", String(60), primary_key=True),           # login name; the actor id on audit events
    Column("name", String(120), nullable=False),
    Column("role", String(12), nullable=False),           # officer | coordinator | auditor | admin
    Column("organisation", String(6), nullable=False),    # kommun | af
    Column("municipality", String(4)),                    # a municipal user's kommunkod
    Column("office", String(40)),                         # an AF user's office (config/af_offices.toml)
    Column("password_hash", String(200)),                 # argon2id; none: token only
    Column("email", String(254)),         # where reminders go, through the mail server of reminders.toml
                                          # [delivery] mail_url
    Column("notify", String(500)),        # an apprise URL or file:PATH for reminders, before the e-mail
                                          # address; may hold credentials
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# A logged-in browser. Expires when idle and, at the latest, a fixed time after login.
WebSession = Table(
    "web_sessions", metadata,
    Column("id", String(64), primary_key=True),           # SHA-256 of the cookie's secret
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),           # the token every form of this session carries
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),    # idle expiry
    Column("absolute_expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Index("ix_web_sessions_user", "user_id"),
)

# A bearer token for an integration, acting as its user with that user's scope.
ApiToken = Table(
    "api_tokens", metadata,
    Column("id", String(64), primary_key=True),           # SHA-256 of the token
    Column("prefix", String(12), nullable=False),         # the token's first characters, to tell tokens apart
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("label", String(120), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("scopes", String(200)),        # space-separated (events:read): the token may do only that; none:
                                          # all its user may
    Index("ix_api_tokens_user", "user_id"),
)
