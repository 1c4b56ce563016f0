"""The use cases on a case, each one short function around one transaction.

Every interface (CLI, HTTP, flows) calls these and nothing below them: the rules of the
process are applied here once. A use case opens a transaction, loads, acts through the
process table and the machine, writes the case row and its audit event together, and
commits; any error rolls everything back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.identity import IdentityError, parse_identity
from etablera.models.timestamps import local_date
from etablera.cases import guards
from etablera.cases.audit import CASES, GENESIS
from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.fields import clean_data, describe
from etablera.cases.journal import Access, append, check_version, event_time, load_case
from etablera.statemachine.machine import not_permitted_message, not_permitted_message_sv
from etablera.cases.measures import LEFT_MODULE, moved_measure
from etablera.statemachine.process import STATE, TRIGGER, permitted, state_label
from etablera.statemachine.step import new_case, registration_event, step

MEASURES = Measure.__table__
OPEN_MEASURE_STATES = ("planned", "ongoing")


def register(engine: Engine, *, person: str, municipality: str, permit_date, reception_date=None,
             no_upper_secondary: bool = False, kommun_officer: str | None = None,
             af_officer: str | None = None, actor: str, at: datetime | None = None,
             note: str | None = None, access: Access | None = None, config: Config | None = None) -> int:
    """Register a newcomer: validate, derive the target group, open the case in module 1.
    Returns the new case id."""
    config = config or get_config()
    at = event_time(at, None)
    raw = {"person": person, "municipality": municipality, "permit_date": permit_date,
           "reception_date": reception_date, "no_upper_secondary": no_upper_secondary,
           "kommun_officer": kommun_officer, "af_officer": af_officer}
    data = clean_data(TRIGGER["register"], {k: v for k, v in raw.items() if v not in (None, False, "")}, config)
    today = local_date(at)
    try:
        identity = parse_identity(person, on=today)
    except IdentityError as exc:
        raise BadInput("person", str(exc)) from None
    permit = date.fromisoformat(data["permit_date"])
    if permit > today:
        raise BadInput("permit_date", "is in the future (after the registration date)",
                       sv="ligger i framtiden (efter inskrivningsdagen)")
    reception = date.fromisoformat(data["reception_date"]) if "reception_date" in data else None
    if reception is not None and reception > today:
        raise BadInput("reception_date", "is in the future (after the registration date)",
                       sv="ligger i framtiden (efter inskrivningsdagen)")
    if reception is not None and reception < permit:
        raise BadInput("reception_date", "is before the permit date", sv="ligger före tillståndsdagen")
    group = _target_group(config, identity.age_on(today), bool(data.get("no_upper_secondary")))

    row = new_case(person=identity.digits, municipality=data["municipality"], target_group=group,
                   no_upper_secondary=bool(data.get("no_upper_secondary")), permit_date=permit,
                   reception_date=reception, kommun_officer=data.get("kommun_officer"),
                   af_officer=data.get("af_officer"), at=at, config=config)
    try:
        with transaction(engine) as conn:
            existing = conn.execute(select(CASES.c.id).where(CASES.c.person == identity.digits,
                                                             CASES.c.active)).first()
            if existing is not None:
                raise NotPermitted(f"person: already has an active case (case {existing.id}); "
                                   "one active case per person",
                                   sv=f"personen har redan ett pågående ärende (ärende {existing.id}); "
                                      "en person har ett pågående ärende i taget")
            case_id = conn.execute(insert(CASES).values(**row, last_seq=0, last_hash=GENESIS,
                                                        last_event_at=at, version=1)).inserted_primary_key[0]
            case = load_case(conn, case_id)
            append(conn, case, {}, registration_event(row, at, actor, note))
            if access:
                access.write(conn, case_id)
    except IntegrityError:
        raise NotPermitted("person: already has an active case; one active case per person",
                           sv="personen har redan ett pågående ärende; en person har ett pågående ärende i taget"
                           ) from None
    return case_id


def _target_group(config: Config, age: int, no_upper_secondary: bool) -> str:
    group = config.target_group_for(age, no_upper_secondary)
    if group is None:
        bounds = "; ".join(f"{g.code}: {g.min_age}–{g.max_age}"
                           + (" without completed upper-secondary" if g.requires_no_upper_secondary else "")
                           for g in config.target_groups)
        raise NotPermitted(f"person: aged {age} on the registration date"
                           + ("" if no_upper_secondary else " with upper-secondary education")
                           + f", outside the target groups ({bounds})")
    return group.code


def advance(engine: Engine, case_id: int, trigger: str, raw: dict, *, actor: str,
            at: datetime | None = None, expect_version: int | None = None, access: Access | None = None,
            config: Config | None = None) -> dict:
    """Fire `trigger` on the case with the data in `raw`. Returns the stored audit event.
    `access`: who did it, written to the access log in the same transaction."""
    config = config or get_config()
    spec = TRIGGER.get(trigger)
    if spec is None:
        raise BadInput("trigger", f"unknown trigger {trigger!r}; triggers: {', '.join(TRIGGER)}")
    with transaction(engine) as conn:
        case = load_case(conn, case_id)
        check_version(case, expect_version)
        if case["state"] not in spec.sources or trigger == "register":
            raise NotPermitted(not_permitted_message(case["state"], trigger),
                               sv=not_permitted_message_sv(case["state"], trigger))
        data = clean_data(spec, raw, config)
        at = event_time(at, case["last_event_at"])
        context = guards.check(conn, case, trigger, data, at, config)
        result = step(dict(case), trigger, data, at, actor, config, context)
        created = guards.components(conn, case_id, result, context, at)
        if created:
            result.event["data"]["measures"] = created
        if result.shift_days:
            _move_open_measures(conn, case_id, result.shift_days)
        closing = ended_module(trigger, result.to_state)
        if closing:
            cancelled = _cancel_open_measures(conn, case_id, closing, at, config)
            if cancelled:
                result.event["data"]["cancelled_measures"] = cancelled
        if access:
            access.write(conn, case_id)
        return append(conn, case, result.changes, result.event)


def ended_module(trigger: str, to_state: str) -> tuple[str, ...]:
    """Whose open measures end with this step: the track's components when a case leaves
    its track, every open measure when the case leaves the process. Cancelled with the
    reason `case_left_module`, so no reminder is sent for work nobody will do."""
    if STATE[to_state].terminal:
        return ("module2", "module3")
    if trigger == "drop_track":
        return ("module3",)
    return ()


def _cancel_open_measures(conn, case_id: int, modules: tuple[str, ...], at, config: Config) -> list[int]:
    rows = conn.execute(select(MEASURES).where(MEASURES.c.case_id == case_id, MEASURES.c.module.in_(modules),
                                               MEASURES.c.state.in_(OPEN_MEASURE_STATES))
                        .order_by(MEASURES.c.id)).mappings().all()
    for row in rows:
        conn.execute(update(MEASURES).where(MEASURES.c.id == row["id"])
                     .values(**moved_measure(row, "cancel", at, LEFT_MODULE, config)))
    return [row["id"] for row in rows]


def shifted(measure, days: int) -> dict:
    """Time on hold does not count: an open measure's due date moves by the paused days."""
    return {"due": measure["due"] + timedelta(days=days), "version": measure["version"] + 1}


