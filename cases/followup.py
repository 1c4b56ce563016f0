"""Follow-up after exit (uppföljning efter avslut): 90, 180 and 360 days after a case left
for work, own business or studies, the responsible officer records where the person is.

A follow-up changes no state: it is an audit event on the case's chain (trigger
`followup`, from and to the terminal state) and a row in `followups`, written in one
transaction through `journal.append`, so "who recorded what, when" is in the audit trail.

`due_followups` is what the daily deadline check calls: the follow-ups whose day has come
and that nobody has recorded yet, found with one indexed query on `cases` (the exit
instant is the terminal case's `state_since`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from etablera.models import FollowUp
from etablera.models.database import transaction
from etablera.models.followup import FOLLOWUP_DAYS, FOLLOWUP_STATUSES
from etablera.models.timestamps import local_date, utcnow
from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.messages import Code
from etablera.cases import filters
from etablera.cases.journal import append, event_time, load_case
from etablera.statemachine.process import FOLLOWED_UP
from etablera.access.principal import Principal
from etablera.access.scope import check_case, refusals_logged, write_access
from etablera.reports.sql import Dialect, day_number, from_day_number

FOLLOWUPS = FollowUp
FOLLOWED_EXITS = FOLLOWED_UP
# How long a follow-up stays on the due list after its day (then it counts as missed in
# the report): until the next follow-up day is near.
DUE_WINDOW_DAYS = 60


@dataclass(frozen=True)
class DueFollowUp:
    """One follow-up whose day has come and is not recorded: no personal data."""
    case_id: int
    day: int                  # 90 | 180 | 360
    due: date                 # the exit date + day
    exited_on: date
    exit_state: str
    municipality: str
    kommun_officer: str | None
    af_officer: str | None

    @property
    def days_late(self) -> int:
        return (local_date(utcnow()) - self.due).days

    def as_dict(self) -> dict:
        return {"case_id": self.case_id, "day": self.day, "due": self.due.isoformat(),
                "exited_on": self.exited_on.isoformat(), "exit_state": self.exit_state,
                "municipality": self.municipality, "kommun_officer": self.kommun_officer,
                "af_officer": self.af_officer}


def record_followup(engine: Engine, who: Principal, case_id: int, *, day: int, status: str,
                    at: datetime | None = None, note: str | None = None) -> dict:
    """`who` records where the person is `day` days after the exit. Returns the stored
    audit event."""
    with refusals_logged(engine, who, case_id, "followup"):
        return _record(engine, who, case_id, day, status, at, note)


def _record(engine: Engine, who: Principal, case_id: int, day: int, status: str, at: datetime | None,
            note: str | None) -> dict:
    actor = who.id
    if day not in FOLLOWUP_DAYS:
        raise BadInput("followup_day", field="day", choices=list(FOLLOWUP_DAYS), value=day)
    if status not in FOLLOWUP_STATUSES:
        raise BadInput("followup_status", field="status", choices=list(FOLLOWUP_STATUSES), value=Code(status))
    try:
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            if case["state"] not in FOLLOWED_EXITS:
                raise NotPermitted("followup_not_exited", field="id", case=case_id, state=case["state"])
            at = event_time(at, case["last_event_at"])
            exited_on = local_date(case["state_since"])
            if local_date(at) < exited_on + timedelta(days=day):
                raise NotPermitted("followup_not_due", field="day", case=case_id, day=day,
                                   due=exited_on + timedelta(days=day), exited=exited_on)
            if conn.execute(select(FOLLOWUPS.c.id).where(FOLLOWUPS.c.case_id == case_id,
                                                         FOLLOWUPS.c.day == day)).first():
                raise NotPermitted("followup_recorded", field="day", case=case_id, day=day)
            event = append(conn, case, {}, {
                "at": at, "actor": actor, "trigger": "followup", "from_state": case["state"],
                "to_state": case["state"], "municipality": case["municipality"], "reason": None, "note": note,
                "skipped": [], "data": {"day": day, "status": status, "exited_on": exited_on.isoformat()}})
            conn.execute(insert(FOLLOWUPS).values(case_id=case_id, day=day, status=status,
                                                  exit_state=case["state"], municipality=case["municipality"],
                                                  at=at, actor=actor, seq=event["seq"]))
            write_access(conn, who, case_id, "followup")
    except IntegrityError:
        raise NotPermitted("followup_recorded", field="day", case=case_id, day=day) from None
    return event


def due_followups(engine_or_conn: Engine | Connection, today: date | None = None, *,
                  municipality: str | None = None, window_days: int = DUE_WINDOW_DAYS) -> list[DueFollowUp]:
    """Follow-ups due on `today` (default: today in Stockholm) and not yet recorded: the
    day (exit date + 90/180/360) has come, and at most `window_days` days ago."""
    today = today or local_date(utcnow())
    municipality = filters.municipality(municipality)
    if isinstance(engine_or_conn, Connection):
        return _due(engine_or_conn, today, municipality, window_days)
    with transaction(engine_or_conn, write=False) as conn:
        return _due(conn, today, municipality, window_days)


def _due(conn: Connection, today: date, municipality: str | None, window_days: int) -> list[DueFollowUp]:
    d = Dialect(conn.dialect.name)
    days = " UNION ALL ".join(f"SELECT {n} AS d" for n in FOLLOWUP_DAYS)
    states = ", ".join(f"'{s}'" for s in FOLLOWED_EXITS)
    earliest = today - timedelta(days=max(FOLLOWUP_DAYS) + window_days + 2)
    since = earliest if conn.dialect.name != "sqlite" else earliest.isoformat()
    rows = conn.execute(text(f"""
        WITH days AS ({days}),
        exits AS (
            SELECT id, state, municipality, kommun_officer, af_officer, {d.local_day('state_since')} AS exit_day
            FROM cases WHERE state IN ({states}) AND state_since >= :since
            {'AND municipality = :municipality' if municipality else ''}
        )
        SELECT e.id, days.d, e.exit_day, e.state, e.municipality, e.kommun_officer, e.af_officer
        FROM exits e CROSS JOIN days
        LEFT JOIN followups f ON f.case_id = e.id AND f.day = days.d
        WHERE f.id IS NULL AND e.exit_day + days.d <= :today AND e.exit_day + days.d > :today - :window
        ORDER BY e.exit_day + days.d, e.id"""),
        {"since": since, "today": day_number(today), "window": window_days, "municipality": municipality}).all()
    return [DueFollowUp(case_id=r[0], day=r[1], due=from_day_number(r[2] + r[1]), exited_on=from_day_number(r[2]),
                        exit_state=r[3], municipality=r[4], kommun_officer=r[5], af_officer=r[6]) for r in rows]


def list_followups(engine: Engine, case_id: int) -> list[dict]:
    with transaction(engine, write=False) as conn:
        rows = conn.execute(select(FOLLOWUPS).where(FOLLOWUPS.c.case_id == case_id)
                            .order_by(FOLLOWUPS.c.day)).mappings().all()
    return [{"case_id": r["case_id"], "day": r["day"], "status": r["status"], "exit_state": r["exit_state"],
             "municipality": r["municipality"], "at": r["at"].isoformat(), "actor": r["actor"], "seq": r["seq"]}
            for r in rows]


__all__ = ["DueFollowUp", "FOLLOWED_EXITS", "due_followups", "list_followups", "record_followup"]
