"""Correcting a mistaken step (rättelse): a coordinator puts the case back where it was
before its latest step, due dates and measures included, with a reason and a justification.

History is never edited: the correction is an event appended to the case's chain (its
to_state the state restored, so `audit verify` holds), and the pair (mistaken step, its
correction) is a row of the append-only `corrections` table, written in the same
transaction. The reports leave both events out (reports/facts.py), so a corrected case
counts as if the step had not happened. What may be corrected and what is put back is
decided by statemachine/corrections.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from etablera.access.accounts import role_words
from etablera.access.principal import Principal
from etablera.access.scope import check_case, refusals_logged, write_access
from etablera.cases.audit import EVENTS
from etablera.cases.journal import append, check_version, event_time, load_case
from etablera.models import Measure
from etablera.models.casework import Correction
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.statemachine.corrections import (check_correctable, correction_event, measure_restorations,
                                               restored)
from etablera.statemachine.errors import BadInput, ConcurrentChange, Forbidden, NotFound, NotPermitted
from etablera.statemachine.fields import MAX_NOTE
from etablera.statemachine.messages import render
from etablera.statemachine.process import CASEWORK, REGISTER, TRIGGER, trigger_label
from etablera.statemachine.fields import check_text

CORRECTIONS = Correction
MEASURES = Measure
ROLES = ("coordinator", "admin")          # who may correct a step
REASONS = "correct"                       # the reason category (config/reasons.toml)
EVENT_REASONS = {CASEWORK.correct: REASONS}  # the reason category of a correction event's reason


def correct(engine: Engine, who: Principal, case_id: int, seq: int, *, reason: str | None, note: str | None,
            expect_version: int | None = None, at: datetime | None = None, config: Config | None = None) -> dict:
    """`who` (a coordinator or admin) corrects the case's step `seq`, its latest: the case
    goes back to where it was before it. Returns the stored correction event."""
    config = config or get_config()
    with refusals_logged(engine, who, case_id, CASEWORK.correct):
        return _correct(engine, who, case_id, seq, reason, note, expect_version, at, config)


def _correct(engine: Engine, who: Principal, case_id: int, seq, reason, note, expect_version, at,
             config: Config) -> dict:
    try:
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            if who.role not in ROLES:
                exc = Forbidden("correction_role", field="role", role=role_words(who.role))
                exc.denied = f"role {who.role} may not correct steps"
                raise exc
            reason, note = _checked(reason, note, config)
            check_version(case, expect_version)
            step = conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id, EVENTS.c.seq == seq)
                                ).mappings().first()
            if step is None:
                raise NotFound("no_such_event", field="seq", case=case_id, seq=seq)
            later = conn.execute(select(EVENTS.c.seq, EVENTS.c.trigger)
                                 .where(EVENTS.c.case_id == case_id, EVENTS.c.seq > seq,
                                        EVENTS.c.trigger.in_(list(TRIGGER)))
                                 .order_by(EVENTS.c.seq)).mappings().all()
            corrected = set(corrected_steps(conn, case_id))
            check_correctable(step, list(later), corrected)
            at = event_time(at, case["last_event_at"])
            changes = restored(step["data"]["before"])
            touched = _touched_measures(conn, step["data"])
            values, cancelled, reopened = measure_restorations(step["data"], touched, at)
            for measure_id, new in values.items():
                result = conn.execute(update(MEASURES).where(MEASURES.c.id == measure_id,
                                                             MEASURES.c.version == touched[measure_id]["version"])
                                      .values(**new))
                if result.rowcount != 1:
                    raise ConcurrentChange("measure_changed", measure=measure_id)
            event = correction_event(case, step, changes, at, who.id, reason, note, cancelled, reopened)
            stored = append(conn, case, changes, event)
            conn.execute(insert(CORRECTIONS).values(case_id=case_id, corrected_seq=seq, correction_seq=stored["seq"],
                                                    at=at))
            write_access(conn, who, case_id, f"{CASEWORK.correct}:{seq}")
            return stored
    except IntegrityError:
        # The one constraint a restored case can meet: the person has another active case
        # (a closed case reopened), or a concurrent correction of the same step.
        raise NotPermitted("correction_active_case_exists", field="seq") from None


def _checked(reason: str | None, note: str | None, config: Config) -> tuple[str, str]:
    """The reason code and the justification, both required (BadInput naming the field)."""
    codes = config.reasons[REASONS]
    check_text(reason or "", "reason")
    check_text(note or "", "note")
    reason = (reason or "").strip()
    if not reason:
        raise BadInput("correction_needs_reason", field="reason", choices=list(codes))
    if reason not in codes:
        raise BadInput("unknown_reason", field="reason", value=reason, choices=list(codes))
    note = (note or "").strip()
    if not note:
        raise BadInput("correction_needs_note", field="note")
    if len(note) > MAX_NOTE:
        raise BadInput("text_too_long", field="note", max=MAX_NOTE)
    return reason, note


def _touched_measures(conn, data: dict) -> dict[int, dict]:
    """The rows of the measures the step created or changed, by id."""
    ids = list(data.get("measures", ())) + [m["id"] for m in data.get("measures_before", ())]
    if not ids:
        return {}
    rows = conn.execute(select(MEASURES).where(MEASURES.c.id.in_(ids))).mappings().all()
    return {row["id"]: row for row in rows}


# Built once: building a select at each call took three times its run (115 against 28 µs
# on SQLite), and every case page and history asks it.
_CORRECTED = (select(CORRECTIONS.c.corrected_seq, CORRECTIONS.c.correction_seq)
              .where(CORRECTIONS.c.case_id == bindparam("case_id")))


def corrected_steps(conn, case_id: int) -> dict[int, int]:
    """The case's corrected steps: {mistaken step's seq: its correction's seq}."""
    return {corrected: correction for corrected, correction in conn.execute(_CORRECTED, {"case_id": case_id})}


