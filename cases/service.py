"""The use cases on a case, each one short function around one transaction.

Every interface (CLI, HTTP, flows) calls these with the `Principal` that acts and nothing
below them: the rules of the process and of access are applied here once. A use case
opens a transaction, loads, checks the principal's scope, decides through the process
table, writes the case row, its audit event and the access-log row together, and
commits; any error rolls everything back, and the refusal is itself logged.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from etablera.cases.agreements import agreement_book
from etablera.cases.assignment import check_officers
from etablera.cases.audit import CASES, GENESIS
from etablera.cases.audit_key import load_key
from etablera.access.principal import Principal
from etablera.access.scope import access_row, check_case, check_municipality, refusals_logged
from etablera.cases.journal import append, check_version, event_time, load_case
from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.prepared import Prepared
from etablera.models.identity import IdentityError, parse_identity
from etablera.models.timestamps import local_date, utcnow
from etablera.reminders.notices import record_notice
from etablera.statemachine.case import Case
from etablera.statemachine.corrections import measures_before
from etablera.statemachine.decide import decide, new_case, not_permitted, registration_event
from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.messages import Code
from etablera.statemachine.person import DETAILS, NO_DETAILS
from etablera.statemachine.fields import check_text, clean_data, describe
from etablera.statemachine.measures import follow, track_measures
from etablera.statemachine.process import OPEN_MEASURE_STATES, REGISTER, RESUME, TRIGGER, permitted, state_label

MEASURES = Measure
_OPEN_MEASURES = (select(MEASURES.c.id, MEASURES.c.module, MEASURES.c.state, MEASURES.c.due, MEASURES.c.ended_at,
                         MEASURES.c.reason, MEASURES.c.version)
                  .where(MEASURES.c.case_id == bindparam("case_id"),
                         MEASURES.c.state.in_(OPEN_MEASURE_STATES))
                  .order_by(MEASURES.c.id))
# Registration's statements, compiled once (models/prepared.py): is there an active case of
# the person, and the new case's row with the id it got.
_ACTIVE_CASE = Prepared(select(CASES.c.id, CASES.c.municipality)
                        .where(CASES.c.person == bindparam("person"), CASES.c.active))
_INSERT_CASE = Prepared(insert(CASES).returning(CASES.c.id))


def register(engine: Engine, who: Principal, *, person: str, municipality: str, permit_date, reception_date=None,
             no_upper_secondary: bool = False, kommun_officer: str | None = None,
             af_officer: str | None = None, at: datetime | None = None,
             note: str | None = None, config: Config | None = None, given_name: str | None = None,
             family_name: str | None = None, language: str | None = None, interpreter: bool = False,
             phone: str | None = None, email: str | None = None) -> int:
    """Register a newcomer: validate, derive the target group, open the case in module 1.
    The person's details (names, language, interpreter, phone, e-mail) are optional.
    Returns the new case id."""
    details = {"given_name": given_name, "family_name": family_name, "language": language,
               "interpreter": interpreter, "phone": phone, "email": email}
    with refusals_logged(engine, who, None, REGISTER.name) as attempt:
        return _register(engine, who, person=person, municipality=municipality, permit_date=permit_date,
                         reception_date=reception_date, no_upper_secondary=no_upper_secondary,
                         kommun_officer=kommun_officer, af_officer=af_officer, at=at, note=note,
                         config=config or get_config(), details=details, attempt=attempt)


# The earliest permit date taken: a date before it is a typing error (0001-01-01), not a permit.
EARLIEST_PERMIT = date(1990, 1, 1)


def _active_case_refusal(who: Principal, existing, municipality: str) -> NotPermitted:
    """The refusal of a second active case. The registering user is told the case only
    when their scope holds it (it is theirs to see); otherwise only that there is one and
    to ask their coordinator: its id and municipality are personal data of a case outside
    their scope. Either way the probe is logged against the existing case, so that the
    person's access-log extract shows it."""
    if who.sees(existing["municipality"]):
        exc = NotPermitted("active_case_exists", field="person", case=existing["id"])
    else:
        exc = NotPermitted("active_case_elsewhere", field="person")
    exc.logged = (f"registration of a new case in {municipality} refused: the person has this active case"
                  + ("" if who.sees(existing["municipality"]) else " (outside the user's municipalities)"))
    return exc


