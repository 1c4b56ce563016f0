"""Module 3 in full: the joint assessment's `local_track` decision against the
municipality's agreement on the decision date, prerequisites and their audited override,
the track's components as measures, complete_track / drop_track, and transfers.

Dates are backdated with `at` so every due date is exact. The shipped example
agreements: Norrköping (0581, from 2018, no end) and Mariestad–Töreboda–Gullspång
(1493/1473/1447, 2024–2027, `skogsbruk` closed).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date

import pytest

from identities import pnr
import kit
from kit import advance, register
from etablera.interfaces.cli.main import main
from etablera.models.agreements import AgreementBook, clear_cache, component_plan
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.database import make_engine, transaction
from etablera.cases import audit as chain
from etablera.statemachine.measures import COMPONENT_MEASURE_TYPE

DECIDED = date(2025, 3, 3)


@pytest.fixture(autouse=True)
def fresh_agreements():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def officer(cli_env, capsys):
    """Runs `etablera` in-process as officer handl01; returns (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def config_copy(tmp_path, monkeypatch):
    """A copy of config/ that ETABLERA_CONFIG_DIR points at; edit its agreements freely."""
    directory = tmp_path / "config"
    shutil.copytree(DEFAULT_DIR, directory)
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(directory))
    clear_cache()
    return directory


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    clear_cache()


def to_assessment(engine, municipality: str, *, birth: str = "19900101", serial: int = 123,
                  no_upper_secondary: bool = False) -> int:
    """A case registered on 2025-02-01 and waiting for its joint assessment since 2025-02-20."""
    case_id = register(engine, pnr(birth, serial), municipality, date(2025, 1, 10), "2025-02-01",
                       no_upper_secondary=no_upper_secondary)
    advance(engine, case_id, "hold_talk", "2025-02-05")
    advance(engine, case_id, "establish_plan", "2025-02-06", plan="handlingsplan")
    advance(engine, case_id, "request_assessment", "2025-02-20")
    return case_id


def decide_args(case_id: int, track: str, day: str = DECIDED.isoformat(), *extra: str) -> list[str]:
    return ["case", "advance", str(case_id), "decide", "--set", "decision=local_track",
            "--set", "participants=kommun,af,individual,employer", "--set", f"track={track}",
            "--note", "Gemensam bedömning: spåret passar", "--at", day, *extra]


def decide(engine, case_id: int, track: str, day: str = DECIDED.isoformat(), **extra) -> dict:
    data = {"decision": "local_track", "participants": "kommun,af,individual", "track": track,
            "note": "Gemensam bedömning: spåret passar", **extra}
    return advance(engine, case_id, "decide", day, **data)


def state_of(engine, case_id: int) -> dict:
    return kit.show_case(engine, case_id, actor="test")


# ---------------------------------------------------------------- entering a track

