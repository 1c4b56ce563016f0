"""Rules of the process that need more than the case's state: the municipality's
agreement and its local job tracks.

`check` runs before a step (and refuses with NotPermitted, saying why); `components`
lays out a chosen track's components as the case's module-3 measures.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, insert

from models import Measure
from models.agreements import AgreementBook, Track, TrackRefused, component_plan, unmet_prerequisites
from models.configuration import Config, config_dir
from models.identity import parse_identity
from models.timestamps import local_date
from statemachine.errors import NotPermitted
from statemachine.step import Context, Step

MEASURES = Measure.__table__
# A track component's kind, as the measure type it is tracked as.
COMPONENT_MEASURE_TYPE = {"sfi": "sfi", "internship": "internship", "validation": "validation",
                          "course": "labour_market_training", "employment": "other", "other": "other"}


def agreement_book() -> AgreementBook:
    return AgreementBook.load(config_dir() / "agreements")


def check(conn: Connection, case, trigger: str, data: dict, at: datetime, config: Config) -> Context:
    if trigger == "decide" and data["decision"] == "local_track":
        track = chosen_track(case, data["track"], local_date(at))
        return Context(track_frame=track.estimated_frame, track=track)
    return Context()


def chosen_track(case, track_id: str, on: date) -> Track:
    try:
        track = agreement_book().check_track(case["municipality"], track_id, on)
    except TrackRefused as exc:
        raise NotPermitted(f"track: {exc}") from None
    age = parse_identity(case["person"]).age_on(on)
    unmet = unmet_prerequisites(track, age=age, target_group=case["target_group"],
                                no_upper_secondary=bool(case["no_upper_secondary"]))
    if unmet:
        raise NotPermitted(f"track: the individual does not meet the prerequisites of {track_id}: "
                           + "; ".join(unmet))
    return track


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