def _register(engine: Engine, who: Principal, *, person, municipality, permit_date, reception_date,
              no_upper_secondary, kommun_officer, af_officer, at, note, config: Config, details: dict,
              attempt) -> int:
    at = event_time(at, None)
    raw = {"person": person, "municipality": municipality, "permit_date": permit_date,
           "reception_date": reception_date, "no_upper_secondary": no_upper_secondary,
           "kommun_officer": kommun_officer, "af_officer": af_officer, **details}
    data = clean_data(REGISTER, {k: v for k, v in raw.items() if v not in (None, False, "")}, config)
    check_municipality(who, data["municipality"])
    today = local_date(at)
    try:
        identity = parse_identity(person, on=today)
    except IdentityError as exc:
        raise BadInput(exc.code, field="person") from None
    if note is not None:
        check_text(note, "note")
    permit = date.fromisoformat(data["permit_date"])
    if permit > today:
        raise BadInput("after_registration", field="permit_date")
    if permit < EARLIEST_PERMIT:
        raise BadInput("permit_date_too_early", field="permit_date", earliest=EARLIEST_PERMIT)
    reception = date.fromisoformat(data["reception_date"]) if "reception_date" in data else None
    if reception is not None and reception > today:
        raise BadInput("after_registration", field="reception_date")
    if reception is not None and reception < permit:
        raise BadInput("reception_before_permit", field="reception_date")
    group = _target_group(config, identity.age_on(today), bool(data.get("no_upper_secondary")))

    row = new_case(person=identity.digits, municipality=data["municipality"], target_group=group,
                   no_upper_secondary=bool(data.get("no_upper_secondary")), permit_date=permit,
                   reception_date=reception, kommun_officer=data.get("kommun_officer"),
                   af_officer=data.get("af_officer"), at=at, config=config,
                   details={name: data[name] for name in DETAILS if name in data})
    event = registration_event(row, at, who.id, note, key=load_key(engine, create=True))
    try:
        with transaction(engine) as conn:
            existing = _ACTIVE_CASE.first(conn, {"person": identity.digits})
            if existing is not None:
                attempt.case_id = existing["id"]
                raise _active_case_refusal(who, existing, data["municipality"])
            check_officers(conn, data, data["municipality"])
            head = {"last_seq": 0, "last_hash": GENESIS, "version": 1}
            case_id = _INSERT_CASE.first(conn, {**NO_DETAILS, **row, **head, "last_event_at": at})["id"]
            append(conn, {"id": case_id, **head}, {}, event, access=access_row(who, case_id, REGISTER.name))
    except IntegrityError:
        raise NotPermitted("active_case_exists_now", field="person") from None
    return case_id


def _target_group(config: Config, age: int, no_upper_secondary: bool) -> str:
    group = config.target_group_for(age, no_upper_secondary)
    if group is None:
        raise NotPermitted("outside_target_groups", field="person", age=age,
                           groups=[f"{g.code}: {g.min_age}–{g.max_age}" for g in config.target_groups])
    return group.code


def advance(engine: Engine, who: Principal, case_id: int, trigger: str, raw: dict, *,
            at: datetime | None = None, expect_version: int | None = None, config: Config | None = None) -> dict:
    """`who` fires `trigger` on the case with the data in `raw`. Returns the stored audit
    event."""
    spec = TRIGGER.get(trigger)
    if spec is None:
        raise BadInput("unknown_trigger", field="trigger", name=Code(trigger), choices=[Code(t) for t in TRIGGER])
    with refusals_logged(engine, who, case_id, f"advance:{trigger}"):
        return _advance(engine, who, case_id, spec.name, raw, at, expect_version, config or get_config())


