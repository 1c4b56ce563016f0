"""The named rules of the process table that need more than the case's state: the
municipality's agreement and its local job tracks (`Effects.rules` names them).

Each rule is pure: it reads the case, the trigger's data, the day and the agreements it
is handed, and either refuses (NotPermitted / BadInput, saying why) or returns what the
step needs (`Found`): the track entered, and what the audit event must record
(prerequisites overridden by the joint assessment, a track no longer valid after a
transfer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from etablera.models.agreements import AgreementBook, Track, TrackRefused, unmet_prerequisites
from etablera.models.identity import parse_identity
from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.process import STATE, TRACK_STAGE


@dataclass(frozen=True)
class Found:
    track: Track | None = None
    audit: dict = field(default_factory=dict)


NOTHING_FOUND = Found()


def track_open(case, data: dict, on: date, agreements: AgreementBook) -> Found:
    """The chosen track is open in the agreement valid that day in the case's municipality,
    and the individual meets its prerequisites, or the joint assessment overrides them
    (the event records which it overrode)."""
    override = bool(data.get("override_prerequisites"))
    track = chosen_track(case, data["track"], on, agreements, override=override)
    unmet = prerequisites_unmet(case, track, on) if override else []
    # Stored in both languages: the audit data is JSON, and the warning is shown in either.
    return Found(track, {"overridden_prerequisites": [u.en for u in unmet],
                         "overridden_prerequisites_sv": [u.sv for u in unmet]} if unmet else {})


def another_municipality(case, data: dict, on: date, agreements: AgreementBook) -> Found:
    """A transfer goes to another municipality."""
    if data["municipality"] == case["municipality"]:
        raise BadInput("transfer_same_municipality", field="municipality", municipality=case["municipality"])
    return NOTHING_FOUND


def track_after_transfer(case, data: dict, on: date, agreements: AgreementBook) -> Found:
    """A person may always move: a track decision that does not hold in the new
    municipality is recorded on the transfer, never a reason to refuse it."""
    if STATE[case["state"]].stage == TRACK_STAGE and case["track"]:
        why = track_lost_by_transfer(case, data["municipality"], on, agreements)
        if why is not None:
            return Found(audit={"track": case["track"], "track_invalid_after_transfer": True,
                                "track_invalid_reason": why.text("en"), "track_invalid_reason_sv": why.text("sv")})
    return NOTHING_FOUND


RULES: dict[str, Callable[..., Found]] = {
    "track_open": track_open,
    "another_municipality": another_municipality,
    "track_after_transfer": track_after_transfer,
}


def chosen_track(case, track_id: str, on: date, agreements: AgreementBook, *, override: bool = False) -> Track:
    """The track the case may enter on `on`: open in the agreement valid that day in the
    case's municipality, and (unless `override`) with every prerequisite met."""
    try:
        track = agreements.check_track(case["municipality"], track_id, on)
    except TrackRefused as exc:
        raise NotPermitted("track_refused", field="track", detail=exc.words) from None
    unmet = prerequisites_unmet(case, track, on)
    if unmet and not override:
        raise NotPermitted("track_prerequisites_unmet", field="track", track=track_id, unmet=unmet)
    return track


def prerequisites_unmet(case, track: Track, on: date) -> list[str]:
    age = parse_identity(case["person"]).age_on(on)
    return unmet_prerequisites(track, age=age, target_group=case["target_group"],
                               no_upper_secondary=bool(case["no_upper_secondary"]))


def track_lost_by_transfer(case, municipality: str, on: date, agreements: AgreementBook) -> TrackRefused | None:
    """Why the case's track decision is not valid in `municipality` after a transfer on
    `on`, or None when it stays valid.

    The decision stays valid when the new municipality's agreement valid on the transfer
    day has the track open for new participants (the person is a new participant there),
    or when both municipalities share one agreement that has the track (the person stays
    in the same track, open or not). Prerequisites are not checked again: the joint
    assessment decided on them.
    """
    if municipality == case["municipality"]:
        return None
    old, new = agreements.agreement_for(case["municipality"], on), agreements.agreement_for(municipality, on)
    if old is not None and new is not None and old.file == new.file and new.track(case["track"]) is not None:
        return None
    try:
        agreements.check_track(municipality, case["track"], on)
    except TrackRefused as exc:
        return exc
    return None
