"""The deadline check (tidsramskontroll): which (case or measure, stage visit, ladder step)
has reached its moment, recorded in the reminder outbox.

One set-based pass. The ladder turns "on `today`, which step has this due date reached"
into one range of due dates per step (models.ladder.Ladder.windows), so each (subject,
step) is one `INSERT INTO reminders ... SELECT ... WHERE due > :after AND due <= :upto
ON CONFLICT DO NOTHING` over an index. The unique key (kind, target, visit, step) makes a
second run, a retry or a concurrent run record nothing twice, on SQLite and PostgreSQL.

Only the step a due date has reached is recorded: a case first seen after its escalation
day gets the escalation, not a stale warning too. Because a step fires once its moment
has come (not only on that very day), a day without a check loses nothing — within
`catch_up_days` (config/reminders.toml) for the last step, so that a check does not
rescan every case that was ever overdue, and a go-live does not flood the officers with
escalations of cases years late.

Subjects and their visits:
- stage: the case's current stage due date (cases.due); the visit is `cases.stage_seq`,
  the seq of the event that entered the stage, so a second visit of the same stage
  (module 2 again after an assessment) gets its own reminders;
- establishment: the two-year establishment due date, once per case; a case registered
  when its establishment time was already over (`registered_late`) gets the step its due
  date has reached from the first check that sees it, however old the due date
  (`_late_select`: the catch-up window would drop it, and nobody would ever be told);
- measure: each open measure's due date;
- agreement.revision / agreement.expiry: the municipality's agreement dates, for the
  coordinators (from the agreement files, not the database: a handful of rows);
- followup: the follow-up 90, 180 or 360 days after a case left for work, own business or
  studies (the visit is the day), due on the exit's Stockholm date + that many days,
  until somebody records it (statemachine/followup.py).
Cases on hold are skipped: their clock stops, and resuming moves their due dates.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import (Connection, Date, Integer, String, and_, case, cast, exists, literal, literal_column,
                        null, select, true)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from etablera.models import Case, FollowUp, Measure, Reminder
from etablera.models.agreements import Agreement, AgreementBook
from etablera.models.configuration import config_dir
from etablera.models.database import transaction
from etablera.models.followup import FOLLOWUP_DAYS
from etablera.models.ladder import Ladder, ReminderConfig, Window, get_reminder_config
from etablera.models.timestamps import UTCDateTime, day_start, local_date, utcnow
from etablera.cases.followup import FOLLOWED_EXITS
from etablera.statemachine.process import OPEN_MEASURE_STATES, STAGE_OF
from etablera.reports.sql import Dialect

CASES = Case
MEASURES = Measure
REMINDERS = Reminder
FOLLOWUPS = FollowUp
KEY = ("kind", "target_id", "visit", "step")
COLUMNS = ("kind", "target_id", "visit", "step", "case_id", "measure_id", "municipality", "stage", "due",
           "detected_on", "recorded_at", "status", "addressed", "attempts")
OPEN_MEASURES = OPEN_MEASURE_STATES


@dataclass
class CheckResult:
    """What one check recorded: new reminders per subject and step."""
    today: date
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, subject: str, step: str, n: int) -> None:
        per = self.counts.setdefault(subject, {})
        per[step] = per.get(step, 0) + n

    @property
    def by_step(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for per in self.counts.values():
            for step, n in per.items():
                out[step] = out.get(step, 0) + n
        return out

    @property
    def total(self) -> int:
        return sum(self.by_step.values())

    def as_dict(self) -> dict:
        return {"today": self.today.isoformat(), "new": self.total, "by_step": self.by_step,
                "by_subject": self.counts}


def record_due(engine: Engine, now: datetime | None = None, *, config: ReminderConfig | None = None,
               book: AgreementBook | None = None, municipalities: Collection[str] | None = None) -> CheckResult:
    """Record every reminder whose moment has come by `now` (default: now). Idempotent.
    `municipalities` limits the pass to those codes (one part of a fanned-out check,
    flows/deadlines.py): the same statements with one more condition, still set-based;
    the parts of a partition of the codes together record exactly what one pass does."""
    only = _only_in(municipalities)
    now = now or utcnow()
    config = config or get_reminder_config()
    today = local_date(now)
    recorded = utcnow()
    result = CheckResult(today)
    with transaction(engine) as conn:
        for subject, select_for in (("stage", _stage_select), ("establishment", _establishment_select),
                                    ("measure", _measure_select)):
            for window in config.ladder(subject).windows(today, config.catch_up_days):
                query = only(select_for(window, today, recorded, conn.dialect.name == "sqlite"))
                result.add(subject, window.step, _insert(conn, query))
        late = _dropped(config.ladder("establishment"), today, config.catch_up_days)
        if late is not None:
            result.add("establishment", late.step, _insert(conn, only(_late_select(late, today, recorded))))
        dialect = Dialect(conn.dialect.name)
        for window in config.ladder("followup").windows(today, config.catch_up_days):
            for day in FOLLOWUP_DAYS:
                result.add("followup", window.step, _insert(conn, only(_followup_select(window, day, today,
                                                                                         recorded, dialect))))
        if book is None:
            book = AgreementBook.load(config_dir() / "agreements")
        for row in agreement_rows(book, config.ladder("agreement"), today, recorded, config.catch_up_days):
            if municipalities is not None and row["municipality"] not in municipalities:
                continue
            result.add("agreement", row["step"], _insert_values(conn, row))
    return result


def _only_in(municipalities: Collection[str] | None):
    """The cases of these municipalities only (every select here reads `cases`)."""
    if municipalities is None:
        return lambda query: query
    codes = sorted(set(municipalities))
    return lambda query: query.where(CASES.c.municipality.in_(codes))


def _common(window: Window, today: date, recorded: datetime) -> tuple:
    return (literal(window.step, String), literal(today, Date), literal(recorded, UTCDateTime()),
            literal("pending", String), literal(False), literal(0, Integer))


def _not_recorded(kind, target, visit, step: str, probe: bool):
    """On SQLite, skip what is already recorded before trying to insert it (an index probe
    is cheaper than a conflicting insert: the idempotent re-run halves). Not on PostgreSQL,
    where the planner may turn it into a hash anti-join over the whole outbox when its
    statistics are stale. ON CONFLICT stays either way: it is what makes concurrent runs safe."""
    if not probe:
        return true()
    r = REMINDERS.c
    return ~exists().where(r.kind == kind, r.target_id == target, r.visit == visit, r.step == step)


def _in_window(column, window: Window):
    condition = column <= window.upto
    return and_(condition, column > window.after) if window.after is not None else condition


def _stage_select(window: Window, today: date, recorded: datetime, probe: bool):
    step, detected, recorded, status, addressed, attempts = _common(window, today, recorded)
    stage = case(STAGE_OF, value=CASES.c.state)
    return (select(literal("stage", String), CASES.c.id, CASES.c.stage_seq, step, CASES.c.id,
                   cast(null(), Integer), CASES.c.municipality, stage, CASES.c.due, detected, recorded, status,
                   addressed, attempts)
            .where(_in_window(CASES.c.due, window), CASES.c.state.in_(list(STAGE_OF)), CASES.c.active,
                   _not_recorded("stage", CASES.c.id, CASES.c.stage_seq, window.step, probe)))


def _establishment_select(window: Window, today: date, recorded: datetime, probe: bool):
    step, detected, recorded, status, addressed, attempts = _common(window, today, recorded)
    return (select(literal("establishment", String), CASES.c.id, literal(0, Integer), step, CASES.c.id,
                   cast(null(), Integer), CASES.c.municipality, literal("establishment", String),
                   CASES.c.establishment_due, detected, recorded, status, addressed, attempts)
            .where(_in_window(CASES.c.establishment_due, window), CASES.c.state.in_(list(STAGE_OF)),
                   CASES.c.active, _not_recorded("establishment", CASES.c.id, 0, window.step, probe)))


def _dropped(ladder: Ladder, today: date, catch_up_days: int | None) -> Window | None:
    """The due dates the catch-up window drops (their last step came more than
    `catch_up_days` ago), as a window of the last step; None without a catch-up window."""
    if not catch_up_days:
        return None
    last = ladder.windows(today, catch_up_days)[-1]
    return Window(last.step, None, last.after)


def _late_select(window: Window, today: date, recorded: datetime):
    """A case registered after its establishment time was over (cases.registered_late) is
    never dropped by the catch-up window: the step its due date has reached (the last) is
    recorded once, by the first check that sees it running, unless an establishment
    reminder of the case is recorded already (at any step: nobody is told twice)."""
    step, detected, recorded, status, addressed, attempts = _common(window, today, recorded)
    r = REMINDERS.c
    return (select(literal("establishment", String), CASES.c.id, literal(0, Integer), step, CASES.c.id,
                   cast(null(), Integer), CASES.c.municipality, literal("establishment", String),
                   CASES.c.establishment_due, detected, recorded, status, addressed, attempts)
            .where(CASES.c.registered_late, _in_window(CASES.c.establishment_due, window),
                   CASES.c.state.in_(list(STAGE_OF)), CASES.c.active,
                   ~exists().where(r.kind == "establishment", r.target_id == CASES.c.id)))


def _measure_select(window: Window, today: date, recorded: datetime, probe: bool):
    step, detected, recorded, status, addressed, attempts = _common(window, today, recorded)
    return (select(literal("measure", String), MEASURES.c.id, literal(0, Integer), step, MEASURES.c.case_id,
                   MEASURES.c.id, CASES.c.municipality, literal("measure.", String) + MEASURES.c.type,
                   MEASURES.c.due, detected, recorded, status, addressed, attempts)
            .select_from(MEASURES.join(CASES, CASES.c.id == MEASURES.c.case_id))
            .where(MEASURES.c.state.in_(OPEN_MEASURES), _in_window(MEASURES.c.due, window),
                   CASES.c.state.in_(list(STAGE_OF)), CASES.c.active,
                   _not_recorded("measure", MEASURES.c.id, 0, window.step, probe)))


def _followup_select(window: Window, day: int, today: date, recorded: datetime, dialect: Dialect):
    """The `day`-day follow-ups whose due date (the exit's Stockholm date + day) is in the
    window and that nobody has recorded: the due dates (after, upto] are exits from the
    Stockholm midnight opening after - day + 1 to the one opening upto - day + 1, one range
    over ix_cases_state_since."""
    step, detected, recorded, status, addressed, attempts = _common(window, today, recorded)
    exited = CASES.c.state_since
    in_window = exited < day_start(window.upto - timedelta(days=day - 1))
    if window.after is not None:
        in_window = and_(exited >= day_start(window.after - timedelta(days=day - 1)), in_window)
    due = literal_column(dialect.date_of_day(f"{dialect.local_day('cases.state_since')} + {day}"), Date)
    f = FOLLOWUPS.c
    return (select(literal("followup", String), CASES.c.id, literal(day, Integer), step, CASES.c.id,
                   cast(null(), Integer), CASES.c.municipality, literal(f"followup.{day}", String), due, detected,
                   recorded, status, addressed, attempts)
            .where(CASES.c.state.in_(FOLLOWED_EXITS), in_window,
                   ~exists().where(f.case_id == CASES.c.id, f.day == day),
                   _not_recorded("followup", CASES.c.id, day, window.step, dialect.sqlite)))


def _dialect_insert(conn: Connection):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(REMINDERS)


def _insert(conn: Connection, query) -> int:
    stmt = _dialect_insert(conn).from_select(list(COLUMNS), query).on_conflict_do_nothing(index_elements=list(KEY))
    return max(conn.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount, 0)


def _insert_values(conn: Connection, row: dict) -> int:
    stmt = _dialect_insert(conn).values(**row).on_conflict_do_nothing(index_elements=list(KEY))
    return max(conn.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount, 0)


def agreement_dates(book: AgreementBook, municipality: str, today: date) -> list[tuple[str, date]]:
    """The dates of a municipality's agreement that its coordinators are reminded of: the
    next revision and the end of validity of the agreement valid today or, when none is,
    the end of the one that expired last (nothing succeeded it)."""
    current = book.agreement_for(municipality, today)
    if current is not None:
        dates = [("agreement.revision", current.next_revision)]
        if current.valid_to is not None:
            dates.append(("agreement.expiry", current.valid_to))
        return dates
    expired = [a for a in book.agreements_for(municipality) if a.valid_to is not None and a.valid_to < today]
    if not expired:
        return []
    latest: Agreement = max(expired, key=lambda a: a.valid_to)
    return [("agreement.expiry", latest.valid_to)]


def agreement_rows(book: AgreementBook, ladder: Ladder, today: date, recorded: datetime,
                   catch_up_days: int | None = None) -> list[dict]:
    municipalities = sorted({code for a in book.agreements for code in a.municipalities})
    rows = []
    for code in municipalities:
        for kind, due in agreement_dates(book, code, today):
            step = ladder.reached(due, today, catch_up_days)
            if step is None:
                continue
            rows.append({"kind": kind, "target_id": int(code), "visit": int(due.strftime("%Y%m%d")), "step": step,
                         "case_id": None, "measure_id": None, "municipality": code, "stage": kind, "due": due,
                         "detected_on": today, "recorded_at": recorded, "status": "pending", "addressed": False,
                         "attempts": 0})
    return rows


__all__ = ["CheckResult", "agreement_dates", "agreement_rows", "record_due"]
