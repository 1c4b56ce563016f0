"""The `etablera` CLI contract: JSON documents, labels, permitted events, full walks to every
outcome, measures, pause/resume, transfer, the skip audit, the tamper-evident trail, time
zones and the access log."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

import domain_reference as ref
from cli_kit import advance, counts, etablera, ok, register
from conftest import ROOT, run_cli
from identities import pnr
import kit
from etablera.models.database import make_engine
from etablera.statemachine.process import TRIGGER, state_label

CASE_KEYS = {"id", "person", "municipality", "target_group", "state", "state_since", "due", "establishment_due",
             "measures", "version"}
EVENT_KEYS = {"seq", "at", "actor", "trigger", "from_state", "to_state", "reason", "note", "skipped", "data"}


class Clock:
    """Event times one day apart, from 2025-03-03 (Stockholm)."""

    def __init__(self, start: date = date(2025, 3, 3)):
        self.day = start

    def __call__(self) -> str:
        self.day += timedelta(days=1)
        return f"{self.day.isoformat()}T10:00"


def _sql(url: str, statement: str, **params):
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


# --- one JSON document --------------------------------------------------------------


def test_every_command_prints_exactly_one_json_document(cli_env, db_url):
    clock = Clock()
    person = pnr("19900101", 111)
    documents = []

    def one(*argv, code=0):
        result = etablera(*argv, "--json")
        assert result.code == code, (argv, result)
        documents.append(json.loads(result.out))        # the whole stdout is one document
        if code:
            assert set(documents[-1]) == {"error"} and documents[-1]["error"]["exit_code"] == code
            assert documents[-1]["error"]["message"]
        return documents[-1]

    one("init")
    one("config", "show")
    one("process", "diagram")
    one("process", "docs")
    case = one("case", "register", "--person", person, "--municipality", "0581", "--permit-date", "2025-01-15",
               "--at", clock())["id"]
    one("case", "show", case)
    one("case", "list")
    one("case", "list", "--municipality", "0581", "--state", "module1")
    one("case", "history", case)
    one("case", "events", case)
    one("case", "advance", case, "hold_talk", "--at", clock())
    one("case", "advance", case, "establish_plan", "--set", "plan=handlingsplan", "--at", clock())
    measure = one("measure", "add", case, "sfi", "--at", clock())["measure"]
    one("measure", "start", measure, "--at", clock())
    one("measure", "complete", measure, "--at", clock())
    other = one("measure", "add", case, "internship", "--at", clock())["measure"]
    one("measure", "cancel", other, "--reason", "not_needed", "--at", clock())
    one("audit", "skips")
    one("audit", "verify")
    # errors are one document too
    one("case", "register", "--person", "19900101-1230", "--municipality", "0581", "--permit-date", "2025-01-15",
        code=2)
    one("case", "advance", case, "decide", code=3)
    one("case", "advance", case, "pause", "--reason", "illness", "--expect-version", 1, code=4)
    one("case", "show", 424242, code=2)
    one("measure", "complete", measure, code=3)
    one("case", "register", "--person", person, "--municipality", "0581", "--permit-date", "2025-01-15", code=3)
    one("case", "frobnicate", code=2)                   # a usage error
    assert len(documents) == 26


@pytest.mark.slow
def test_json_on_stdout_of_a_real_process(sqlite_url):
    env = {**__import__("os").environ, "ETABLERA_DATABASE_URL": sqlite_url, "ETABLERA_ACTOR": "handl01"}
    proc = run_cli("case", "register", "--person", pnr("19900101", 112), "--municipality", "0581",
                   "--permit-date", "2025-01-15", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert CASE_KEYS <= set(doc)
    proc = run_cli("case", "advance", str(doc["id"]), "decide", "--json", env=env)
    assert proc.returncode == 3
    assert set(json.loads(proc.stdout)) == {"error"}
    proc = run_cli("case", "history", str(doc["id"]), "--json", env=env)
    assert [e["trigger"] for e in json.loads(proc.stdout)] == ["register"]
    assert [e["trigger_label"] for e in json.loads(proc.stdout)] == ["Skriv in"]


# --- documents and labels -----------------------------------------------------------


def test_case_and_history_documents(cli_env, db_url):
    engine = make_engine(db_url)
    kit.officer(engine, "k.anna")
    kit.officer(engine, "af.bo", org="af")
    engine.dispose()
    doc = register(pnr("19900101", 113), "0581", "2025-03-03T10:00", "2025-01-15", "--kommun-officer", "k.anna",
                   "--af-officer", "af.bo", "--reception-date", "2025-02-01")
    assert CASE_KEYS <= set(doc)
    assert doc["state"] == "module1.registered" and doc["target_group"] == "A" and doc["version"] == 2
    assert doc["establishment_due"] == "2027-02-01"           # two years from the later of permit and reception
    assert doc["due"] is not None and doc["measures"] == []
    assert doc["state_since"] == "2025-03-03T10:00:00+01:00"
    history = ok("case", "history", doc["id"])
    assert len(history) == 1
    assert EVENT_KEYS <= set(history[0])
    first = history[0]
    assert (first["seq"], first["trigger"], first["from_state"], first["to_state"]) == (
        1, "register", None, "module1.registered")
    assert first["actor"] == "handl01" and first["skipped"] == []
    assert first["data"]["kommun_officer"] == "k.anna"
    shown = ok("case", "show", doc["id"])
    assert doc.pop("warnings") == []           # registration's own: the establishment time already over
    assert shown == {**doc, **{k: shown[k] for k in set(shown) - set(doc)}}


def test_swedish_labels_by_default_english_with_lang_en(cli_env, db_url):
    case = register(pnr("19900101", 114))["id"]
    sv = ok("case", "show", case)
    en = ok("case", "show", case, "--lang", "en")
    assert sv["state_label"] == "Modul 1, inskriven"
    assert en["state_label"] == "Module 1, registered"
    assert sv["target_group_label"].startswith("Målgrupp A")
    assert en["target_group_label"].startswith("Target group A")
    advance(case, "pause", "--reason", "parental_leave", "--at", "2025-03-04")
    hist_sv = ok("case", "history", case)
    hist_en = ok("case", "history", case, "--lang", "en")
    assert hist_sv[-1]["reason_label"] == "Föräldraledighet" and hist_en[-1]["reason_label"] == "Parental leave"
    assert hist_sv[-1]["to_state_label"] == "Vilande" and hist_en[-1]["to_state_label"] == "On hold"
    events_sv = ok("case", "events", case)
    events_en = ok("case", "events", case, "--lang", "en")
    assert {e["label"] for e in events_sv["events"]} == {"Återuppta", "Avsluta"}
    assert {e["label"] for e in events_en["events"]} == {"Resume", "Close"}
    text_sv = etablera("case", "show", str(case))
    assert text_sv.code == 0 and "Vilande" in text_sv.out
    text_en = etablera("case", "history", str(case), "--lang", "en")
    assert "On hold" in text_en.out


# --- what can be done now -----------------------------------------------------------


def _events_match_reference(case_id: int, state: str) -> None:
    doc = ok("case", "events", case_id, "--lang", "en")
    assert doc["state"] == state
    listed = {e["trigger"]: e for e in doc["events"]}
    assert set(listed) == ref.permitted(state), state
    for name, event in listed.items():
        fields = {f["name"]: f for f in event["fields"]}
        assert set(fields) == {f.name for f in TRIGGER[name].fields}
        for required in ref.REQUIRED[name]:
            assert fields[required]["required"], (name, required)
            assert fields[required]["give_as"]
        leads = {s["state"] for s in event["leads_to"]}
        target = ref.TABLE[state][name]
        if isinstance(target, dict):
            assert leads == set(target.values())
        elif name == "transfer":
            assert leads == {state}
        elif name != "resume":
            assert leads == {target}
    if "skip_module2" in listed:
        assert listed["skip_module2"]["skips"] == ["module2"]
        reasons = {f["name"]: f for f in listed["skip_module2"]["fields"]}["reason"]["choices"]
        assert set(reasons) == set(ref.SKIP_REASONS)


def test_case_events_lists_exactly_the_permitted_triggers(cli_env, db_url):
    clock = Clock()
    case = register(pnr("19900101", 115))["id"]
    path = [
        ("module1.registered", ()),
        ("module1.talk_held", ("hold_talk",)),
        ("module2.preparing", ("establish_plan", "--set", "plan=etableringsplan")),
        ("on_hold", ("pause", "--reason", "illness")),
        ("module2.preparing", ("resume",)),
        ("assessment.pending", ("request_assessment",)),
        ("module2.extended", ("decide", "--set", "decision=extended_support", "--set", "participants=kommun,af",
                              "--note", "rehabilitering först")),
        ("assessment.pending", ("request_assessment",)),
        ("module3.in_track", ("decide", "--set", "decision=local_track", "--set", "track=industri",
                              "--set", "participants=kommun,af,individual", "--note", "industrispåret")),
        ("exited.work", ("complete_track", "--set", "outcome=work")),
    ]
    for state, step in path:
        if step:
            advance(case, *step, "--at", clock())
        _events_match_reference(case, state)
    resumed = ok("case", "events", case)
    assert resumed["events"] == []


# --- full walks, one per outcome ----------------------------------------------------

LOCAL_TRACK = ("decide", "--set", "decision=local_track", "--set", "track=industri",
               "--set", "participants=kommun,af,individual,employer", "--note", "industrispåret passar")
WALKS = {
    "work after a local track": ("exited.work", [
        ("hold_talk",), ("establish_plan", "--set", "plan=handlingsplan"), ("measure", "sfi"),
        ("measure", "career_guidance"), ("request_assessment",), LOCAL_TRACK,
        ("complete_track", "--set", "outcome=work", "--note", "tillsvidareanställd")]),
    "own business straight from module 1": ("exited.own_business", [
        ("hold_talk",), ("exit_direct", "--set", "outcome=own_business", "--reason", "own_business_ready",
                         "--note", "startar restaurang")]),
    "studies after skipping module 2": ("exited.studies", [
        ("hold_talk",), ("skip_module2", "--reason", "admitted_to_studies", "--note", "antagen till KTH"),
        ("decide", "--set", "decision=studies", "--set", "participants=kommun,af,individual",
         "--reason", "admitted_to_studies", "--note", "reguljära studier")]),
    "a national fast track": ("exited.fast_track", [
        ("hold_talk",), ("establish_plan", "--set", "plan=handlingsplan"), ("request_assessment",),
        ("decide", "--set", "decision=fast_track", "--set", "fast_track=health_professions",
         "--set", "participants=kommun,af,individual", "--reason", "fast_track_match", "--note", "läkare")]),
    "work decided at the assessment": ("exited.work", [
        ("hold_talk",), ("establish_plan", "--set", "plan=handlingsplan"), ("request_assessment",),
        ("decide", "--set", "decision=work", "--set", "participants=kommun,af,employer",
         "--reason", "job_offer", "--note", "erbjuden anställning")]),
    "studies out of module 2, after a dropped track": ("exited.studies", [
        ("hold_talk",), ("establish_plan", "--set", "plan=handlingsplan"), ("request_assessment",), LOCAL_TRACK,
        ("drop_track", "--reason", "needs_rehabilitation"), ("measure", "rehabilitation"),
        ("exit_direct", "--set", "outcome=studies", "--reason", "admitted_to_studies", "--note", "komvux")]),
    "closed after extended support and a pause": ("closed", [
        ("hold_talk",), ("establish_plan", "--set", "plan=handlingsplan"), ("request_assessment",),
        ("decide", "--set", "decision=extended_support", "--set", "participants=kommun,af", "--note", "mer stöd"),
        ("pause", "--reason", "parental_leave"), ("resume",), ("pause", "--reason", "illness"),
        ("close", "--reason", "moved_abroad")]),
    "own business after a local track": ("exited.own_business", [
        ("hold_talk",), ("establish_plan", "--set", "plan=handlingsplan"), ("request_assessment",),
        ("decide", "--set", "decision=local_track", "--set", "track=restaurang-storkok",
         "--set", "participants=kommun,af", "--note", "restaurang"),
        ("transfer", "--set", "municipality=0180"),
        ("complete_track", "--set", "outcome=own_business")]),
}


@pytest.mark.parametrize("walk", list(WALKS))
def test_full_walk_to_each_outcome(cli_env, db_url, walk):
    final, steps = WALKS[walk]
    clock = Clock()
    case = register(pnr("19880101", 116), "0581", "2025-03-03T10:00")["id"]
    state, paused_from, expected = "module1.registered", None, [("register", None, "module1.registered", ())]
    for step in steps:
        if step[0] == "measure":
            ok("measure", "add", case, step[1], "--at", clock())
            expected.append(("add_measure", state, state, ()))
            continue
        trigger, args = step[0], step[1:]
        data = dict(a.split("=", 1) for a in args[1::2] if "=" in a)
        dest = ref.dest(state, trigger, data, paused_from)
        doc = advance(case, trigger, *args, "--at", clock())
        assert doc["state"] == dest, (trigger, doc["state"])
        assert doc["event"]["skipped"] == list(ref.skips(state, trigger, data.get(ref.SELECTOR.get(trigger, ""))))
        expected.append((trigger, state, dest, ref.skips(state, trigger, data.get(ref.SELECTOR.get(trigger, "")))))
        paused_from = state if trigger == "pause" else paused_from
        state = dest
    assert state == final
    shown = ok("case", "show", case)
    assert shown["state"] == final and shown["active"] is False and shown["due"] is None
    history = ok("case", "history", case)
    assert [e["seq"] for e in history] == list(range(1, len(expected) + 1))
    assert [(e["trigger"], e["from_state"], e["to_state"], tuple(e["skipped"])) for e in history] == expected
    for before, after in zip(history, history[1:]):
        assert after["from_state"] == before["to_state"]
    for event in history:
        if event["skipped"]:
            assert event["reason"] in ref.SKIP_REASONS and event["note"] and event["actor"] == "handl01"
    assert ok("case", "events", case)["events"] == []
    for trigger in ref.TRIGGERS:
        result = etablera("case", "advance", str(case), trigger, "--reason", "other")
        assert result.code == 3 and state_label(final) in result.err
    assert etablera("measure", "add", str(case), "sfi").code == 3
    assert ok("audit", "verify")["ok"] is True
    listed = ok("case", "list", "--state", final.split(".")[0])
    assert case in [c["id"] for c in listed]


def test_local_track_lays_out_its_components_as_measures(cli_env, db_url):
    case = register(pnr("19880101", 117), "0581", "2025-03-03T10:00")["id"]
    clock = Clock()
    for step in [("hold_talk",), ("establish_plan", "--set", "plan=handlingsplan"), ("request_assessment",)]:
        advance(case, *step, "--at", clock())
    doc = advance(case, *LOCAL_TRACK, "--at", "2025-04-01T10:00")
    assert doc["state"] == "module3.in_track" and doc["track"] == "industri"
    assert doc["due"] == "2026-01-01"              # the track's estimated length, P9M
    module3 = [m for m in doc["measures"] if m["module"] == "module3"]
    assert len(module3) == 5 and all(m["state"] == "planned" and m["component"] for m in module3)
    history = ok("case", "history", case)
    assert sorted(history[-1]["data"]["measures"]) == sorted(m["id"] for m in module3)
    assert history[-1]["data"]["participants"] == ["kommun", "af", "individual", "employer"]
    assert history[-1]["note"] == "industrispåret passar"


# --- measures -----------------------------------------------------------------------


def test_measure_lifecycle(cli_env, db_url):
    case = register(pnr("19880101", 118), "0581", "2025-03-03T10:00")["id"]
    assert etablera("measure", "add", str(case), "sfi", "--at", "2025-03-04").code == 3      # module 1
    advance(case, "hold_talk", "--at", "2025-03-05")
    assert etablera("measure", "add", str(case), "sfi", "--at", "2025-03-06").code == 3
    advance(case, "establish_plan", "--set", "plan=handlingsplan", "--at", "2025-03-07")
    sfi = ok("measure", "add", case, "sfi", "--at", "2025-03-10")["measure"]
    guidance = ok("measure", "add", case, "career_guidance", "--at", "2025-03-10")["measure"]
    chosen = ok("measure", "add", case, "internship", "--due", "2025-05-30", "--at", "2025-03-10")["measure"]
    doc = ok("case", "show", case)
    due = {m["id"]: m["due"] for m in doc["measures"]}
    assert due == {sfi: "2026-03-10", guidance: "2025-05-05", chosen: "2025-05-30"}    # P12M, P8W, given
    assert all(m["state"] == "planned" for m in doc["measures"])
    assert ok("measure", "start", sfi, "--at", "2025-03-11")["state"] == "ongoing"
    assert etablera("measure", "start", str(sfi), "--at", "2025-03-12").code == 3           # already ongoing
    assert ok("measure", "complete", sfi, "--at", "2025-03-12")["state"] == "completed"
    assert etablera("measure", "cancel", str(sfi), "--reason", "absence").code == 3          # already completed
    assert etablera("measure", "complete", str(guidance)).code == 3                         # never started
    assert etablera("measure", "cancel", str(guidance)).code == 2                           # no reason
    assert ok("measure", "cancel", guidance, "--reason", "provider_cancelled", "--at", "2025-03-13")[
        "state"] == "cancelled"
    doc = ok("case", "show", case, "--lang", "en")
    measures = {m["id"]: m for m in doc["measures"]}
    assert measures[sfi]["state_label"] == "Completed" and measures[sfi]["ended_at"].startswith("2025-03-12")
    assert measures[guidance]["reason"] == "provider_cancelled"
    assert measures[chosen]["type_label"] == "Internship"
    history = ok("case", "history", case)
    assert [e["trigger"] for e in history[3:]] == ["add_measure"] * 3 + ["start_measure", "complete_measure",
                                                                          "cancel_measure"]
    assert all(e["from_state"] == e["to_state"] == "module2.preparing" for e in history[3:])
    advance(case, "request_assessment", "--at", "2025-03-14")
    assert etablera("measure", "add", str(case), "sfi", "--at", "2025-03-15").code == 3    # in the assessment


# --- pause / resume, transfer -------------------------------------------------------


def test_pause_and_resume_move_the_due_dates(cli_env, db_url):
    case = register(pnr("19880101", 119), "0581", "2025-03-03T10:00")["id"]
    advance(case, "hold_talk", "--at", "2025-03-04")
    advance(case, "establish_plan", "--set", "plan=handlingsplan", "--at", "2025-03-05")
    ok("measure", "add", case, "internship", "--at", "2025-03-05")
    before = ok("case", "show", case)
    assert before["due"] == "2026-03-05"
    paused = advance(case, "pause", "--reason", "parental_leave", "--note", "föräldraledig", "--at", "2025-04-01")
    assert paused["state"] == "on_hold" and paused["paused_from"] == "module2.preparing"
    assert etablera("case", "advance", str(case), "transfer", "--set", "municipality=0180").code == 3
    assert etablera("measure", "add", str(case), "sfi").code == 3
    resumed = advance(case, "resume", "--at", "2025-06-10T10:00")
    shift = (date(2025, 6, 10) - date(2025, 4, 1)).days
    assert resumed["state"] == "module2.preparing" and resumed["paused_from"] is None
    plus = lambda day: (date.fromisoformat(day) + timedelta(days=shift)).isoformat()  # noqa: E731
    assert resumed["due"] == plus(before["due"])
    assert resumed["establishment_due"] == plus(before["establishment_due"])
    assert resumed["measures"][0]["due"] == plus(before["measures"][0]["due"])
    assert ok("case", "history", case)[-1]["data"]["paused_days"] == shift
    # paused from module 1, back to module 1; close straight from on hold
    other = register(pnr("19880101", 120), "0581", "2025-03-03T10:00")["id"]
    advance(other, "hold_talk", "--at", "2025-03-04")
    advance(other, "pause", "--reason", "illness", "--at", "2025-03-05")
    assert advance(other, "resume", "--at", "2025-03-06")["state"] == "module1.talk_held"
    advance(other, "pause", "--reason", "other", "--at", "2025-03-07")
    assert advance(other, "close", "--reason", "deceased", "--at", "2025-03-08")["state"] == "closed"


def test_transfer_keeps_history_and_changes_municipality(cli_env, db_url):
    case = register(pnr("19880101", 121), "0581", "2025-03-03T10:00")["id"]
    advance(case, "hold_talk", "--at", "2025-03-04")
    advance(case, "establish_plan", "--set", "plan=handlingsplan", "--at", "2025-03-05")
    before = ok("case", "history", case)
    engine = make_engine(db_url)
    kit.officer(engine, "sthlm.eva", "0180")
    engine.dispose()
    doc = advance(case, "transfer", "--set", "municipality=0180", "--set", "kommun_officer=sthlm.eva",
                  "--note", "flyttat", "--at", "2025-03-06")
    assert doc["municipality"] == "0180" and doc["state"] == "module2.preparing"
    assert doc["kommun_officer"] == "sthlm.eva" and doc["municipality_name"] == "Stockholm"
    after = ok("case", "history", case)
    assert after[:-1] == before
    assert after[-1]["trigger"] == "transfer" and after[-1]["municipality"] == "0180"
    assert after[-1]["data"]["from_municipality"] == "0581"
    assert [e["municipality"] for e in after] == ["0581"] * 3 + ["0180"]
    assert [c["id"] for c in ok("case", "list", "--municipality", "0180")] == [case]
    assert ok("case", "list", "--municipality", "0581") == []


# --- the skip audit -----------------------------------------------------------------


def test_audit_skips_filters(cli_env, db_url):
    a = register(pnr("19880101", 122), "0581", "2025-03-03T10:00")["id"]
    advance(a, "hold_talk", "--at", "2025-03-03T11:00")
    advance(a, "skip_module2", "--reason", "previous_preparation", "--note", "gjort i Malmö",
            "--at", "2025-03-05T08:30")                                     # module 2, Norrköping, March
    b = register(pnr("19880101", 123), "0180", "2025-03-03T10:00")["id"]
    advance(b, "hold_talk", "--at", "2025-03-04")
    advance(b, "establish_plan", "--set", "plan=handlingsplan", "--at", "2025-03-05")
    advance(b, "request_assessment", "--at", "2025-04-01")
    advance(b, "decide", "--set", "decision=work", "--set", "participants=kommun,af,employer", "--reason",
            "job_offer", "--note", "anställning", "--at", "2025-04-02T09:00")  # module 3, Stockholm, April
    c = register(pnr("19880101", 124), "0581", "2025-03-03T10:00")["id"]
    advance(c, "exit_direct", "--set", "outcome=work", "--reason", "already_employed", "--note", "jobbar",
            "--at", "2025-05-20")                                          # modules 2 and 3, Norrköping, May
    skips = ok("audit", "skips")
    assert [(s["case_id"], s["skipped"]) for s in skips] == [(a, ["module2"]), (b, ["module3"]),
                                                            (c, ["module2", "module3"])]
    first = skips[0]
    assert (first["actor"], first["reason"], first["justification"], first["municipality"]) == (
        "handl01", "previous_preparation", "gjort i Malmö", "0581")
    assert first["reason_label"] == "Förberedande insatser redan genomförda"
    assert first["at"] == "2025-03-05T08:30:00+01:00"
    assert skips[1]["decision"] == "work" and skips[1]["participants"] == ["kommun", "af", "employer"]
    ids = lambda *args: [s["case_id"] for s in ok("audit", "skips", *args)]  # noqa: E731
    assert ids("--municipality", "0581") == [a, c]
    assert ids("--municipality", "0180") == [b]
    assert ids("--module", "2") == [a, c]
    assert ids("--module", "3") == [b, c]
    assert ids("--since", "2025-04-01") == [b, c]
    assert ids("--since", "2025-03-05") == [a, b, c]          # a date means the whole day
    assert ids("--until", "2025-04-02") == [a]
    assert ids("--since", "2025-04-01", "--until", "2025-05-01") == [b]
    assert ids("--since", "2025-04-02T09:00", "--until", "2025-04-02T09:01") == [b]
    assert ids("--municipality", "0581", "--module", "3", "--since", "2025-05-01") == [c]
    assert ids("--municipality", "0380") == []
    english = ok("audit", "skips", "--lang", "en")
    assert english[0]["reason_label"] == "Preparatory measures already done"


# --- the audit trail ----------------------------------------------------------------


def _walked_case(person: str) -> int:
    case = register(person, "0581", "2025-03-03T10:00")["id"]
    advance(case, "hold_talk", "--note", "samtal", "--at", "2025-03-04")
    advance(case, "establish_plan", "--set", "plan=handlingsplan", "--at", "2025-03-05")
    advance(case, "request_assessment", "--at", "2025-03-06")
    return case


@pytest.fixture
def sqlite_cli(sqlite_url, monkeypatch):
    monkeypatch.setenv("ETABLERA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ETABLERA_ACTOR", "handl01")
    return sqlite_url


def test_audit_verify_detects_a_changed_event(sqlite_cli):
    url = sqlite_cli
    case = _walked_case(pnr("19880101", 125))
    untouched = _walked_case(pnr("19880101", 126))
    doc = ok("audit", "verify")
    assert doc["ok"] and doc["cases"] == 2 and doc["events"] == 8 and doc["breaks"] == []
    assert "intact" in etablera("audit", "verify", "--lang", "en").out
    assert "obrutet" in etablera("audit", "verify").out
    _sql(url, "DROP TRIGGER audit_events_no_update")
    _sql(url, "UPDATE audit_events SET note = 'ändrad i efterhand' WHERE case_id = :c AND seq = 2", c=case)
    result = etablera("audit", "verify", "--json", "--lang", "en")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["ok"] is False and len(doc["breaks"]) == 1
    assert doc["breaks"][0].startswith(f"case {case} event 2")
    swedish = json.loads(etablera("audit", "verify", "--json").out)["breaks"]
    assert swedish == [f"ärende {case} händelse 2: innehållet ändrades efter att händelsen skrevs"]
    text_result = etablera("audit", "verify", "--lang", "en")
    assert text_result.code == 1 and "BROKEN" in text_result.out and f"case {case} event 2" in text_result.out
    assert "BRUTET" in etablera("audit", "verify").out
    assert not any(b.startswith(f"case {untouched} ") for b in doc["breaks"])


def test_audit_verify_detects_a_deleted_event(sqlite_cli):
    url = sqlite_cli
    case = _walked_case(pnr("19880101", 127))
    _sql(url, "DROP TRIGGER audit_events_no_delete")
    _sql(url, "DELETE FROM audit_events WHERE case_id = :c AND seq = 3", c=case)
    result = etablera("audit", "verify", "--json", "--lang", "en")
    assert result.code == 1
    breaks = json.loads(result.out)["breaks"]
    assert breaks and breaks[0].startswith(f"case {case} event 4") and "missing" in breaks[0]
    # removing the last event is caught too: the case's chain head no longer matches
    other = _walked_case(pnr("19880101", 128))
    _sql(url, "DELETE FROM audit_events WHERE case_id = :c AND seq = 4", c=other)
    breaks = ok_code(1, "audit", "verify", "--lang", "en")["breaks"]
    assert any(b.startswith(f"case {other}") for b in breaks)


def ok_code(code: int, *argv):
    result = etablera(*argv, "--json")
    assert result.code == code, result
    return result.doc


@pytest.mark.slow
def test_audit_verify_exit_1_in_a_real_process(sqlite_url, monkeypatch):
    monkeypatch.setenv("ETABLERA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ETABLERA_ACTOR", "handl01")
    env = {**__import__("os").environ}
    case = _walked_case(pnr("19880101", 129))
    assert run_cli("audit", "verify", env=env).returncode == 0
    _sql(sqlite_url, "DROP TRIGGER audit_events_no_update")
    _sql(sqlite_url, "UPDATE audit_events SET actor = 'someone' WHERE case_id = :c AND seq = 1", c=case)
    proc = run_cli("audit", "verify", env=env)
    assert proc.returncode == 1 and f"ärende {case} händelse 1" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize("table", ["audit_events", "access_log"])
def test_the_database_refuses_update_and_delete(cli_env, db_url, table):
    case = _walked_case(pnr("19880101", 130))
    ok("case", "show", case)                       # an access_log row
    before = counts(db_url, (table,))
    for statement in (f"UPDATE {table} SET actor = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"):
            _sql(db_url, statement)
    assert counts(db_url, (table,)) == before
    assert ok("audit", "verify")["ok"]


def test_init_twice(cli_env, db_url):
    first = ok("init")
    second = ok("init")
    assert first["revision"] == second["revision"] and first["revision"]
    case = _walked_case(pnr("19880101", 131))
    assert ok("init")["revision"] == first["revision"]
    assert ok("case", "show", case)["state"] == "assessment.pending"


@pytest.mark.slow
def test_init_twice_on_a_fresh_file(tmp_path):
    env = {**__import__("os").environ, "ETABLERA_DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}",
           "ETABLERA_ACTOR": "handl01"}
    for _ in range(2):
        proc = run_cli("init", env=env)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "new.sqlite3").exists()


# --- time ---------------------------------------------------------------------------


def test_times_in_stockholm_with_their_offset(cli_env, db_url):
    case = register(pnr("19880101", 133), "0581", "2026-03-28T12:00:00+01:00", "2026-01-15")["id"]
    advance(case, "hold_talk", "--at", "2026-03-29T00:30:00+00:00")                   # winter time, 01:30
    advance(case, "establish_plan", "--set", "plan=handlingsplan", "--at", "2026-03-29T01:30:00+00:00")
    advance(case, "request_assessment", "--at", "2026-07-01T14:15")                   # naive: Stockholm
    advance(case, "pause", "--reason", "illness", "--at", "2026-10-25T02:30:00+01:00")  # after the switch back
    history = ok("case", "history", case)
    assert [e["at"] for e in history] == ["2026-03-28T12:00:00+01:00", "2026-03-29T01:30:00+01:00",
                                          "2026-03-29T03:30:00+02:00", "2026-07-01T14:15:00+02:00",
                                          "2026-10-25T02:30:00+01:00"]
    assert ok("case", "show", case)["state_since"] == "2026-10-25T02:30:00+01:00"
    # stored as the same instant, whatever the database
    rows = _sql(cli_env["ETABLERA_DATABASE_URL"], "SELECT at FROM audit_events WHERE case_id = :c AND seq = 3", c=case)
    stored = rows[0][0]
    if isinstance(stored, str):
        assert stored.startswith("2026-03-29 01:30:00")                   # SQLite: UTC text
    else:
        assert stored.tzinfo is not None                                   # PostgreSQL: timestamptz
        assert stored == datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    # an event before the last one is refused, and so is one in the future
    before = counts(cli_env["ETABLERA_DATABASE_URL"])
    assert etablera("case", "advance", str(case), "resume", "--at", "2026-10-25T01:29:00Z").code == 2
    assert counts(cli_env["ETABLERA_DATABASE_URL"]) == before


# --- the access log, and what the CLI imports --------------------------------------


def test_reading_a_case_is_logged(cli_env, db_url):
    case = register(pnr("19880101", 134))["id"]
    other = register(pnr("19880101", 135))["id"]
    count = lambda: _sql(db_url, "SELECT action, actor, case_id FROM access_log WHERE case_id = :c "  # noqa: E731
                                 "ORDER BY id", c=case)
    start = count()
    ok("case", "show", case, "--actor", "granskare7")
    ok("case", "history", case, "--actor", "granskare7")
    rows = count()[len(start):]
    assert [(r[0], r[1], r[2]) for r in rows] == [("show", "granskare7", case), ("history", "granskare7", case)]
    ok("case", "list")                                     # no personal data: not a case access
    assert len(count()) == len(start) + 2
    assert _sql(db_url, "SELECT count(*) FROM access_log WHERE case_id = :c AND action = 'show'",
                c=other)[0][0] >= 1
    # a refused read of a case that does not exist writes nothing
    total = counts(db_url, ("access_log",))
    assert etablera("case", "show", "999999").code == 2
    assert counts(db_url, ("access_log",)) == total


@pytest.mark.slow
def test_the_cli_does_not_import_prefect():
    code = "import interfaces.cli.main, sys; assert 'prefect' not in sys.modules, 'prefect imported'"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
