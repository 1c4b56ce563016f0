"""Module 3 read from the database: who is in a local job track (lokalt jobbspår), whose
track decision no longer holds after a transfer, and who overrode a track's
prerequisites.

The rules themselves (which track a case may enter, what a transfer does to it) are in
statemachine/rules.py; this module only reads what they recorded on the audit events. Every query is
set-based: a fixed number of statements whatever the number of cases. No identity
numbers leave this module.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.engine import Connection, Engine

from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import local_date, show, utcnow
from etablera.cases import filters
from etablera.cases.audit import CASES, EVENTS, events_in
from etablera.statemachine.errors import NotFound
from etablera.cases.agreements import agreement_book
from etablera.cases.sealing import shown
from etablera.statemachine.messages import Code, render
from etablera.statemachine.process import (DECIDE, ON_HOLD, OPEN_MEASURE_STATES, STAGE_OF, TRACK_STAGE, TRANSFER,
                                           T, state_label)

MEASURES = Measure
IN_TRACK = next(s for s, stage in STAGE_OF.items() if stage == TRACK_STAGE)
OPEN = OPEN_MEASURE_STATES


def _in_track(track_id: str, municipality: str | None):
    """The cases in a track now: in module 3, or on hold from it."""
    where = and_(CASES.c.track == track_id,
                 or_(CASES.c.state == IN_TRACK, and_(CASES.c.state == ON_HOLD, CASES.c.paused_from == IN_TRACK)))
    return and_(where, CASES.c.municipality == municipality) if municipality else where


def lost_tracks(conn: Connection, case_filter, lang: str = "sv") -> dict[int, str]:
    """Case id -> why its track decision is not valid where the case now is, in `lang`.

    It is not when the case's last transfer since it entered module 3 (seq after
    `stage_seq`, the seq of the decision) recorded `track_invalid_after_transfer`; a later
    transfer to a municipality that has the track makes it valid again.
    """
    ids = select(CASES.c.id).where(case_filter)
    last = (select(EVENTS.c.case_id, func.max(EVENTS.c.seq).label("seq"))
            .where(EVENTS.c.trigger == TRANSFER, EVENTS.c.case_id.in_(ids))
            .group_by(EVENTS.c.case_id).subquery())
    rows = conn.execute(
        select(EVENTS.c.case_id, EVENTS.c.data)
        .join(last, and_(EVENTS.c.case_id == last.c.case_id, EVENTS.c.seq == last.c.seq))
        .join(CASES, CASES.c.id == EVENTS.c.case_id)
        .where(EVENTS.c.seq > CASES.c.stage_seq)).all()
    return {r.case_id: render("track_invalid_after_transfer",
                              {"track": Code(r.data.get("track") or ""), "why": _stored(r.data, "track_invalid_reason", lang)},
                              lang)
            for r in rows if r.data.get("track_invalid_after_transfer")}


def _stored(event_data: dict, key: str, lang: str):
    """A text the transfer stored in both languages (`key`, `key_sv`); events recorded before
    the Swedish one was kept have only the English."""
    value = event_data.get(f"{key}_sv" if lang == "sv" else key) or event_data.get(key)
    return Code("; ".join(value)) if isinstance(value, list) else Code(value or "")


def track_pending(case_row) -> bool:
    """Whether `track_status` reads the database for this case (it is in a track)."""
    return bool(case_row["track"]) and case_row["state"] in (IN_TRACK, ON_HOLD)


def track_status(conn: Connection, case_row, lang: str = "sv") -> dict:
    """`track_valid` and `track_warning` (in `lang`) for one case (None when it is not in a track)."""
    if not track_pending(case_row):
        return {"track_valid": None, "track_warning": None}
    warning = lost_tracks(conn, CASES.c.id == case_row["id"], lang).get(case_row["id"])
    return {"track_valid": warning is None, "track_warning": warning}


def _counted(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def participants(engine: Engine, track_id: str, *, municipality: str | None = None, lang: str = "sv",
                 today: date | None = None, config: Config | None = None) -> dict:
    """Who is in the track and where they are: case, municipality, state, since when,
    module 3's due date and the progress of the track's components. No personal data."""
    config = config or get_config()
    today = today or local_date(utcnow())
    municipality = filters.municipality(municipality, config=config)
    in_track = _in_track(track_id, municipality)
    # The components of this visit to module 3: created by the decision that entered it
    # (the event at the case's stage_seq), not those of an earlier track the case left.
    entered = EVENTS.alias("entered")
    components = (
        select(MEASURES.c.case_id,
               func.count().label("total"),
               _counted(MEASURES.c.state == "planned").label("planned"),
               _counted(MEASURES.c.state == "ongoing").label("ongoing"),
               _counted(MEASURES.c.state == "completed").label("completed"),
               _counted(MEASURES.c.state == "cancelled").label("cancelled"),
               _counted(and_(MEASURES.c.state.in_(OPEN), MEASURES.c.due < today)).label("overdue"))
        .join(CASES, CASES.c.id == MEASURES.c.case_id)
        .join(entered, and_(entered.c.case_id == CASES.c.id, entered.c.seq == CASES.c.stage_seq))
        .where(in_track, MEASURES.c.module == "module3", MEASURES.c.component.is_not(None),
               MEASURES.c.created_at >= entered.c.at)
        .group_by(MEASURES.c.case_id).subquery())
    query = (select(CASES.c.id, CASES.c.municipality, CASES.c.state, CASES.c.paused_from, CASES.c.stage_started,
                    CASES.c.due, CASES.c.kommun_officer, CASES.c.af_officer, components.c.total,
                    components.c.planned, components.c.ongoing, components.c.completed, components.c.cancelled,
                    components.c.overdue)
             .outerjoin(components, components.c.case_id == CASES.c.id)
             .where(in_track).order_by(CASES.c.municipality, CASES.c.stage_started, CASES.c.id))
    with transaction(engine, write=False) as conn:
        rows = conn.execute(query).mappings().all()
        lost = lost_tracks(conn, in_track, lang) if rows else {}
    book = agreement_book()
    known = [a for a in book.agreements if a.track(track_id) is not None
             and (municipality is None or municipality in a.municipalities)]
    if not rows and not known:
        if municipality:
            raise NotFound("no_such_track_in", field="track", track=Code(track_id), municipality=Code(municipality))
        raise NotFound("no_such_track", field="track", track=Code(track_id))
    names = {code: a.track(track_id).label(lang) for a in known for code in a.municipalities}
    people = []
    for r in rows:
        progress = {k: int(r[k] or 0) for k in ("total", "planned", "ongoing", "completed", "cancelled", "overdue")}
        people.append({
            "case_id": r["id"], "municipality": r["municipality"],
            "municipality_name": config.municipalities.get(r["municipality"]),
            "state": r["state"], "state_label": state_label(r["state"], lang), "paused_from": r["paused_from"],
            "since": r["stage_started"].isoformat() if r["stage_started"] else None,
            "due": r["due"].isoformat() if r["due"] else None,
            "overdue": bool(r["due"] and r["due"] < today and r["state"] == IN_TRACK),
            "components": progress,
            "kommun_officer": r["kommun_officer"], "af_officer": r["af_officer"],
            "track_valid": r["id"] not in lost, "track_warning": lost.get(r["id"]),
        })
    return {"track": track_id, "municipality": municipality, "names": names, "count": len(people),
            "participants": people}


def overrides(engine: Engine, *, municipality: str | None = None, since: datetime | None = None,
              until: datetime | None = None) -> list[dict]:
    """Who admitted whom to a track despite unmet prerequisites, when, and why (the
    decision's rationale is the justification)."""
    municipality = filters.municipality(municipality)
    query = (select(EVENTS.c.case_id, EVENTS.c.seq, EVENTS.c.at, EVENTS.c.actor, EVENTS.c.municipality,
                    EVENTS.c.note, EVENTS.c.data)
             .where(EVENTS.c.trigger == DECIDE,
                    cast(EVENTS.c.data, String).like('%"overridden_prerequisites"%'))
             .order_by(EVENTS.c.at, EVENTS.c.case_id))
    query = events_in(query, municipality, since, until)
    with transaction(engine, write=False) as conn:
        rows = conn.execute(query).mappings().all()
    return [{"case_id": r["case_id"], "seq": r["seq"], "at": show(r["at"]), "actor": r["actor"],
             "municipality": r["municipality"], "track": r["data"].get("track"),
             "overridden_prerequisites": r["data"]["overridden_prerequisites"], "justification": shown(r["note"]),
             "participants": r["data"].get("participants")}
            for r in rows if r["data"].get("overridden_prerequisites")]


def warnings(event_data: dict, lang: str = "sv") -> list[str]:
    """What the officer must be told, in `lang`, about an event that was nevertheless recorded."""
    out = []
    if event_data.get("track_invalid_after_transfer"):
        out.append(render("track_invalid_consider", {
            "track": Code(event_data.get("track") or ""), "why": _stored(event_data, "track_invalid_reason", lang),
            "trigger": T.drop_track}, lang))
    if event_data.get("overridden_prerequisites"):
        out.append(render("prerequisites_overridden",
                          {"unmet": _stored(event_data, "overridden_prerequisites", lang)}, lang))
    return out