def corrections_pending(events: list[dict]) -> bool:
    """Whether `with_corrections` reads the database for this history (it has a correction)."""
    return any(e["trigger"] == CASEWORK.correct for e in events)


def with_corrections(conn, case_id: int, events: list[dict], lang: str) -> list[dict]:
    """A case's history (event documents) with each corrected step marked by its correction
    (`corrected_by`, `correction`: words for the timeline) and each correction by the step
    it corrects. Reads nothing for a history without a correction: a correction's row is
    written with its own event (`correct`), and neither is ever deleted (most case
    pages; one round trip of the eight a page took on PostgreSQL)."""
    if not corrections_pending(events):
        return events
    corrected = corrected_steps(conn, case_id)
    if not corrected:
        return events
    steps = {e["seq"]: e for e in events}
    label = trigger_label(CASEWORK.correct, lang)
    for e in events:
        if e["seq"] in corrected:
            e.update(corrected_by=corrected[e["seq"]], correction_label=label,
                     correction=render("corrected_by", {"seq": corrected[e["seq"]]}, lang))
        elif e["trigger"] == CASEWORK.correct and e["data"].get("corrects") in steps:
            step = steps[e["data"]["corrects"]]
            e.update(correction_label=label,
                     correction=render("corrects", {"seq": step["seq"], "trigger": step["trigger"]}, lang))
    return events


def latest_step(who: Principal, history: list[dict]) -> dict | None:
    """The step `who` may correct now, found in the case's history as the case page read it
    (`queries.view_case`'s event documents, a corrected step marked by `with_corrections`):
    the latest uncorrected step of the process, with the state it would go back to and its
    time as shown; None when `who` may not correct steps or there is none (only the
    registration is left, or the step was recorded before steps kept what they changed).
    Read from the page's own snapshot: a read of its own here (the case, its corrections,
    every step) was a sixth of a coordinator's case page."""
    if who.role not in ROLES or not who.can_change:
        return None
    step = next((e for e in reversed(history) if e["trigger"] in TRIGGER and "corrected_by" not in e), None)
    if step is None or step["trigger"] == REGISTER.name or "before" not in (step["data"] or {}):
        return None
    return {"seq": step["seq"], "at": step["at"], "trigger": step["trigger"], "from_state": step["from_state"],
            "to_state": step["to_state"]}


__all__ = ["EVENT_REASONS", "correct", "latest_step", "corrected_steps", "with_corrections"]