def _move_open_measures(conn, case_id: int, days: int) -> None:
    rows = conn.execute(select(MEASURES.c.id, MEASURES.c.due, MEASURES.c.version)
                        .where(MEASURES.c.case_id == case_id, MEASURES.c.state.in_(OPEN_MEASURE_STATES))).mappings()
    for row in rows.all():
        conn.execute(update(MEASURES).where(MEASURES.c.id == row["id"]).values(**shifted(row, days)))


def permitted_events(engine: Engine, case_id: int, lang: str = "sv", config: Config | None = None) -> dict:
    """What can be done with the case now, with the data each trigger needs."""
    with transaction(engine, write=False) as conn:
        case = load_case(conn, case_id)
    return events_for(case, lang, config)


def events_for(case, lang: str = "sv", config: Config | None = None) -> dict:
    """`permitted_events` of a case already read (a row or a case document)."""
    config = config or get_config()
    state = case["state"]
    events = []
    for trigger in permitted(state):
        if trigger.name == "resume":
            leads = [case["paused_from"]]
        else:
            leads = list(dict.fromkeys(r.dest or state for r in trigger.routes if state in r.sources))
        events.append({
            "trigger": trigger.name,
            "label": trigger.en if lang == "en" else trigger.sv,
            "leads_to": [{"state": s, "label": state_label(s, lang)} for s in leads],
            "skips": sorted({m for r in trigger.routes if state in r.sources for m in r.skips}),
            "fields": [describe(f, config, lang) for f in trigger.fields],
        })
    return {"case": case["id"], "state": state, "state_label": state_label(state, lang), "version": case["version"],
            "events": events}


def state_exists(name: str) -> bool:
    return name in STATE
