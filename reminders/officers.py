"""Officers and coordinators (handläggare, samordnare) as reminder recipients: a view over
the users (models/users.py), the one registry of who logs in and who is reminded.

A case names its responsible officers by user id (cases.kommun_officer, cases.af_officer);
the municipality's coordinators get the escalations. `etablera officer add` is
`etablera user add` for the two roles that receive reminders, without a password (a
recipient who does not log in yet; `user add ID ... --update` gives one later), with
where the reminders go: `notify` (an apprise URL or file:PATH) or `email` (through the
mail server of reminders.toml). A user without either gets reminders through the default
channel. Until migration 0011 this was a table of its own (`officers`); its rows are
users now.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etablera.access import accounts
from etablera.models import User
from etablera.models.configuration import Config
from etablera.models.database import transaction
from etablera.cases import filters
from etablera.statemachine.errors import BadInput, NotFound, NotPermitted
from etablera.statemachine.messages import Code

USERS = User
ORGS = ("kommun", "af")
ROLES = ("officer", "coordinator")
_ID = re.compile(r"^[A-Za-z0-9._@-]{1,60}$")


def add_officer(engine: Engine, officer_id: str, *, name: str, org: str, municipality: str, role: str = "officer",
                notify: str | None = None, email: str | None = None, update_existing: bool = False,
                config: Config | None = None) -> dict:
    """Register an officer or coordinator as a user (or, with `update_existing`, change
    one: a login user keeps their password and AF office)."""
    if not _ID.match(officer_id or ""):
        raise BadInput("officer_id_not_valid", field="id")
    if org not in ORGS:
        raise BadInput("unknown_organisation", field="org", choices=list(ORGS))
    if role not in ROLES:
        raise BadInput("unknown_role", field="role", choices=list(ROLES))
    if not municipality:
        raise BadInput("municipality_code_format", field="municipality")
    with transaction(engine, write=False) as conn:
        existing = conn.execute(select(USERS.c.office).where(USERS.c.id == officer_id)).first()
    if existing is not None and not update_existing:
        raise NotPermitted("officer_exists", field="id", officer=Code(officer_id))
    doc = accounts.add_user(engine, officer_id, name=name, role=role, organisation=org, municipality=municipality,
                            office=existing.office if existing is not None else None, notify=notify, email=email,
                            update_existing=existing is not None, config=config)
    return officer_doc(doc)


def officer_doc(user: dict) -> dict:
    """An officer as `officer list` shows it (a user_doc: the URL without credentials)."""
    return {"id": user["id"], "name": user["name"], "org": user["organisation"], "municipality": user["municipality"],
            "role": user["role"], "email": user["email"], "notify": user["notify"], "active": user["active"],
            "login": user["has_password"], "created_at": user["created_at"]}


def list_officers(engine: Engine, *, municipality: str | None = None, role: str | None = None) -> list[dict]:
    """The users who receive reminders: officers and coordinators (of a municipality, of a role)."""
    municipality = filters.municipality(municipality)
    role = filters.one_of(role, ROLES, field="role")
    query = select(USERS).where(USERS.c.role.in_(ROLES)).order_by(USERS.c.municipality, USERS.c.id)
    if municipality:
        query = query.where(USERS.c.municipality == municipality)
    if role:
        query = query.where(USERS.c.role == role)
    with transaction(engine, write=False) as conn:
        return [officer_doc(accounts.user_doc(r)) for r in conn.execute(query).mappings()]


def get_officer(engine: Engine, officer_id: str) -> dict:
    with transaction(engine, write=False) as conn:
        row = conn.execute(select(USERS).where(USERS.c.id == officer_id, USERS.c.role.in_(ROLES))).mappings().first()
    if row is None:
        raise NotFound("no_such_officer", field="id", officer=Code(officer_id))
    return officer_doc(accounts.user_doc(row))


__all__ = ["ORGS", "ROLES", "add_officer", "get_officer", "list_officers", "officer_doc"]
