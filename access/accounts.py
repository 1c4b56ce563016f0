"""Users, their passwords, web sessions and API tokens (the logins of the web interface
and the HTTP API).

Passwords are hashed with argon2id (argon2-cffi, its default parameters); a session
cookie and an API token are random secrets (`secrets.token_urlsafe`) of which only the
SHA-256 is stored. A session expires after `IDLE` without use and at the latest `ABSOLUTE`
after login; its expiry is pushed forward at most once every `REFRESH` so that reading a
page does not write to the database each time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine

from etablera.access.addresses import check_email, check_notify
from etablera.models.config_lookup import as_search, find, find_stamped
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.prepared import Prepared
from etablera.models.snapshot import kept
from etablera.models.timestamps import show, utcnow
from etablera.models.users import ORGANISATIONS, ROLES, ApiToken, User, WebSession
from etablera.statemachine.errors import BadInput, NotFound, NotPermitted
from etablera.statemachine.fields import check_municipality
from etablera.statemachine.messages import Code, Words

USERS = User
SESSIONS = WebSession
TOKENS = ApiToken
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=10)
REFRESH = timedelta(minutes=5)
MIN_PASSWORD = 10
TOKEN_PREFIX = "etb_"
_ID = re.compile(r"^[A-Za-z0-9._@-]{1,60}$")


@lru_cache(maxsize=1)
def _hasher():
    """argon2's hasher, imported on first use: a command that checks no password (`case
    show`) does not load argon2 and its C bindings."""
    from argon2 import PasswordHasher
    return PasswordHasher()


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that a wrong user name
    takes as long as a wrong password (no user enumeration by timing). Made on first use,
    not at import (an argon2 hash costs a tenth of a second every CLI command would pay);
    the web app makes it at start-up, before the first login."""
    return _hasher().hash("not a password of anyone")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ----------------------------------------------------------------------------- AF offices

@dataclass(frozen=True)
class Office:
    id: str
    name: str
    municipalities: tuple[str, ...]


OFFICES_FILE = "af_offices.toml"


def af_offices(directory: Path | None = None) -> dict[str, Office]:
    """Arbetsförmedlingen's offices and the municipalities each covers (`af_offices.toml`,
    looked up like every configuration file; an empty one: no offices, AF officers then see
    their own municipality only).

    Read again when the file changes: every request asks (a stat of the file), so a
    changed office applies at each user's next request, in every process, without a
    restart. A broken file is refused (ConfigError naming it) until it is mended."""
    search = as_search(directory)
    return _offices(search, *find_stamped(OFFICES_FILE, search))


def offices_file(directory: Path | None = None) -> Path:
    """The af_offices.toml in use, or where one would be read from (the first directory)."""
    search = as_search(directory)
    return find(OFFICES_FILE, search) or search[0] / OFFICES_FILE


@lru_cache(maxsize=8)
def _offices(search: tuple[Path, ...], path: Path | None, stamp: tuple | None) -> dict[str, Office]:
    return kept("offices", (tuple(map(str, search)), str(path), stamp), lambda: _validated_offices(search))


def _validated_offices(search: tuple[Path, ...]) -> dict[str, Office]:
    from etablera.models.config_files import load
    from etablera.models.config_schema import OfficesFile

    offices = load(OfficesFile, OFFICES_FILE, search, required=False)[0].offices
    return {i: Office(i, office.name or i, office.municipalities) for i, office in offices.items()}


# ----------------------------------------------------------------------------- users

def user_doc(row) -> dict:
    from etablera.models.ladder import redact       # the reminder settings' module: imported when shown

    return {"id": row["id"], "name": row["name"], "role": row["role"], "organisation": row["organisation"],
            "municipality": row["municipality"], "office": row["office"], "active": row["active"],
            "has_password": row["password_hash"] is not None, "email": row["email"],
            "notify": redact(row["notify"]) if row["notify"] else None, "created_at": show(row["created_at"])}


# A role as the refusals name it, inside a sentence.
ROLE_WORDS = {"officer": Words("handläggare", "officer"), "coordinator": Words("samordnare", "coordinator"),
              "auditor": Words("granskare", "auditor"), "admin": Words("administratör", "administrator")}


def role_words(role: str):
    return ROLE_WORDS.get(role, Code(role))


def add_user(engine: Engine, user_id: str, *, name: str, role: str, organisation: str,
             municipality: str | None = None, office: str | None = None, password: str | None = None,
             email: str | None = None, notify: str | None = None,
             update_existing: bool = False, config: Config | None = None) -> dict:
    """Create a user (or, with `update_existing`, change one: role, scope, password, where
    their reminders go). `password`, `email`, `notify`: None keeps what an existing user
    has; an empty `email` or `notify` removes it."""
    config = config or get_config()
    if not _ID.match(user_id or ""):
        raise BadInput("user_id_format", field="id")
    if not name or not name.strip():
        raise BadInput("name_missing", field="name")
    if role not in ROLES:
        raise BadInput("unknown_role", field="role", choices=list(ROLES))
    if organisation not in ORGANISATIONS:
        raise BadInput("unknown_organisation", field="organisation", choices=list(ORGANISATIONS))
    if municipality is not None:
        check_municipality(municipality, config)
    if office is not None and office not in af_offices():
        raise BadInput("unknown_office", field="office", value=Code(office), choices=list(af_offices()))
    if role != "admin" and role != "auditor":
        if organisation == "kommun" and municipality is None:
            raise BadInput("role_needs_municipality", field="municipality", role=role_words(role))
        if organisation == "af" and office is None and municipality is None:
            raise BadInput("role_needs_office", field="office", role=role_words(role))
    if password is not None and len(password) < MIN_PASSWORD:
        raise BadInput("password_too_short", field="password", min=MIN_PASSWORD)
    values = {"name": name.strip(), "role": role, "organisation": organisation, "municipality": municipality,
              "office": office, "active": True}
    if email is not None:
        values["email"] = check_email(email) if email.strip() else None
    if notify is not None:
        values["notify"] = check_notify(notify) if notify.strip() else None
    if password is not None:
        values["password_hash"] = _hasher().hash(password)
    with transaction(engine) as conn:
        exists = conn.execute(select(USERS.c.id).where(USERS.c.id == user_id)).first()
        if exists and not update_existing:
            raise NotPermitted("user_exists", field="id", user=Code(user_id))
        if exists:
            conn.execute(update(USERS).where(USERS.c.id == user_id).values(**values))
        else:
            conn.execute(insert(USERS).values(id=user_id, created_at=utcnow(),
                                              **{"password_hash": None, "email": None, "notify": None, **values}))
        row = conn.execute(select(USERS).where(USERS.c.id == user_id)).mappings().one()
    return user_doc(row)


def deactivate_user(engine: Engine, user_id: str) -> dict:
    """A user who leaves: no more logins; their sessions end and their tokens stop working."""
    now = utcnow()
    with transaction(engine) as conn:
        if conn.execute(update(USERS).where(USERS.c.id == user_id).values(active=False)).rowcount != 1:
            raise NotFound("no_such_user", field="id", user=Code(user_id))
        conn.execute(update(SESSIONS).where(SESSIONS.c.user_id == user_id, SESSIONS.c.ended_at.is_(None))
                     .values(ended_at=now))
        conn.execute(update(TOKENS).where(TOKENS.c.user_id == user_id, TOKENS.c.revoked_at.is_(None))
                     .values(revoked_at=now))
        row = conn.execute(select(USERS).where(USERS.c.id == user_id)).mappings().one()
    return user_doc(row)


def list_users(engine: Engine) -> list[dict]:
    with transaction(engine, write=False) as conn:
        return [user_doc(r) for r in conn.execute(select(USERS).order_by(USERS.c.id)).mappings()]


def get_user(engine: Engine, user_id: str) -> dict:
    with transaction(engine, write=False) as conn:
        row = conn.execute(select(USERS).where(USERS.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound("no_such_user", field="id", user=Code(user_id))
    return user_doc(row)


def authenticate(engine: Engine, user_id: str, password: str) -> dict | None:
    """The user if the password is theirs and they are active; None otherwise (the same
    answer, in about the same time, for an unknown user and a wrong password)."""
    with transaction(engine, write=False) as conn:
        row = conn.execute(select(USERS).where(USERS.c.id == (user_id or "").strip())).mappings().first()
    stored = row["password_hash"] if row is not None and row["active"] else None
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
    hasher = _hasher()
    try:
        hasher.verify(stored or dummy_hash(), password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    if hasher.check_needs_rehash(stored):
        with transaction(engine) as conn:
            conn.execute(update(USERS).where(USERS.c.id == row["id"]).values(password_hash=hasher.hash(password)))
    return user_doc(row)


# ----------------------------------------------------------------------------- sessions

@dataclass(frozen=True)
class Session:
    id: str                 # the stored digest
    user: dict
    csrf: str
    expires_at: datetime


def start_session(engine: Engine, user_id: str, now: datetime | None = None) -> tuple[str, Session]:
    """A new session for a user who just logged in: (the cookie's secret, the session)."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    row = {"id": _digest(secret), "user_id": user_id, "csrf": csrf, "created_at": now, "expires_at": now + IDLE,
           "absolute_expires_at": now + ABSOLUTE, "ended_at": None}
    with transaction(engine) as conn:
        conn.execute(insert(SESSIONS).values(**row))
        user = conn.execute(select(USERS).where(USERS.c.id == user_id)).mappings().one()
    return secret, Session(row["id"], user_doc(user), csrf, row["expires_at"])


# What a request needs of its user (never the password hash).
_PRINCIPAL = (USERS.c.id, USERS.c.name, USERS.c.role, USERS.c.organisation, USERS.c.municipality, USERS.c.office,
              USERS.c.active)
# Built once, the digest a parameter, run on the driver (models/prepared.py): every page
# request looks its session up.
_SESSION_QUERY = Prepared(select(SESSIONS.c.csrf, SESSIONS.c.expires_at, SESSIONS.c.absolute_expires_at,
                                 SESSIONS.c.ended_at, *_PRINCIPAL)
                          .join(USERS, USERS.c.id == SESSIONS.c.user_id).where(SESSIONS.c.id == bindparam("digest")))


def _principal_doc(row) -> dict:
    return {c.name: row[c.name] for c in _PRINCIPAL}


def find_session(engine: Engine, secret: str | None, now: datetime | None = None) -> Session | None:
    """The live session the cookie's secret belongs to, or None (unknown, ended, expired,
    or its user deactivated). Pushes the idle expiry forward, at most once per REFRESH."""
    if not secret or len(secret) > 200:
        return None
    now = now or utcnow()
    digest = _digest(secret)
    with transaction(engine, write=False, single=True) as conn:
        row = _SESSION_QUERY.first(conn, {"digest": digest})
    if row is None or row["ended_at"] is not None or not row["active"]:
        return None
    if now >= row["expires_at"] or now >= row["absolute_expires_at"]:
        return None
    expires = row["expires_at"]
    if expires - now < IDLE - REFRESH:
        expires = min(now + IDLE, row["absolute_expires_at"])
        with transaction(engine) as conn:
            conn.execute(update(SESSIONS).where(SESSIONS.c.id == digest).values(expires_at=expires))
    return Session(digest, _principal_doc(row), row["csrf"], expires)


def end_session(engine: Engine, secret: str | None) -> None:
    if not secret:
        return
    with transaction(engine) as conn:
        conn.execute(update(SESSIONS).where(SESSIONS.c.id == _digest(secret), SESSIONS.c.ended_at.is_(None))
                     .values(ended_at=utcnow()))


# ----------------------------------------------------------------------------- API tokens

TOKEN_SCOPES = ("events:read",)      # what a token may be limited to (the event feed: cases/feed.py)


def create_token(engine: Engine, user_id: str, *, label: str, days: int | None = 365,
                 scopes: tuple[str, ...] = ()) -> tuple[str, dict]:
    """A new API token for `user_id`: (the token, shown once and never stored; its record).
    `scopes`: the token may do only these (TOKEN_SCOPES), within its user's municipalities."""
    if not label or not label.strip() or len(label) > 120:
        raise BadInput("token_label", field="label")
    for name in scopes:
        if name not in TOKEN_SCOPES:
            raise BadInput("unknown_scope", field="scope", value=name, choices=list(TOKEN_SCOPES))
    if days is not None and days <= 0:
        raise BadInput("days_positive", field="days")
    get_user(engine, user_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = {"id": _digest(token), "prefix": token[:12], "user_id": user_id, "label": label.strip(),
           "created_at": now, "expires_at": now + timedelta(days=days) if days else None, "revoked_at": None,
           "scopes": " ".join(dict.fromkeys(scopes)) or None}
    with transaction(engine) as conn:
        conn.execute(insert(TOKENS).values(**row))
    return token, _token_doc(row)


def _token_doc(row) -> dict:
    return {"prefix": row["prefix"], "user": row["user_id"], "label": row["label"],
            "created_at": show(row["created_at"]), "expires_at": show(row["expires_at"]),
            "revoked_at": show(row["revoked_at"]), "scopes": row["scopes"].split() if row["scopes"] else None}


def list_tokens(engine: Engine, user_id: str | None = None) -> list[dict]:
    query = select(TOKENS).order_by(TOKENS.c.created_at)
    if user_id:
        query = query.where(TOKENS.c.user_id == user_id)
    with transaction(engine, write=False) as conn:
        return [_token_doc(r) for r in conn.execute(query).mappings()]


def revoke_token(engine: Engine, prefix: str) -> int:
    with transaction(engine) as conn:
        n = conn.execute(update(TOKENS).where(TOKENS.c.prefix == prefix, TOKENS.c.revoked_at.is_(None))
                         .values(revoked_at=utcnow())).rowcount
    if not n:
        raise NotFound("no_such_token", field="token", prefix=Code(prefix))
    return n


_TOKEN_QUERY = (select(TOKENS.c.expires_at, TOKENS.c.revoked_at, TOKENS.c.scopes, *_PRINCIPAL)
                .join(USERS, USERS.c.id == TOKENS.c.user_id).where(TOKENS.c.id == bindparam("digest")))


def user_for_token(engine: Engine, token: str | None, now: datetime | None = None) -> dict | None:
    """The active user whose live token this is, or None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = now or utcnow()
    with transaction(engine, write=False, single=True) as conn:
        row = conn.execute(_TOKEN_QUERY, {"digest": _digest(token)}).mappings().first()
    if row is None or row["revoked_at"] is not None or not row["active"]:
        return None
    if row["expires_at"] is not None and now >= row["expires_at"]:
        return None
    # A token with scopes may do only that (TOKEN_SCOPES); without, all its user may.
    return {**_principal_doc(row), "scopes": tuple(row["scopes"].split()) if row["scopes"] else None}


# ----------------------------------------------------------------------------- demo logins

# For the walkthrough and the synthetic cohort: (id, name, role, organisation,
# municipality, office). h0581-01 is one of the cohort's officers and af0581-01 its AF
# officer in Norrköping, so with a cohort they have worklists of their own.
DEMO_USERS = (
    ("h0581-01", "Handläggare Norrköping (demo)", "officer", "kommun", "0581", None),
    ("af0581-01", "Handläggare AF Norrköping (demo)", "officer", "af", None, "norrkoping"),
    ("samordnare0581", "Samordnare Norrköping (demo)", "coordinator", "kommun", "0581", None),
    ("h0180-01", "Handläggare Stockholm (demo)", "officer", "kommun", "0180", None),
    ("granskare", "Granskare (demo)", "auditor", "kommun", None, None),
    ("admin", "Administratör (demo)", "admin", "kommun", None, None),
)
DEMO_PASSWORD = "demo-losenord"


def add_demo_users(engine: Engine) -> dict:
    """Create or reset the demo logins, all with DEMO_PASSWORD."""
    users = [add_user(engine, user_id, name=name, role=role, organisation=org, municipality=municipality,
                      office=office, password=DEMO_PASSWORD, update_existing=True)
             for user_id, name, role, org, municipality, office in DEMO_USERS]
    return {"password": DEMO_PASSWORD, "users": users}


def demo_users_text(doc: dict) -> str:
    return "\n".join([f"demo users (password: {doc['password']}):"]
                     + [f"  {u['id']:<16} {u['role']:<12} {u['organisation']:<6} "
                        f"{u['municipality'] or u['office'] or 'alla kommuner'}" for u in doc["users"]])