def test_open_track_lays_out_its_components_and_module3_due(db, cli_env, officer):
    case_id = to_assessment(db, "0581")
    code, out, err = officer(*decide_args(case_id, "restaurang-storkok"), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["state"] == "module3.in_track" and doc["track"] == "restaurang-storkok"
    assert doc["warnings"] == [] and doc["track_valid"] is True

    track = AgreementBook.load().check_track("0581", "restaurang-storkok", DECIDED)
    assert doc["due"] == track.estimated_frame.due(DECIDED).isoformat() == "2026-01-03"    # P10M
    plan = component_plan(track, DECIDED)
    got = [(m["type"], m["component"], m["module"], m["state"], m["due"]) for m in doc["measures"]]
    assert got == [(COMPONENT_MEASURE_TYPE[c.kind], c.name, "module3", "planned", due.isoformat())
                   for c, due in plan]
    # sfi runs alongside: due eight months from the decision, not after the courses
    assert got[0][:2] == ("sfi", "Svenska för invandrare (sfi) med yrkessvenska") and got[0][4] == "2025-11-03"

    decision = kit.history(db, case_id, actor="test")[-1]
    assert decision["trigger"] == "decide" and decision["data"]["track"] == "restaurang-storkok"
    assert decision["data"]["measures"] == [m["id"] for m in doc["measures"]]
    assert decision["data"]["due"] == "2026-01-03" and "overridden_prerequisites" not in decision["data"]


def test_track_open_on_the_last_day_of_its_agreement(db, cli_env, officer, config_copy):
    edit(config_copy / "agreements" / "1493_1473_1447_mtg.toml", "valid_to = 2027-12-31", "valid_to = 2025-03-03")
    case_id = to_assessment(db, "1493")
    code, out, err = officer(*decide_args(case_id, "svets"))
    assert code == 0, err
    assert state_of(db, case_id)["track"] == "svets"


# ---------------------------------------------------------------- refusals (exit 3, with the reason)

@pytest.mark.parametrize("municipality, track, why", [
    ("1493", "skogsbruk", r"track 'skogsbruk' is closed for new participants; open tracks: svets"),
    ("0581", "svets", r"no track 'svets' in its agreement \('svets' belongs to municipality 1447, 1473, 1493\)"),
    ("1473", "restaurang-storkok", r"no track 'restaurang-storkok' in its agreement \('restaurang-storkok' belongs "
                                   r"to municipality 0581\)"),
    ("0180", "industri", r"municipality 0180 has no agreement"),
])
def test_refused_tracks_exit_3_with_the_reason(db, officer, municipality, track, why):
    case_id = to_assessment(db, municipality)
    code, out, err = officer(*decide_args(case_id, track), "--lang", "en")
    assert code == 3, (out, err)
    assert re.search(why, err), err
    code, _, swedish = officer(*decide_args(case_id, track))       # the same refusal, in Swedish only
    assert code == 3 and "jobbspåret kan inte väljas: kommun" in swedish, swedish
    words = swedish.removeprefix("error: track: ")              # the field's name stays as the CLI knows it
    assert not re.search(r"\b(track|tracks|agreement|belongs|municipality|closed|open)\b", words), swedish
    after = state_of(db, case_id)
    assert after["state"] == "assessment.pending" and after["track"] is None and after["measures"] == []
    assert [e["trigger"] for e in kit.history(db, case_id, actor="test")][-1] == "request_assessment"


def test_refused_when_the_agreement_expired_on_the_decision_date(db, officer, config_copy):
    edit(config_copy / "agreements" / "1493_1473_1447_mtg.toml", "valid_to = 2027-12-31", "valid_to = 2025-03-02")
    case_id = to_assessment(db, "1493")
    code, out, err = officer(*decide_args(case_id, "svets"), "--json", "--lang", "en")
    assert code == 3
    error = json.loads(out)["error"]
    assert error["exit_code"] == 3 and error["field"] == "track" and error["code"] == "track_refused"
    assert "no agreement valid on 2025-03-03 (agreement expired; valid 2024-01-01–2025-03-02)" in error["message"]
    assert state_of(db, case_id)["state"] == "assessment.pending"


def test_refused_when_the_agreement_is_not_yet_valid(db, officer, config_copy):
    edit(config_copy / "agreements" / "1493_1473_1447_mtg.toml",
         "valid_from = 2024-01-01\nvalid_to = 2027-12-31\nlast_revision = 2026-01-15\nnext_revision = 2027-01-15",
         "valid_from = 2025-04-01\nnext_revision = 2026-04-01")
    case_id = to_assessment(db, "1493")
    code, _, err = officer(*decide_args(case_id, "svets"), "--lang", "en")
    assert code == 3 and "agreement not yet valid" in err, err


def test_refused_when_the_agreement_file_is_broken(db, officer, config_copy):
    path = config_copy / "agreements" / "0581_norrkoping.toml"
    edit(path, 'parties = [\n    { name = "Norrköpings kommun", kind = "kommun" },\n',
         'parties = [\n    { name = "Norrköpings kommun", kind = "other" },\n')
    case_id = to_assessment(db, "0581")
    code, _, err = officer(*decide_args(case_id, "industri"), "--lang", "en")
    assert code == 3, err
    assert "its agreement file" in err and "0581_norrkoping.toml is broken (rule" in err, err
    # the other municipalities are not stopped by the broken file
    other = to_assessment(db, "1493", serial=124)
    assert officer(*decide_args(other, "industri"))[0] == 0


def test_refused_when_the_agreement_file_is_not_toml(db, officer, config_copy):
    path = config_copy / "agreements" / "0581_norrkoping.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[[tracks\n", encoding="utf-8")
    clear_cache()
    case_id = to_assessment(db, "0581")
    code, _, err = officer(*decide_args(case_id, "industri"), "--lang", "en")
    assert code == 3 and "is broken (rule toml_syntax)" in err, err


# ---------------------------------------------------------------- prerequisites and their override

def test_unmet_prerequisites_refuse_and_name_the_override(db, officer):
    case_id = to_assessment(db, "0581")              # has upper-secondary education
    code, _, err = officer(*decide_args(case_id, "utan-gymnasium"), "--lang", "en")
    assert code == 3
    assert "does not meet the prerequisites of utan-gymnasium" in err
    assert "without completed upper-secondary education" in err
    assert "--set override_prerequisites=yes" in err and "--note" in err


