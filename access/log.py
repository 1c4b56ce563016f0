"""Reading the access log (åtkomstlogg): the auditors' search, and a person's own extract
(registerutdrag över vem som tagit del av ens uppgifter).

The log itself is written by `journal.log_access` (and `scope.log`); it is append-only.
A person is found by their identity number, which is never written to any log, output or
URL here: the extract names the person's cases by id only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etablera.models import AccessLog
from etablera.models.database import transaction
from etablera.models.identity import IdentityError, parse_identity
from etablera.models.timestamps import local_date, show, utcnow
from etablera.cases.audit import CASES
from etablera.statemachine.errors import BadInput
from etablera.statemachine.fields import check_text
from etablera.statemachine.messages import identity_code
from etablera.cases.journal import log_access

LOG = AccessLog
MAX_ROWS = 5000


def _doc(r) -> dict:
    return {"id": r["id"], "at": show(r["at"]), "actor": r["actor"], "role": r["role"],
            "organisation": r["organisation"], "case_id": r["case_id"], "action": r["action"], "detail": r["detail"]}


def check_filters(actor: str | None, action: str | None) -> None:
    """The text filters of a search can be stored and searched for (no NUL, which
    PostgreSQL refuses, no lone surrogate): else BadInput naming the filter. Called before
    the search itself is logged."""
    check_text(actor or "", "actor")
    check_text(action or "", "action")


def search(engine: Engine, *, case_id: int | None = None, actor: str | None = None, action: str | None = None,
           since: datetime | None = None, until: datetime | None = None,
           municipalities: tuple[str, ...] | None = None, limit: int = 500) -> list[dict]:
    """Access-log rows, newest first. `municipalities` limits to cases now there."""
    if not 1 <= limit <= MAX_ROWS:
        raise BadInput("limit_range", field="limit", max=MAX_ROWS)
    check_filters(actor, action)
    query = select(LOG).order_by(LOG.c.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(LOG.c.case_id == case_id)
    if actor:
        query = query.where(LOG.c.actor == actor)
    if action:
        query = query.where(LOG.c.action.like(f"{action}%"))
    if since:
        query = query.where(LOG.c.at >= since)
    if until:
        query = query.where(LOG.c.at < until)
    if municipalities is not None:
        query = query.where(LOG.c.case_id.in_(select(CASES.c.id).where(CASES.c.municipality.in_(municipalities))))
    with transaction(engine, write=False) as conn:
        return [_doc(r) for r in conn.execute(query).mappings()]


def person_extract(engine: Engine, person: str, *, actor: str, role: str | None = None,
                   organisation: str | None = None, municipalities: tuple[str, ...] | None = None) -> dict:
    """Every access to the cases of one person (all their cases, active or not; those now
    in `municipalities` if given), oldest first. Producing the extract is itself logged
    on each case."""
    try:
        identity = parse_identity(person, on=local_date(utcnow()))
    except IdentityError as exc:
        raise BadInput(identity_code(exc), field="person") from None
    query = select(CASES.c.id).where(CASES.c.person == identity.digits).order_by(CASES.c.id)
    if municipalities is not None:
        query = query.where(CASES.c.municipality.in_(municipalities))
    with transaction(engine) as conn:
        case_ids = [r.id for r in conn.execute(query)]
        rows = []
        if case_ids:
            rows = [_doc(r) for r in conn.execute(select(LOG).where(LOG.c.case_id.in_(case_ids))
                                                  .order_by(LOG.c.at, LOG.c.id)).mappings()]
        for case_id in case_ids:
            log_access(conn, actor=actor, case_id=case_id, action="access_extract", role=role,
                       organisation=organisation)
    return {"generated_at": show(utcnow()), "cases": case_ids, "entries": rows}
