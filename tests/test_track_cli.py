"""`etablera track participants TRACK [--municipality CODE] [--json]`: who is in a local
job track and where they are, without identity numbers, in a fixed number of queries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event

from identities import pnr
import kit
from kit import advance, change_measure
from etablera.models.timestamps import parse_moment
from etablera.cases import tracks
# the fixtures (db on SQLite and PostgreSQL, officer running `etablera` in-process) and the case helpers
from test_module3 import db, decide, fresh_agreements, officer, to_assessment  # noqa: F401

TODAY = parse_moment("2025-08-01").date()


@pytest.fixture
def cohort(db):
    """Five people decided into tracks on 2025-03-03, and what became of them."""
    ids = {}
    ids["working"] = to_assessment(db, "0581", serial=101)
    decide(db, ids["working"], "industri")
    first = kit.show_case(db, ids["working"], actor="test")["measures"]
    change_measure(db, first[1]["id"], "start", "2025-03-10")
    change_measure(db, first[1]["id"], "complete", "2025-04-10")
    change_measure(db, first[2]["id"], "start", "2025-04-11")

    ids["paused"] = to_assessment(db, "0581", serial=102)
    decide(db, ids["paused"], "industri")
    advance(db, ids["paused"], "pause", "2025-04-01", reason="illness")

    ids["moved"] = to_assessment(db, "0581", serial=103)
    decide(db, ids["moved"], "industri")
    advance(db, ids["moved"], "transfer", "2025-05-02", municipality="1493")        # MTG has industri

    ids["mtg"] = to_assessment(db, "1493", serial=104)
    decide(db, ids["mtg"], "industri")

    ids["again"] = to_assessment(db, "0581", serial=105)      # left the track once, then decided into it again
    decide(db, ids["again"], "industri")
    advance(db, ids["again"], "drop_track", "2025-03-20", reason="needs_rehabilitation")
    advance(db, ids["again"], "request_assessment", "2025-04-20")
    decide(db, ids["again"], "industri", "2025-05-05")

    gone = to_assessment(db, "0581", serial=106)
    decide(db, gone, "industri")
    advance(db, gone, "complete_track", "2025-06-01", outcome="work")
    dropped = to_assessment(db, "0581", serial=107)
    decide(db, dropped, "industri")
    advance(db, dropped, "drop_track", "2025-04-01", reason="track_not_suitable")
    other = to_assessment(db, "0581", serial=108)
    decide(db, other, "restaurang-storkok")
    ids["others"] = (gone, dropped, other)
    return ids


def test_participants_json(db, officer, cohort):
    code, out, err = officer("track", "participants", "industri", "--json")
    assert code == 0, err
    doc = json.loads(out)
    by_case = {p["case_id"]: p for p in doc["participants"]}
    assert doc["track"] == "industri" and doc["count"] == 5
    assert set(by_case) == {cohort[k] for k in ("working", "paused", "moved", "mtg", "again")}
    assert doc["names"]["0581"] == "Industri" and "1493" in doc["names"]

    working = by_case[cohort["working"]]
    assert working["municipality"] == "0581" and working["state"] == "module3.in_track"
    assert working["since"] == "2025-03-03" and working["due"]
    assert working["components"]["completed"] == 1 and working["components"]["ongoing"] == 1
    assert working["components"]["total"] == working["components"]["planned"] + 2
    assert working["track_valid"] is True and working["track_warning"] is None

    paused = by_case[cohort["paused"]]
    assert paused["state"] == "on_hold" and paused["paused_from"] == "module3.in_track"
    assert by_case[cohort["moved"]]["municipality"] == "1493" and by_case[cohort["moved"]]["track_valid"] is True
    again = by_case[cohort["again"]]
    assert again["since"] == "2025-05-05"
    assert again["components"]["total"] == working["components"]["total"]    # not the first visit's too


def test_participants_by_municipality(db, officer, cohort):
    doc = json.loads(officer("track", "participants", "industri", "--municipality", "1493", "--json")[1])
    assert {p["case_id"] for p in doc["participants"]} == {cohort["moved"], cohort["mtg"]}
    assert doc["municipality"] == "1493" and set(doc["names"]) == {"1493", "1473", "1447"}


def test_participants_never_show_identity_numbers(db, officer, cohort):
    for args in (("--json",), ()):
        code, out, _ = officer("track", "participants", "industri", *args)
        assert code == 0
        for serial in range(101, 109):
            person = pnr("19900101", serial)
            assert person not in out and person.replace("-", "") not in out and person[2:] not in out
        assert "person" not in out


def test_participants_text(db, officer, cohort):
    code, out, _ = officer("track", "participants", "restaurang-storkok", "--lang", "sv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Spår restaurang-storkok (Restaurang och storkök): 1 deltagare"
    assert lines[1].split() == ["ärende", "kommun", "läge", "sedan", "förfaller", "moment", "spåret", "gäller"]
    assert f"{cohort['others'][2]}" == lines[3].split()[0] and "0/6 klara" in lines[3] and lines[3].endswith("ja")


def test_participants_mark_a_track_lost_by_transfer(db, officer):
    case_id = to_assessment(db, "0581", serial=110)
    decide(db, case_id, "restaurang-storkok")
    advance(db, case_id, "transfer", "2025-05-02", municipality="1473")
    doc = json.loads(officer("track", "participants", "restaurang-storkok", "--json", "--lang", "en")[1])
    (row,) = doc["participants"]
    assert row["track_valid"] is False and "no track 'restaurang-storkok'" in row["track_warning"]
    (sv,) = json.loads(officer("track", "participants", "restaurang-storkok", "--json")[1])["participants"]
    assert sv["track_warning"].startswith("jobbspårsbeslutet (restaurang-storkok) gäller inte efter flytten")
    code, out, _ = officer("track", "participants", "restaurang-storkok")
    assert "NEJ" in out and "Varning:" in out


def test_empty_and_unknown_tracks(db, officer):
    code, out, _ = officer("track", "participants", "svets", "--json")
    assert code == 0 and json.loads(out)["participants"] == []
    assert officer("track", "participants", "svets")[1].splitlines()[1] == "(inga rader)"
    assert officer("track", "participants", "svets", "--lang", "en")[1].splitlines()[1] == "(no rows)"
    code, _, err = officer("track", "participants", "svets", "--municipality", "0581", "--lang", "en")
    assert code == 2 and "no agreement has a track svets for municipality 0581" in err
    assert "etablera agreement list" in err
    code, _, err = officer("track", "participants", "no-such-track")
    assert code == 2 and "ingen överenskommelse har ett jobbspår no-such-track" in err


def test_participants_take_a_fixed_number_of_queries(db, cohort):
    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])                      # noqa: E731
        event.listen(db, "before_cursor_execute", listener)
        try:
            tracks.participants(db, "industri", today=TODAY)
            tracks.participants(db, "restaurang-storkok", today=TODAY)
        finally:
            event.remove(db, "before_cursor_execute", listener)
        return len(seen)

    few = statements()
    for serial in range(120, 126):
        decide(db, to_assessment(db, "0581", serial=serial), "industri")
    assert statements() == few
