"""`decide` alone: what each trigger does to a case, read from the process table, with no
database (microseconds a case). Table-driven: the case before, the trigger and its data,
and what the decision must say."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from etablera.cases.agreements import agreement_book
from etablera.models.configuration import get_config
from etablera.statemachine.case import Case
from etablera.statemachine.decide import decide
from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.process import TRIGGER

AT = datetime(2025, 6, 2, 10, 0, tzinfo=timezone.utc)          # a Monday
BASE = Case(id=7, person="199001010017", municipality="0581", target_group="A", no_upper_secondary=False,
            state="module1.registered", paused_from=None, paused_at=None, due=date(2025, 7, 1),
            establishment_due=date(2027, 1, 10), plan=None, track=None, kommun_officer="k1", af_officer=None,
            last_seq=3, version=3)


def _decide(case: Case, trigger: str, **data):
    return decide(case, trigger, data, AT, get_config(), actor="k1", agreements=agreement_book())


CASES = [
    # (state and columns before, trigger, data, expected changes (subset), event data keys, ends measures, shift)
    ({}, "hold_talk", {}, {"state": "module1.talk_held"}, set(), (), 0),
    ({"state": "module1.talk_held"}, "establish_plan", {"plan": "handlingsplan"},
     {"state": "module2.preparing", "plan": "handlingsplan", "stage_seq": 4, "stage_started": date(2025, 6, 2)},
     {"plan", "due"}, (), 0),
    ({"state": "module1.talk_held"}, "skip_module2", {"reason": "validated_skills", "note": "Validerad"},
     {"state": "assessment.pending", "stage_seq": 4}, {"due"}, (), 0),
    ({"state": "module2.preparing"}, "pause", {"reason": "illness"},
     {"state": "on_hold", "paused_from": "module2.preparing", "paused_at": AT}, set(), (), 0),
    ({"state": "on_hold", "paused_from": "module2.preparing", "paused_at": datetime(2025, 5, 23, 9, tzinfo=timezone.utc)},
     "resume", {}, {"state": "module2.preparing", "paused_from": None, "paused_at": None,
                    "due": date(2025, 7, 11), "establishment_due": date(2027, 1, 20)}, {"paused_days"}, (), 10),
    ({"state": "module3.in_track", "track": "svets"}, "drop_track", {"reason": "track_not_suitable"},
     {"state": "module2.extended", "track": None}, {"due"}, ("module3",), 0),
    ({"state": "module2.extended"}, "exit_direct", {"outcome": "work", "reason": "job_offer", "note": "Anställd"},
     {"state": "exited.work", "active": False, "due": None}, {"outcome"}, ("module2", "module3"), 0),
    ({"state": "on_hold", "paused_from": "module1.registered", "paused_at": AT}, "close", {"reason": "moved_abroad"},
     {"state": "closed", "active": False, "paused_from": None, "paused_at": None}, set(), ("module2", "module3"), 0),
    ({"state": "module2.preparing"}, "transfer", {"municipality": "0180", "kommun_officer": "s1"},
     {"municipality": "0180", "kommun_officer": "s1", "af_officer": None, "transferred_from": "0581",
      "transferred_at": date(2025, 6, 2)}, {"from_municipality", "municipality", "from_kommun_officer"}, (), 0),
]


@pytest.mark.parametrize("before, trigger, data, changes, keys, ends, shift", CASES,
                         ids=[f"{c[1]}-{c[0].get('state', BASE.state)}" for c in CASES])
def test_what_a_trigger_does(before, trigger, data, changes, keys, ends, shift):
    case = replace(BASE, **before)
    decision = _decide(case, trigger, **data)
    for column, value in changes.items():
        assert decision.changes[column] == value, column
    assert "state" in decision.changes or trigger == "transfer"
    assert keys <= set(decision.event["data"]), decision.event["data"]
    assert decision.ends_measures == ends
    assert decision.shift_days == shift
    assert decision.event["trigger"] == trigger and decision.event["from_state"] == case.state
    assert decision.event["to_state"] == decision.changes.get("state", case.state)
    assert decision.event["reason"] == data.get("reason") and decision.event["note"] == data.get("note")
    assert not {"reason", "note"} & set(decision.event["data"])
    assert decision.event["skipped"] == list(decision.route.skips)
    if trigger == "transfer":
        assert decision.event["data"]["from_municipality"] == "0581" and decision.event["municipality"] == "0180"


def test_a_skip_is_recorded_on_the_event():
    decision = _decide(replace(BASE, state="module1.talk_held"), "exit_direct", outcome="studies",
                       reason="job_offer", note="Antagen")
    assert decision.event["skipped"] == ["module2", "module3"]
    decision = _decide(replace(BASE, state="assessment.pending"), "decide", decision="work",
                       participants=["kommun", "af"], reason="job_offer", note="Jobb")
    assert decision.event["skipped"] == ["module3"] and decision.to_state == "exited.work"


def test_a_local_track_lays_out_its_components_and_its_due_date_is_the_tracks():
    case = replace(BASE, state="assessment.pending", municipality="1493")
    decision = _decide(case, "decide", decision="local_track", track="svets", participants=["kommun", "af"],
                       note="Svetsspåret")
    assert decision.track is not None and decision.track.id == "svets"
    assert decision.changes["track"] == "svets" and decision.entered_stage == "module3"
    assert decision.changes["due"] == decision.track.estimated_frame.due(date(2025, 6, 2))


def test_rules_refuse_with_their_codes():
    with pytest.raises(BadInput) as same:
        _decide(replace(BASE, state="module2.preparing"), "transfer", municipality="0581")
    assert same.value.code == "transfer_same_municipality" and same.value.field == "municipality"
    with pytest.raises(NotPermitted) as unmet:
        _decide(replace(BASE, state="assessment.pending"), "decide", decision="local_track",
                track="utan-gymnasium", participants=["kommun", "af"], note="x")
    assert unmet.value.code == "track_prerequisites_unmet" and unmet.value.field == "track"


@pytest.mark.parametrize("trigger", [t.name for t in TRIGGER.values() if t.name != "register"])
def test_nothing_fires_in_a_terminal_state(trigger):
    with pytest.raises(NotPermitted) as refused:
        _decide(replace(BASE, state="closed"), trigger)
    assert refused.value.code == "trigger_not_permitted" and refused.value.params["permitted"] == []
