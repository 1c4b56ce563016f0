"""The CLI's own words follow --lang in every line it prints (Swedish by default): the
headings of `case show`, `case list`, `case history`, `case events`, the lines of
`case register`, `case advance`, `measure add`/`start` and `init`. JSON keeps its shape."""

from __future__ import annotations

import re

import pytest

from cli_kit import advance, etablera, ok, register
from identities import pnr

SWEDISH_HEADINGS = ("Ärende", "Målgrupp", "Läge", "Förfaller", "Plan / spår", "Handläggare", "Insatser")
ENGLISH_HEADINGS = ("Case", "Target group", "State", "Due", "Plan / track", "Officers", "Measures")


def _words(text: str, *words: str) -> list[str]:
    """Which of `words` occur in `text` as words."""
    return [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)]


@pytest.fixture
def world(cli_env, db_url, monkeypatch):
    monkeypatch.delenv("ETABLERA_LANG", raising=False)
    in_module2 = register(pnr("19900101", 281))["id"]
    advance(in_module2, "hold_talk", "--at", "2025-03-04T10:00")
    advance(in_module2, "establish_plan", "--set", "plan=handlingsplan", "--at", "2025-03-10T10:00")
    skipped = register(pnr("19900101", 282))["id"]
    advance(skipped, "hold_talk", "--at", "2025-03-04T10:00")
    advance(skipped, "skip_module2", "--reason", "job_offer", "--note", "erbjuden tjänst", "--at", "2025-03-10T10:00")
    return {"module2": in_module2, "skipped": skipped}


def _both(*argv) -> tuple[str, str]:
    sv, en = etablera(*argv), etablera(*argv, "--lang", "en")
    assert sv.code == en.code == 0, (argv, sv, en)
    return sv.out, en.out


def test_case_show_headings(world):
    added_sv = etablera("measure", "add", world["module2"], "sfi", "--at", "2025-03-10T11:00")
    assert added_sv.code == 0 and added_sv.out.startswith("insats ") and "tillagd i ärende" in added_sv.out
    added_en = etablera("measure", "add", world["module2"], "sfi", "--at", "2025-03-10T11:00", "--lang", "en")
    assert added_en.code == 0 and "added to case" in added_en.out and "ärende" not in added_en.out
    sv, en = _both("case", "show", world["module2"])
    assert _words(sv, *SWEDISH_HEADINGS) == list(SWEDISH_HEADINGS), sv
    assert not _words(sv, "Case", "Target group", "State", "Officers", "Measures", "since", "due"), sv
    assert _words(en, *ENGLISH_HEADINGS) == list(ENGLISH_HEADINGS), en
    assert not _words(en, *SWEDISH_HEADINGS, "sedan", "förfaller", "etablering senast"), en


def test_measure_lifecycle_line_shows_the_state_label(world):
    measure = ok("measure", "add", world["module2"], "sfi", "--at", "2025-03-10T11:00")["measure"]
    started = etablera("measure", "start", measure, "--at", "2025-03-11T09:00")
    assert started.code == 0 and started.out.strip() == f"insats {measure}: Pågående [ongoing]", started
    done = etablera("measure", "complete", measure, "--at", "2025-03-12T09:00", "--lang", "en")
    assert done.code == 0 and done.out.strip() == f"measure {measure}: Completed [completed]", done
    assert ok("measure", "start", ok("measure", "add", world["module2"], "sfi")["measure"]) == \
        {"measure": measure + 1, "state": "ongoing"}                               # the JSON keeps its shape


def test_case_list_headings(world):
    sv, en = _both("case", "list")
    assert sv.splitlines()[0].split() == ["ärende", "kommun", "läge", "förfaller", "spår"]
    assert en.splitlines()[0].split() == ["case", "municipality", "state", "due", "track"]
    assert ok("case", "list")[0].keys() >= {"id", "municipality", "state_label", "due", "track"}