def test_override_with_justification_is_accepted_and_audited(db, officer):
    case_id = to_assessment(db, "0581")
    why = "Gymnasiebetyg från hemlandet kan inte styrkas; behöver spårets grundkurser"
    code, out, err = officer("case", "advance", str(case_id), "decide", "--set", "decision=local_track",
                             "--set", "participants=kommun,af,individual", "--set", "track=utan-gymnasium",
                             "--set", "override_prerequisites=yes", "--note", why, "--at", "2025-03-03",
                             "--actor", "handl07", "--json", "--lang", "en")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["state"] == "module3.in_track" and doc["track"] == "utan-gymnasium"
    assert doc["warnings"] == ["prerequisites overridden (recorded in the audit trail): the track is for "
                               "people without completed upper-secondary education"]
    assert len(doc["measures"]) == 5

    event = kit.history(db, case_id, actor="test")[-1]
    assert event["actor"] == "handl07" and event["note"] == why
    assert event["data"]["override_prerequisites"] is True
    assert event["data"]["overridden_prerequisites"] == [
        "the track is for people without completed upper-secondary education"]

    code, out, _ = officer("audit", "overrides", "--json")
    assert code == 0
    assert json.loads(out) == [{
        "case_id": case_id, "seq": event["seq"], "at": event["at"], "actor": "handl07", "municipality": "0581",
        "track": "utan-gymnasium",
        "overridden_prerequisites": ["the track is for people without completed upper-secondary education"],
        "justification": why, "participants": ["kommun", "af", "individual"]}]
    code, out, _ = officer("audit", "overrides")
    assert "handl07" in out and "utan-gymnasium" in out and why in out
    assert officer("audit", "overrides", "--municipality", "1493", "--json")[1].strip() == "[]"
    assert json.loads(officer("audit", "overrides", "--until", "2025-03-03", "--json")[1]) == []


def test_override_without_justification_is_bad_input(db, officer):
    case_id = to_assessment(db, "0581")
    code, _, err = officer("case", "advance", str(case_id), "decide", "--set", "decision=local_track",
                           "--set", "participants=kommun,af", "--set", "track=utan-gymnasium",
                           "--set", "override_prerequisites=yes", "--at", "2025-03-03")
    assert code == 2 and "--note" in err


def test_override_applies_only_to_a_local_track(db, officer):
    case_id = to_assessment(db, "0581")
    code, _, err = officer("case", "advance", str(case_id), "decide", "--set", "decision=work",
                           "--set", "participants=kommun,af", "--reason", "job_offer",
                           "--set", "override_prerequisites=yes", "--note", "Anställd", "--at", "2025-03-03",
                           "--lang", "en")
    assert code == 2 and err.startswith("error: override_prerequisites: ") and "only applies when" in err


def test_override_of_met_prerequisites_records_nothing_overridden(db, officer):
    case_id = to_assessment(db, "0581", no_upper_secondary=True, birth="20030101")
    decide(db, case_id, "utan-gymnasium", override_prerequisites="yes")
    assert "overridden_prerequisites" not in kit.history(db, case_id, actor="test")[-1]["data"]
    assert json.loads(officer("audit", "overrides", "--json")[1]) == []


def test_override_does_not_open_a_closed_track(db, officer):
    case_id = to_assessment(db, "1493")
    code, _, err = officer(*decide_args(case_id, "skogsbruk", "2025-03-03", "--set", "override_prerequisites=yes"), "--lang", "en")
    assert code == 3 and "closed for new participants" in err


# ---------------------------------------------------------------- leaving the track

def test_complete_track_exits_and_keeps_the_track(db):
    case_id = to_assessment(db, "0581")
    decide(db, case_id, "industri")
    advance(db, case_id, "complete_track", "2025-12-01", outcome="work")
    doc = state_of(db, case_id)
    assert doc["state"] == "exited.work" and doc["track"] == "industri"
    assert doc["active"] is False and doc["due"] is None


def test_drop_track_goes_back_to_extended_module2(db):
    case_id = to_assessment(db, "0581")
    decide(db, case_id, "industri")
    event = advance(db, case_id, "drop_track", "2025-05-01", reason="needs_rehabilitation")
    assert event["to_state"] == "module2.extended"
    doc = state_of(db, case_id)
    assert doc["state"] == "module2.extended" and doc["track"] is None and doc["track_valid"] is None
    assert doc["stage_started"] == "2025-05-01"


# ---------------------------------------------------------------- transfer in module 3

