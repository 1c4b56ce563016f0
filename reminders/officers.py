"""Officers and coordinators (handläggare, samordnare): who gets which reminder, and where.

A case names its responsible officers by id (cases.kommun_officer, cases.af_officer); the
municipality's coordinators get the escalations. Registering one here gives the id a
notification URL; an officer without one gets reminders through the default channel.
"""

from __future__ import annotations

import re

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from etablera.models import Officer
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.ladder import redact
from etablera.models.timestamps import show, utcnow
from etablera.cases import filters
from etablera.statemachine.errors import BadInput, NotFound, NotPermitted
from etablera.statemachine.fields import check_municipality
from etablera.statemachine.messages import Code

OFFICERS = Officer.__table__
ORGS = ("kommun", "af")
ROLES = ("officer", "coordinator")
_ID = re.compile(r"^[A-Za-z0-9._@-]{1,60}$")
_URL = re.compile(r"^(file:.+|[a-z][a-z0-9+.-]*://.+)$")


def add_officer(engine: Engine, officer_id: str, *, name: str, org: str, municipality: str, role: str = "officer",
                notify: str | None = None, update_existing: bool = False, config: Config | None = None) -> dict:
    """Register an officer or coordinator (or, with `update_existing`, change one)."""
    config = config or get_config()
    if not _ID.match(officer_id or ""):
        raise BadInput("officer_id_not_valid", field="id")
    if not name or not name.strip():
        raise BadInput("name_missing", field="name")
    if org not in ORGS:
        raise BadInput("unknown_organisation", field="org", choices=list(ORGS))
    if role not in ROLES:
        raise BadInput("unknown_role", field="role", choices=list(ROLES))
    if not municipality:
        raise BadInput("municipality_code_format", field="municipality")
    check_municipality(municipality, config)
    if notify is not None and not _URL.match(notify):
        raise BadInput("notify_url_not_valid", field="notify")
    values = {"name": name.strip(), "org": org, "municipality": municipality, "role": role, "notify": notify,
              "active": True}
    with transaction(engine) as conn:
        exists = conn.execute(select(OFFICERS.c.id).where(OFFICERS.c.id == officer_id)).first()
        if exists and not update_existing:
            raise NotPermitted("officer_exists", field="id", officer=Code(officer_id))
        if exists:
            conn.execute(update(OFFICERS).where(OFFICERS.c.id == officer_id).values(**values))
        else:
            conn.execute(insert(OFFICERS).values(id=officer_id, created_at=utcnow(), **values))
        row = conn.execute(select(OFFICERS).where(OFFICERS.c.id == officer_id)).mappings().one()
    return officer_doc(row)


def officer_doc(row) -> dict:
    return {"id": row["id"], "name": row["name"], "org": row["org"], "municipality": row["municipality"],
            "role": row["role"], "notify": redact(row["notify"]) if row["notify"] else None,
            "active": row["active"], "created_at": show(row["created_at"])}


def list_officers(engine: Engine, *, municipality: str | None = None, role: str | None = None) -> list[dict]:
    municipality = filters.municipality(municipality)
    role = filters.one_of(role, ROLES, field="role")
    query = select(OFFICERS).order_by(OFFICERS.c.municipality, OFFICERS.c.id)
    if municipality:
        query = query.where(OFFICERS.c.municipality == municipality)
    if role:
        query = query.where(OFFICERS.c.role == role)
    with transaction(engine, write=False) as conn:
        return [officer_doc(r) for r in conn.execute(query).mappings()]


def get_officer(engine: Engine, officer_id: str) -> dict:
    with transaction(engine, write=False) as conn:
        row = conn.execute(select(OFFICERS).where(OFFICERS.c.id == officer_id)).mappings().first()
    if row is None:
        raise NotFound("no_such_officer", field="id", officer=Code(officer_id))
    return officer_doc(row)
