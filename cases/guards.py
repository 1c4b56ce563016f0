"""Rules of the process that need more than the case's state: the municipality's
agreement and its local job tracks.

`check` runs before a step: it refuses with NotPermitted, saying why, or returns the
Context the step needs, with what the audit event must record (prerequisites overridden
by the joint assessment, a track not valid after a transfer). `components` lays out a
chosen track's components as the case's module-3 measures.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, insert

from etablera.models import Measure
from etablera.models.agreements import AgreementBook, Track, TrackRefused, component_plan, unmet_prerequisites
from etablera.models.configuration import Config, config_dir
from etablera.models.identity import parse_identity
from etablera.models.timestamps import local_date
from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.step import Context, Step

MEASURES = Measure.__table__
# A track component's kind, as the measure type it is tracked as.
COMPONENT_MEASURE_TYPE = {"sfi": "sfi", "internship": "internship", "validation": "validation",
                          "course": "labour_market_training", "employment": "other", "other": "other"}


def agreement_book() -> AgreementBook:
    return AgreementBook.load(config_dir() / "agreements")


def check(conn: Connection, case, trigger: str, data: dict, at: datetime, config: Config) -> Context:
    on = local_date(at)
    if trigger == "decide" and data["decision"] == "local_track":
        override = bool(data.get("override_prerequisites"))
        track = chosen_track(case, data["track"], on, override=override)
        unmet = prerequisites_unmet(case, track, on) if override else []
        return Context(track_frame=track.estimated_frame, track=track,
                       audit={"overridden_prerequisites": unmet} if unmet else {})
    if trigger == "transfer" and data["municipality"] == case["municipality"]:
        raise BadInput("municipality", f"the case is already in municipality {case['municipality']}; "
                                       f"a transfer needs another one",
                       sv=f"ärendet finns redan i kommun {case['municipality']}; en flytt går till en annan")
    if trigger == "transfer" and case["state"] == "module3.in_track" and case["track"]:
        why = track_lost_by_transfer(case, data["municipality"], on)
        if why:
            return Context(audit={"track": case["track"], "track_invalid_after_transfer": True,
                                  "track_invalid_reason": why})
    return Context()


OVERRIDE_HINT = ("the joint assessment may admit the individual anyway: add --set override_prerequisites=yes "
                 "and give the justification in --note (it is recorded in the audit trail)")


def chosen_track(case, track_id: str, on: date, *, override: bool = False) -> Track:
    """The track the case may enter on `on`: open in the agreement valid that day in the
    case's municipality, and (unless `override`) with every prerequisite met."""
    try:
        track = agreement_book().check_track(case["municipality"], track_id, on)
    except TrackRefused as exc:
        raise NotPermitted(f"track: {exc}") from None
    unmet = prerequisites_unmet(case, track, on)
    if unmet and not override:
        raise NotPermitted(f"track: the individual does not meet the prerequisites of {track_id}: "
                           + "; ".join(unmet) + f"; {OVERRIDE_HINT}")
    return track


def prerequisites_unmet(case, track: Track, on: date) -> list[str]:
    age = parse_identity(case["person"]).age_on(on)
    return unmet_prerequisites(track, age=age, target_group=case["target_group"],
                               no_upper_secondary=bool(case["no_upper_secondary"]))


def track_lost_by_transfer(case, municipality: str, on: date) -> str | None:
    """Why the case's track decision is not valid in `municipality` after a transfer on
    `on`, or None when it stays valid.

    A person may always move, so this never refuses the transfer; it tells the officer.
    The decision stays valid when the new municipality's agreement valid on the transfer
    day has the track open for new participants (the person is a new participant there),
    or when both municipalities share one agreement that has the track (the person stays
    in the same track, open or not). Prerequisites are not checked again: the joint
    assessment decided on them.
    """
    if municipality == case["municipality"]:
        return None
    book = agreement_book()
    old, new = book.agreement_for(case["municipality"], on), book.agreement_for(municipality, on)
    if old is not None and new is not None and old.file == new.file and new.track(case["track"]) is not None:
        return None
    try:
        book.check_track(municipality, case["track"], on)
    except TrackRefused as exc:
        return str(exc)
    return None


def track_measures(case_id: int, track: Track, at: datetime) -> list[dict]:
    """The rows of a chosen track's components as module-3 measures, due as the plan
    lays them out from the decision day (pure)."""
    return [{"case_id": case_id, "type": COMPONENT_MEASURE_TYPE.get(component.kind, "other"), "module": "module3",
             "component": component.name, "state": "planned", "created_at": at, "started_at": None,
             "ended_at": None, "due": due, "reason": None, "version": 1}
            for component, due in component_plan(track, local_date(at))]


def components(conn: Connection, case_id: int, result: Step, context: Context, at: datetime) -> list[int]:
    """Entering a local track creates its components as measures. Returns their ids
    (recorded on the decision's audit event)."""
    if result.entered_stage != "module3" or context.track is None:
        return []
    return [conn.execute(insert(MEASURES).values(**row)).inserted_primary_key[0]
            for row in track_measures(case_id, context.track, at)]
