"""Bad input is refused through the real CLI: exit 2, one line naming the field, no traceback,
nothing written; refusals by the process exit 3; no message ever repeats an identity number.
The words are the catalogue's (Swedish by default); what is checked here is the exit code,
the field and the code (--json), and with --lang en the English words."""

from __future__ import annotations

import json
import os

import pytest

from cli_kit import advance, counts, etablera, ok, person_forms, register
from conftest import drop_pg_schema, fresh_pg_url, run_cli
from etablera.models.database import engine_for, make_engine, upgrade
from etablera.statemachine.process import STATE, state_label
from identities import pnr

P_REGISTERED = pnr("19900101", 123)
P_TALK = pnr("19850515", 234)
P_MODULE2 = pnr("19920229", 345)
P_ASSESSMENT = pnr("19791231", 456)
P_STOCKHOLM = pnr("19810303", 567)
ALL_PEOPLE = (P_REGISTERED, P_TALK, P_MODULE2, P_ASSESSMENT, P_STOCKHOLM)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared(request, tmp_path_factory):
    """One database per module and kind, with the four cases of `_build_world`: the refusals
    below write nothing, so they can share it (a PostgreSQL schema costs ~0.5 s to migrate)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bad_input') / 'etablera.sqlite3'}"
    else:
        server = request.getfixturevalue("pg_server")
        url = fresh_pg_url(server)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    key = str(tmp_path_factory.mktemp("bad_input_key") / "audit.key")   # not ./var/audit.key (PostgreSQL's default)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ETABLERA_DATABASE_URL", url)
        mp.setenv("ETABLERA_ACTOR", "handl01")
        mp.setenv("ETABLERA_AUDIT_KEY_FILE", key)
        ids = _build_world()
    yield {"ids": ids, "url": url, "key": key}
    cached = engine_for(url)
    cached.dispose()
    engine_for.cache_clear()
    if request.param == "postgres":
        drop_pg_schema(server, url)


@pytest.fixture
def shared_world(shared, monkeypatch):
    monkeypatch.setenv("ETABLERA_DATABASE_URL", shared["url"])
    monkeypatch.setenv("ETABLERA_ACTOR", "handl01")
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", shared["key"])
    return shared


@pytest.fixture
def world(cli_env, db_url):
    """A world of its own, for tests that change it."""
    return {"ids": _build_world(), "url": db_url}


def _build_world() -> dict:
    """Four cases: in module1.registered, module1.talk_held, module2.preparing (with a planned
    measure), assessment.pending. Their last events are on 2025-03-10 (Stockholm)."""
    ids = {}
    ids["registered"] = register(P_REGISTERED, "0581", "2025-03-03T10:00")["id"]
    ids["talk"] = register(P_TALK, "0581", "2025-03-03T10:00")["id"]
    advance(ids["talk"], "hold_talk", "--at", "2025-03-10T10:00")
    ids["module2"] = register(P_MODULE2, "0180", "2025-03-03T10:00")["id"]
    advance(ids["module2"], "hold_talk", "--at", "2025-03-04T10:00")
    advance(ids["module2"], "establish_plan", "--set", "plan=handlingsplan", "--at", "2025-03-10T10:00")
    ids["measure"] = ok("measure", "add", ids["module2"], "sfi", "--at", "2025-03-10T11:00")["measure"]
    ids["assessment"] = register(P_ASSESSMENT, "0581", "2025-03-03T10:00")["id"]
    advance(ids["assessment"], "hold_talk", "--at", "2025-03-04T10:00")
    advance(ids["assessment"], "skip_module2", "--reason", "job_offer", "--note", "erbjuden tjänst",
            "--at", "2025-03-10T10:00")
    ids["stockholm_assessment"] = register(P_STOCKHOLM, "0180", "2025-03-03T10:00")["id"]
    advance(ids["stockholm_assessment"], "hold_talk", "--at", "2025-03-04T10:00")
    advance(ids["stockholm_assessment"], "skip_module2", "--reason", "job_offer", "--note", "erbjuden tjänst",
            "--at", "2025-03-10T10:00")
    return ids


def _register(person: str, municipality: str = "0581", permit: str = "2025-01-15", *extra: str) -> list[str]:
    return ["case", "register", "--person", person, "--municipality", municipality, "--permit-date", permit, *extra]


def _adv(key: str, trigger: str, *extra: str):
    return lambda ids: ["case", "advance", ids[key], trigger, *extra]


NEW = pnr("19880808", 567)
# name -> (argv from the case ids, the field the message must name)
BAD_INPUT = {
    "wrong check digit": (lambda ids: _register(NEW[:-1] + str((int(NEW[-1]) + 1) % 10)), "person"),
    "impossible date (Feb 30)": (lambda ids: _register(pnr("19900230", 123)), "person"),
    "impossible date (month 13)": (lambda ids: _register(pnr("19901301", 123)), "person"),
    "not a number at all": (lambda ids: _register("19900101-12X4"), "person"),
    "permit date in the future": (lambda ids: _register(NEW, "0581", "2099-01-01"), "permit_date"),
    "permit date after the registration": (lambda ids: _register(NEW, "0581", "2025-04-01", "--at", "2025-03-03"),
                                           "permit_date"),
    "permit date not a date": (lambda ids: _register(NEW, "0581", "2025-02-30"), "permit_date"),
    "register --at in the future": (lambda ids: _register(NEW, "0581", "2025-01-15", "--at", "2099-01-01"), "at"),
    "municipality three digits": (lambda ids: _register(NEW, "581"), "municipality"),
    "municipality five digits": (lambda ids: _register(NEW, "05811"), "municipality"),
    "municipality letters": (lambda ids: _register(NEW, "05a1"), "municipality"),
    "municipality unknown county": (lambda ids: _register(NEW, "9912"), "municipality"),
    "transfer to unknown county": (_adv("module2", "transfer", "--set", "municipality=1100"), "municipality"),
    "transfer to bad code": (_adv("module2", "transfer", "--set", "municipality=18"), "municipality"),
    "transfer to the municipality it is in": (_adv("module2", "transfer", "--set", "municipality=0180"),
                                              "municipality"),
    "--at before the last event": (_adv("talk", "establish_plan", "--set", "plan=handlingsplan",
                                        "--at", "2025-03-09T10:00"), "at"),
    "--at in the future": (_adv("talk", "establish_plan", "--set", "plan=handlingsplan", "--at", "2099-01-01"),
                           "at"),
    "--at garbage": (_adv("talk", "establish_plan", "--set", "plan=handlingsplan", "--at", "yesterday-ish"), "at"),
    "unknown measure type": (lambda ids: ["measure", "add", ids["module2"], "yoga"], "type"),
    "measure due before today": (lambda ids: ["measure", "add", ids["module2"], "sfi", "--due", "2025-01-01",
                                              "--at", "2025-03-11"], "due"),
    "skip_module2 without reason": (_adv("talk", "skip_module2", "--note", "redan anställd"), "reason"),
    "skip_module2 without justification": (_adv("talk", "skip_module2", "--reason", "already_employed"), "note"),
    "skip_module2 with a blank justification": (_adv("talk", "skip_module2", "--reason", "already_employed",
                                                     "--note", "   "), "note"),
    "skip_module2 with an unknown reason": (_adv("talk", "skip_module2", "--reason", "lazy", "--note", "x"),
                                            "reason"),
    "exit_direct without reason": (_adv("module2", "exit_direct", "--set", "outcome=work", "--note", "anställd"),
                                   "reason"),
    "exit_direct without outcome": (_adv("module2", "exit_direct", "--reason", "already_employed",
                                         "--note", "anställd"), "outcome"),
    "decide without af": (_adv("assessment", "decide", "--set", "decision=extended_support",
                               "--set", "participants=kommun,individual", "--note", "behöver mer"), "participants"),
    "decide without kommun": (_adv("assessment", "decide", "--set", "decision=extended_support",
                                   "--set", "participants=af,individual", "--note", "behöver mer"), "participants"),
    "decide with an unknown participant": (_adv("assessment", "decide", "--set", "decision=extended_support",
                                                "--set", "participants=kommun,af,boss", "--note", "x"),
                                           "participants"),
    "decide work without a reason": (_adv("assessment", "decide", "--set", "decision=work",
                                          "--set", "participants=kommun,af", "--note", "jobb"), "reason"),
    "decide without rationale": (_adv("assessment", "decide", "--set", "decision=extended_support",
                                      "--set", "participants=kommun,af"), "note"),
    "decide unknown decision": (_adv("assessment", "decide", "--set", "decision=maybe",
                                     "--set", "participants=kommun,af", "--note", "x"), "decision"),
    "decide fast track unknown": (_adv("assessment", "decide", "--set", "decision=fast_track",
                                       "--set", "fast_track=astronauts", "--reason", "fast_track_match",
                                       "--set", "participants=kommun,af", "--note", "x"), "fast_track"),
    "unknown --set key": (_adv("talk", "establish_plan", "--set", "plan=handlingsplan", "--set", "colour=blue"),
                          "colour"),
    "--set without =": (_adv("talk", "establish_plan", "--set", "plan"), "set"),
    "bad plan": (_adv("talk", "establish_plan", "--set", "plan=masterplan"), "plan"),
    "bad pause reason": (_adv("module2", "pause", "--reason", "vacation"), "reason"),
    "bad close reason": (_adv("module2", "close", "--reason", "bored"), "reason"),
    "pause without reason": (_adv("module2", "pause"), "reason"),
    "unknown trigger": (_adv("module2", "teleport"), "trigger"),
    "no such case": (lambda ids: ["case", "advance", "999999", "hold_talk"], "id"),
    "no such measure": (lambda ids: ["measure", "cancel", "999999", "--reason", "absence"], "measure"),
    "cancel a measure without reason": (lambda ids: ["measure", "cancel", ids["measure"]], "reason"),
    "cancel a measure with a bad reason": (lambda ids: ["measure", "cancel", ids["measure"], "--reason", "meh"],
                                           "reason"),
    "start a measure with a reason": (lambda ids: ["measure", "start", ids["measure"], "--reason", "absence"],
                                      "reason"),
}


def _assert_clean_refusal(result, field: str, code: int = 2):
    assert result.code == code, result
    assert "Traceback" not in result.both
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    if field:
        assert lines[0].startswith(f"error: {field}: "), lines[0]
    for person in ALL_PEOPLE + (NEW,):
        for form in person_forms(person):
            assert form not in result.both, "an error message repeats an identity number"


@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_input_exit_2_nothing_written(shared_world, name):
    world = shared_world
    argv_for, field = BAD_INPUT[name]
    argv = [str(a) for a in argv_for(world["ids"])]
    before = counts(world["url"])
    result = etablera(*argv)
    _assert_clean_refusal(result, field)
    assert counts(world["url"]) == before, "nothing is written"
    as_json = etablera(*argv, "--json")
    assert as_json.code == 2
    doc = json.loads(as_json.out)
    assert doc["error"]["field"] == field and doc["error"]["exit_code"] == 2
    assert set(doc["error"]) == {"code", "field", "message", "exit_code"} and doc["error"]["code"]
    assert counts(world["url"]) == before


def test_coordination_and_short_numbers_are_accepted(cli_env, db_url):
    coordination = pnr("19900101", 321, coordination=True)
    assert coordination.startswith("19900161-")
    doc = register(coordination)
    assert doc["person"] == "19900161" + coordination[-4:]
    assert len(doc["person"]) == 12
    short = pnr("19870420", 654)
    doc = register(short[2:])                       # YYMMDD-NNNC
    assert doc["person"] == short.replace("-", "")
    plain = pnr("19870421", 654).replace("-", "")   # 12 digits, no dash
    assert register(plain)["person"] == plain
    # the same coordination number cannot open a second active case
    result = etablera(*_register(coordination))
    assert result.code == 3


def test_coordination_number_with_wrong_check_digit(cli_env, db_url):
    coordination = pnr("19900101", 321, coordination=True)
    wrong = coordination[:-1] + str((int(coordination[-1]) + 3) % 10)
    before = counts(db_url)
    _assert_clean_refusal(etablera(*_register(wrong)), "person")
    assert counts(db_url) == before


# name -> (argv, what the English line names: triggers by name, states by their English label)
NOT_PERMITTED = {
    "decide in module 1": (_adv("registered", "decide", "--set", "decision=work", "--set", "participants=kommun,af",
                                "--reason", "job_offer", "--note", "x"), ("module1.registered", "hold_talk")),
    "hold_talk twice": (_adv("talk", "hold_talk"), ("module1.talk_held", "establish_plan", "skip_module2")),
    "resume when not on hold": (_adv("module2", "resume"), ("module2.preparing", "request_assessment")),
    "skip_module2 from module 2": (_adv("module2", "skip_module2", "--reason", "job_offer", "--note", "x"),
                                   ("module2.preparing",)),
    "measure in module 1": (lambda ids: ["measure", "add", ids["talk"], "sfi"], ("module1.talk_held",)),
    "unknown local track": (_adv("assessment", "decide", "--set", "decision=local_track", "--set", "track=rymd",
                                 "--set", "participants=kommun,af", "--note", "x"), ("track",)),
    "local track with unmet prerequisites": (_adv("assessment", "decide", "--set", "decision=local_track",
                                                  "--set", "track=utan-gymnasium", "--set", "participants=kommun,af",
                                                  "--note", "x"), ("track", "utan-gymnasium")),
    "local track where there is no agreement": (
        lambda ids: ["case", "advance", ids["module2"], "request_assessment"], None),
}


@pytest.mark.parametrize("name", list(NOT_PERMITTED))
def test_not_permitted_exit_3(shared_world, name):
    world = shared_world
    argv_for, mentions = NOT_PERMITTED[name]
    ids = world["ids"]
    argv = argv_for(ids)
    if mentions is None:
        # a guard: the module-2 case is in Stockholm (0180), which has no agreement here
        argv = ["case", "advance", ids["stockholm_assessment"], "decide", "--set", "decision=local_track",
                "--set", "track=industri", "--set", "participants=kommun,af,individual", "--note", "spår"]
        mentions = ("track", "0180")
    before = counts(world["url"])
    result = etablera(*[str(a) for a in argv], "--lang", "en")
    _assert_clean_refusal(result, None, code=3)
    for word in mentions:
        assert (state_label(word, "en") if word in STATE else word) in result.err, (word, result.err)
    as_json = etablera(*[str(a) for a in argv], "--json")
    assert as_json.code == 3 and json.loads(as_json.out)["error"]["exit_code"] == 3
    assert counts(world["url"]) == before


@pytest.mark.parametrize("birth,flags,why", [
    ("20080101", (), "17 with upper-secondary"),
    ("20110101", ("--no-upper-secondary",), "14"),
    ("19550101", (), "70"),
    ("19550101", ("--no-upper-secondary",), "70 without upper-secondary"),
    ("19600101", (), "65, above the configured 64"),
])
def test_outside_the_target_groups_exit_3(shared_world, birth, flags, why):
    db_url = shared_world["url"]
    person = pnr(birth, 789)
    before = counts(db_url)
    result = etablera(*_register(person, "0581", "2025-01-15", "--at", "2025-06-01", *flags), "--lang", "en")
    assert result.code == 3, (why, result)
    assert "target group" in result.err
    for form in person_forms(person):
        assert form not in result.both
    assert counts(db_url) == before


@pytest.mark.parametrize("birth,flags,group", [
    ("20080101", ("--no-upper-secondary",), "B"),     # 17, no upper-secondary
    ("20050101", (), "A"),                           # 20
    ("20020101", ("--no-upper-secondary",), "B"),     # 23: B comes first
    ("19610101", (), "A"),                           # 64
])
def test_target_group_by_age_at_registration(shared_world, birth, flags, group):
    doc = register(pnr(birth, 790), "0581", "2025-06-01", "2025-01-15", *flags)
    assert doc["target_group"] == group


def test_second_active_case_exit_3_but_allowed_after_exit(world):
    before = counts(world["url"])
    result = etablera(*_register(P_MODULE2, "0581"), "--lang", "en")
    _assert_clean_refusal(result, None, code=3)
    assert "active case" in result.err
    assert counts(world["url"]) == before
    advance(world["ids"]["module2"], "close", "--reason", "moved_no_transfer", "--at", "2025-03-11")
    again = register(P_MODULE2, "0581", "2025-04-01")
    assert again["id"] != world["ids"]["module2"]


def test_no_actor_refused(cli_env, db_url, monkeypatch):
    monkeypatch.delenv("ETABLERA_ACTOR")
    before = counts(db_url)
    _assert_clean_refusal(etablera(*_register(NEW)), "actor")
    assert counts(db_url) == before


@pytest.mark.slow
def test_refusals_through_a_real_process(sqlite_url, monkeypatch):
    db_url = sqlite_url
    cli_env = {**os.environ, "ETABLERA_DATABASE_URL": db_url, "ETABLERA_ACTOR": "handl01"}
    monkeypatch.setenv("ETABLERA_DATABASE_URL", db_url)
    monkeypatch.setenv("ETABLERA_ACTOR", "handl01")
    """The installed command, as a case officer runs it: exit codes, one line, no traceback."""
    case = ok(*_register(P_TALK, "0581", "2025-01-15", "--at", "2025-03-03T10:00"))["id"]
    before = counts(db_url)
    wrong = NEW[:-1] + str((int(NEW[-1]) + 1) % 10)
    for argv, code, field in [
        (_register(wrong), 2, "person"),
        (_register(pnr("19900230", 123)), 2, "person"),
        (_register(NEW, "0581", "2099-01-01"), 2, "permit_date"),
        (_register(NEW, "9912"), 2, "municipality"),
        (["case", "advance", str(case), "hold_talk", "--at", "2025-03-01"], 2, "at"),
        (["case", "advance", str(case), "hold_talk", "--at", "2099-03-01"], 2, "at"),
        (["case", "advance", str(case), "decide", "--set", "decision=work"], 3, None),
        (_register(P_TALK), 3, None),
        (_register(pnr("20080101", 111), "0581", "2025-01-15", "--at", "2025-06-01"), 3, None),
    ]:
        proc = run_cli(*argv, env=cli_env)
        assert proc.returncode == code, (argv, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        if field:
            assert lines[0].startswith(f"error: {field}: ")
        for person in (P_TALK, NEW, wrong):
            for form in person_forms(person):
                assert form not in proc.stdout + proc.stderr
    assert counts(db_url) == before
    proc = run_cli("case", "advance", str(case), "exit_direct", "--reason", "job_offer", "--json", env=cli_env)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["field"] == "outcome"
    assert counts(db_url) == before