def test_case_history_and_events(world):
    sv, en = _both("case", "history", world["skipped"])
    assert "[hoppar över module2" in sv and "skips" not in sv
    assert "[skips module2" in en and "hoppar över" not in en
    sv, en = _both("case", "events", world["module2"])
    assert sv.startswith(f"Ärende {world['module2']}:") and ", version " in sv.splitlines()[0]
    assert en.startswith(f"Case {world['module2']}:")
    assert _words(sv, "krävs") and not _words(sv, "required", "optional", "required when")
    assert _words(en, "required") and not _words(en, "krävs", "valfritt", "krävs när")


def test_register_and_advance_lines(cli_env, db_url, monkeypatch):
    monkeypatch.delenv("ETABLERA_LANG", raising=False)
    base = ("case", "register", "--municipality", "0581", "--permit-date", "2025-01-15", "--at", "2025-03-03T10:00")
    sv = etablera(*base, "--person", pnr("19900101", 283))
    en = etablera(*base, "--person", pnr("19900101", 284), "--lang", "en")
    assert sv.code == en.code == 0, (sv, en)
    assert re.match(r"ärende \d+ inskrivet: .* \(målgrupp \w, förfaller ", sv.out), sv.out
    assert re.match(r"case \d+ registered: .* \(target group \w, due ", en.out), en.out
    case = int(sv.out.split()[1])
    moved = etablera("case", "advance", case, "hold_talk", "--at", "2025-03-04T10:00")
    assert moved.code == 0 and moved.out.startswith(f"ärende {case}: hold_talk → "), moved
    skipped = etablera("case", "advance", case, "skip_module2", "--reason", "job_offer", "--note", "erbjudande",
                       "--at", "2025-03-05T10:00", "--lang", "en")
    assert skipped.code == 0 and skipped.out.startswith(f"case {case}: skip_module2 → "), skipped
    assert ", skipped module2" in skipped.out


def test_init_line(cli_env, db_url, monkeypatch):
    monkeypatch.delenv("ETABLERA_LANG", raising=False)
    sv, en = _both("init")
    assert sv.startswith("databasen är klar, version ") and not _words(sv, "database", "ready", "revision")
    assert en.startswith("database ready at revision ") and not _words(en, "databasen", "klar", "version")
    assert set(ok("init")) == {"database", "revision", "audit_key_file", "audit_key_created"}


def test_config_schema_takes_the_shared_options(cli_env, db_url, monkeypatch):
    monkeypatch.delenv("ETABLERA_LANG", raising=False)
    assert etablera("config", "schema", "--json", "--actor", "handl01", "--lang", "en").doc
    wrong_sv = etablera("config", "schema", "--file", "nothing.toml")
    wrong_en = etablera("config", "schema", "--file", "nothing.toml", "--lang", "en")
    assert wrong_sv.code == wrong_en.code == 2
    assert wrong_sv.err.startswith("error: file: välj ett av: ") and "(ange med --file)" in wrong_sv.err
    assert wrong_en.err.startswith("error: file: must be one of: ")


def test_a_refused_track_decision_in_swedish_has_no_english_sentence():
    """The words of the refusal, as every interface renders them (CLI, web, API)."""
    from datetime import date
    from etablera.models.agreements import TrackRefused, unmet_prerequisites
    from etablera.statemachine.errors import NotPermitted
    from etablera.cases.agreements import agreement_book
    shipped = agreement_book()
    english = re.compile(r"\b(the|is|of|for|track|tracks|agreement|municipality|closed|open|no|not|valid|belongs|"
                         r"below|above|age|level|people|without)\b", re.I)
    refusals = []
    for municipality, track in (("0581", "svets"), ("0180", "industri"), ("1493", "skogsbruk")):
        with pytest.raises(TrackRefused) as exc:
            shipped.check_track(municipality, track, date(2025, 6, 2))
        refusals.append(NotPermitted("track_refused", field="track", detail=exc.value.words))
    track = shipped.check_track("0581", "eget-foretagande", date(2025, 6, 2))
    unmet = unmet_prerequisites(track, age=19, target_group="B", no_upper_secondary=False, sfi_level="A")
    assert len(unmet) >= 3
    refusals.append(NotPermitted("track_prerequisites_unmet", field="track", track="eget-foretagande", unmet=unmet))
    for refusal in refusals:
        sv, en = refusal.text("sv"), refusal.text("en")
        assert not english.search(sv.replace("eget-foretagande", "")), sv
        assert english.search(en), en