def _transfer(officer, case_id: int, municipality: str, day: str):
    code, out, err = officer("case", "advance", str(case_id), "transfer", "--set", f"municipality={municipality}",
                             "--at", day, "--json", "--lang", "en")
    assert code == 0, err
    return json.loads(out)


def test_transfer_to_a_municipality_without_the_track_warns_and_keeps_history(db, officer):
    case_id = to_assessment(db, "0581")
    decide(db, case_id, "restaurang-storkok")
    before = kit.history(db, case_id, actor="test")
    doc = _transfer(officer, case_id, "1493", "2025-06-02")

    assert doc["state"] == "module3.in_track" and doc["municipality"] == "1493"
    assert doc["track"] == "restaurang-storkok" and doc["due"] == "2026-01-03"     # the decision is kept
    assert len(doc["measures"]) == 6
    assert doc["track_valid"] is False
    assert "no track 'restaurang-storkok' in its agreement" in doc["track_warning"]
    assert len(doc["warnings"]) == 1 and "not valid after the transfer" in doc["warnings"][0]

    history = kit.history(db, case_id, actor="test")
    assert history[:-1] == before                                       # history kept as it was
    transfer = history[-1]
    assert transfer["trigger"] == "transfer" and transfer["municipality"] == "1493"
    assert transfer["data"]["from_municipality"] == "0581"
    assert transfer["data"]["track_invalid_after_transfer"] is True
    assert "municipality 1493: no track 'restaurang-storkok'" in transfer["data"]["track_invalid_reason"]
    assert {e["municipality"] for e in history[:-1]} == {"0581"}
    with transaction(db, write=False) as conn:
        assert not chain.verify(conn)[2]

    code, out, _ = officer("case", "show", str(case_id))
    assert "GÄLLER INTE i denna kommun" in out and "Varning:" in out
    code, out, _ = officer("case", "advance", str(case_id), "hold_talk", "--at", "2025-06-03")
    assert code == 3                                                   # still an ordinary module-3 case


def test_transfer_text_output_warns(db, officer):
    case_id = to_assessment(db, "0581")
    decide(db, case_id, "restaurang-storkok")
    code, out, _ = officer("case", "advance", str(case_id), "transfer", "--set", "municipality=0180",
                           "--at", "2025-06-02", "--lang", "en")
    assert code == 0
    assert "warning: the track decision (restaurang-storkok) is not valid after the transfer: " \
           "municipality 0180 has no agreement" in out


def test_transfer_to_a_municipality_with_the_track_is_silent(db, officer):
    case_id = to_assessment(db, "0581")
    decide(db, case_id, "industri")
    doc = _transfer(officer, case_id, "1493", "2025-06-02")
    assert doc["warnings"] == [] and doc["track_valid"] is True and doc["track_warning"] is None
    transfer = kit.history(db, case_id, actor="test")[-1]
    assert "track_invalid_after_transfer" not in transfer["data"]


def test_transfer_back_makes_the_track_valid_again(db, officer):
    case_id = to_assessment(db, "0581")
    decide(db, case_id, "restaurang-storkok")
    assert _transfer(officer, case_id, "1493", "2025-06-02")["track_valid"] is False
    back = _transfer(officer, case_id, "0581", "2025-07-01")
    assert back["warnings"] == [] and back["track_valid"] is True


def test_transfer_within_one_agreement_keeps_a_closed_track(db, officer, config_copy):
    """Moving between municipalities that share an agreement is not joining a new track."""
    path = config_copy / "agreements" / "1493_1473_1447_mtg.toml"
    case_id = to_assessment(db, "1493")
    edit(path, "open = false", "open = true")
    decide(db, case_id, "skogsbruk")
    edit(path, "open = true          # closed", "open = false          # closed")
    doc = _transfer(officer, case_id, "1473", "2025-06-02")
    assert doc["warnings"] == [] and doc["track_valid"] is True


def test_transfer_outside_module3_is_not_checked(db, officer):
    case_id = to_assessment(db, "0581")
    doc = _transfer(officer, case_id, "0180", "2025-02-25")
    assert doc["warnings"] == [] and doc["track_valid"] is None


def test_transfer_to_a_closed_track_warns(db, officer, config_copy):
    path = config_copy / "agreements" / "1493_1473_1447_mtg.toml"
    case_id = to_assessment(db, "0581")
    decide(db, case_id, "industri")
    text = path.read_text(encoding="utf-8")
    start = text.index('id = "industri"')
    path.write_text(text[:start] + text[start:].replace("open = true", "open = false", 1), encoding="utf-8")
    clear_cache()
    doc = _transfer(officer, case_id, "1493", "2025-06-02")
    assert doc["track_valid"] is False and "closed for new participants" in doc["track_warning"]