def _advance(engine: Engine, who: Principal, case_id: int, trigger: str, raw: dict, at, expect_version,
             config: Config) -> dict:
    spec = TRIGGER[trigger]
    with transaction(engine) as conn:
        row = load_case(conn, case_id, for_step=True)
        check_case(who, row, change=True)
        check_version(row, expect_version)
        if spec is REGISTER or row["state"] not in spec.sources:
            raise not_permitted(row["state"], trigger)
        data = clean_data(spec, raw, config)
        check_officers(conn, data, data.get("municipality", row["municipality"]))   # a transfer's: the new one
        at = event_time(at, row["last_event_at"])
        case = Case.of(row)
        decision = decide(case, trigger, data, at, config, actor=who.id,
                          agreements=agreement_book() if spec.has_rules else None)
        if decision.track is not None:
            decision.event["data"]["measures"] = [
                conn.execute(insert(MEASURES).values(**measure)).inserted_primary_key[0]
                for measure in track_measures(case_id, decision.track, at)]
        if decision.ends_measures or decision.shift_days:
            open_measures = conn.execute(_OPEN_MEASURES, {"case_id": case_id}).mappings().all()
            changed, cancelled = follow(decision, open_measures, at, config)
            for measure_id, values in changed.items():
                conn.execute(update(MEASURES).where(MEASURES.c.id == measure_id).values(**values))
            if cancelled:
                decision.event["data"]["cancelled_measures"] = cancelled
            if changed:
                decision.event["data"]["measures_before"] = measures_before(open_measures, changed)
        stored = append(conn, row, decision.changes, decision.event,
                        access=access_row(who, case_id, f"advance:{trigger}"))
        if decision.route.effects.notifies:          # e.g. a transfer: the receiving coordinators are told
            record_notice(conn, decision.route.effects.notifies, stored)
        return stored


def permitted_events(engine: Engine, who: Principal, case_id: int, lang: str = "sv",
                     config: Config | None = None) -> dict:
    """What `who` can do with the case now, with the data each trigger needs."""
    with refusals_logged(engine, who, case_id, "events"):
        with transaction(engine, write=False) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=False)
    return events_for(case, lang, config)


def events_for(case, lang: str = "sv", config: Config | None = None) -> dict:
    """`permitted_events` of a case already read (a row or a case document)."""
    config = config or get_config()
    state = case["state"]
    events = []
    for trigger in permitted(state):
        if trigger.name == RESUME:
            leads = [case["paused_from"]]
        else:
            leads = list(dict.fromkeys(r.dest or state for r in trigger.routes if state in r.sources))
        events.append({
            "trigger": trigger.name,
            "label": trigger.en if lang == "en" else trigger.sv,
            "leads_to": [{"state": s, "label": state_label(s, lang)} for s in leads],
            "skips": sorted({m for r in trigger.routes if state in r.sources for m in r.skips}),
            "fields": [_with_choices(describe(f, config, lang), case["municipality"], lang) for f in trigger.fields],
        })
    return {"case": case["id"], "state": state, "state_label": state_label(state, lang), "version": case["version"],
            "events": events}


def _with_choices(field: dict, municipality: str, lang: str) -> dict:
    """A field as `describe` gave it; a local track's choices are the open tracks of the
    agreement valid in the case's municipality today."""
    if field["kind"] == "track":
        field["choices"] = track_choices(municipality, lang)
    return field


def track_choices(municipality: str, lang: str, on: date | None = None) -> dict[str, str]:
    """The open local tracks of the agreement valid in `municipality` (for the decision form)."""
    agreement = agreement_book().agreement_for(municipality, on or local_date(utcnow()))
    if agreement is None:
        return {}
    return {t.id: t.label(lang) for t in agreement.open_tracks}
