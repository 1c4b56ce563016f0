"""Local agreements and tracks: the model's rules, the book's refusals, plans, the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from etablera.interfaces.cli.agreements import agreement as agreement_cli
from etablera.models.agreements import (AgreementBook, AgreementError, AgreementIssue, TrackRefused, clear_cache,
                               component_plan, load_agreement, points_frame, track_due,
                               unmet_prerequisites, validate_agreement_file, validate_agreement_files)
from etablera.models.config_files import shown
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.timeframes import Frame

DATA = Path(__file__).parent / "data" / "agreements"
SHIPPED = DEFAULT_DIR / "agreements"
TODAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def shipped() -> AgreementBook:
    return AgreementBook.load(SHIPPED)


@pytest.fixture
def book() -> AgreementBook:
    return AgreementBook.load(DATA / "book")


# ---------------------------------------------------------------- shipped examples

def test_shipped_agreements_all_validate():
    files = sorted(SHIPPED.glob("*.toml"))
    assert len(files) >= 2
    assert validate_agreement_files(files) == []
    for f in files:
        assert f.read_text(encoding="utf-8").lstrip().startswith("# EXAMPLE")


@pytest.mark.parametrize("day", [TODAY, date(2024, 1, 1), date(2025, 6, 1), date(2027, 12, 31)])
def test_shipped_agreements_valid_2024_to_2027(shipped, day):
    for code in ("0581", "1493", "1473", "1447"):
        assert shipped.agreement_for(code, day) is not None, (code, day)


def test_norrkoping_has_its_four_tracks(shipped):
    a = shipped.agreement_for("0581", TODAY)
    assert a.valid_from.year == 2018
    assert [t.id for t in a.tracks] == ["eget-foretagande", "restaurang-storkok", "industri", "utan-gymnasium"]
    no_upper = a.track("utan-gymnasium")
    assert no_upper.short_education and no_upper.prerequisites.requires_no_upper_secondary


def test_welding_track_follows_the_model(shipped):
    svets = shipped.check_track("1493", "svets", TODAY)
    got = [(c.kind, c.name, c.points) for c in svets.components]
    assert got == [("sfi", "Svenska för invandrare (sfi)", None),
                   ("course", "Materialkunskap", 100), ("course", "Datorstyrd produktion", 100),
                   ("course", "Svetsgrund", 100), ("course", "Kälsvets", 200),
                   ("course", "Industriteknisk fördjupning", 50), ("course", "Produktionskunskap", 100),
                   ("course", "Tillverkningsunderlag", 100)]
    a = shipped.agreement_for("1473", TODAY)
    assert {"svets", "skogsbruk", "grona-naringar", "lokalvard", "vard-omsorg", "kortutbildade",
            "industri"} <= {t.id for t in a.tracks}
    assert any(not t.open for t in a.tracks)


def test_points_rule_100p_is_five_weeks():
    assert points_frame(100, 20) == Frame(weeks=5)
    assert points_frame(200, 20) == Frame(weeks=10)
    assert points_frame(50, 20) == Frame(days=18)      # 17.5 days rounded up


# ---------------------------------------------------------------- one file per rule

RULE_FIELDS = {
    "toml_syntax": "(file)",
    "required_field": "name",
    "field_type": "valid_from",
    "unknown_field": "tracks[1].employer",
    "municipality_code": "municipalities[0]",
    "min_three_tracks": "tracks",
    "short_education_track": "tracks",
    "parties_kommun_af": "parties",
    "party_kind": "parties[2].kind",
    "signatories_kommun_af": "signatories",
    "signatory_party": "signatories[2].party",
    "revision_yearly": "next_revision",
    "valid_to_after_valid_from": "valid_to",
    "track_employer": "tracks[2].employers",
    "track_responsible": "tracks[0].responsible.af",
    "track_estimated_length": "tracks[1].estimated_length",
    "track_id": "tracks[1].id",
    "duplicate_track_id": "tracks[2].id",
    "component": "tracks[1].components[2].kind",
    "component_length": "tracks[0].components[1]",
    "prerequisite_ages": "tracks[1].prerequisites.max_age",
    "sfi_level": "tracks[0].prerequisites.sfi_level",
}


def test_every_rule_has_a_failing_file():
    assert {p.stem for p in (DATA / "invalid").glob("*.toml")} == set(RULE_FIELDS)


@pytest.mark.parametrize("rule", sorted(RULE_FIELDS))
def test_failing_file_names_rule_and_field(rule):
    path = DATA / "invalid" / f"{rule}.toml"
    issues = validate_agreement_file(path)
    matching = [i for i in issues if i.rule == rule and i.field == RULE_FIELDS[rule]]
    assert matching, issues
    text = str(matching[0])
    assert text.startswith(f"{shown(path)}: {RULE_FIELDS[rule]}: ")      # relative to the working directory
    assert text.endswith(f"[rule {rule}]")
    with pytest.raises(AgreementError) as exc:
        load_agreement(path)
    assert f"[rule {rule}]" in str(exc.value)


def test_every_violation_reported_at_once():
    rules = {(i.rule, i.field) for i in validate_agreement_file(DATA / "many_errors.toml")}
    assert {("municipality_code", "municipalities[0]"), ("parties_kommun_af", "parties"),
            ("signatories_kommun_af", "signatories"), ("revision_yearly", "next_revision"),
            ("track_employer", "tracks[1].employers"), ("min_three_tracks", "tracks"),
            ("short_education_track", "tracks")} <= rules


def test_minimal_valid_file_loads():
    a = load_agreement(DATA / "valid" / "minimal.toml")
    assert a.municipalities == ("9999",) and len(a.tracks) == 3


def test_overlapping_agreements_for_one_municipality():
    files = [DATA / "book" / "4444_first.toml", DATA / "book" / "4444_second.toml"]
    issues = validate_agreement_files(files)
    assert {i.rule for i in issues} == {"overlapping_agreements"}
    assert {i.file for i in issues} == {str(f) for f in files}
    assert all(i.field == "municipalities" and "4444" in i.message for i in issues)
    successive = [DATA / "book" / "7777_successive_a.toml", DATA / "book" / "7777_successive_b.toml"]
    assert validate_agreement_files(successive) == []


def test_issue_str_format():
    issue = AgreementIssue("f.toml", "tracks[2].employers", "track_employer", "needs an employer")
    assert str(issue) == "f.toml: tracks[2].employers: needs an employer [rule track_employer]"


# ---------------------------------------------------------------- the book and refusals

def test_broken_file_does_not_stop_the_others(book):
    assert book.agreement_for("1111", TODAY) is not None
    assert {i.rule for i in book.issues_for("3333")} == {"min_three_tracks"}
    assert book.issues_for("1111") == []
    # overlap: both files refused, including 5555 which only the second file names
    assert book.agreement_for("4444", TODAY) is None
    assert {i.rule for i in book.issues_for("5555")} == {"overlapping_agreements"}


def test_check_track_accepts_open_track(book):
    assert book.check_track("1111", "alfa", TODAY).id == "alfa"


def test_refuses_closed_track(book):
    with pytest.raises(TrackRefused, match=r"'gamma' is closed for new participants; open tracks: alfa, beta"):
        book.check_track("1111", "gamma", TODAY)


def test_a_refused_track_says_why_in_swedish_too(book):
    with pytest.raises(TrackRefused) as exc:
        book.check_track("1111", "gamma", TODAY)
    assert exc.value.code == "track_closed"
    assert exc.value.text("sv") == "kommun 1111: jobbspåret 'gamma' tar inte emot nya deltagare; öppna spår: alfa, beta"
    assert exc.value.words.en == str(exc.value)
    with pytest.raises(TrackRefused) as expired:
        book.check_track("2222", "alfa", TODAY)
    assert expired.value.text("sv") == ("kommun 2222: ingen överenskommelse gäller 2026-11-23 (överenskommelsen "
                                        "har gått ut; gäller 2023-01-01–2025-12-31)")


def test_refuses_track_of_another_municipality(shipped):
    with pytest.raises(TrackRefused) as exc:
        shipped.check_track("0581", "svets", TODAY)
    message = str(exc.value)
    assert "no track 'svets'" in message and "belongs to municipality 1447, 1473, 1493" in message
    assert "open tracks: eget-foretagande, restaurang-storkok, industri, utan-gymnasium" in message


def test_refuses_unknown_track_listing_open_ids(book):
    with pytest.raises(TrackRefused, match=r"no track 'zeta'.*open tracks: alfa, beta$"):
        book.check_track("1111", "zeta", TODAY)


def test_refuses_expired_agreement_on_decision_date(book):
    with pytest.raises(TrackRefused, match=r"no agreement valid on 2026-11-23 \(agreement expired; valid 2023-01-01–2025-12-31\)"):
        book.check_track("2222", "alfa", TODAY)
    assert book.check_track("2222", "alfa", date(2025, 12, 31)).id == "alfa"


def test_refuses_not_yet_valid_agreement(book):
    with pytest.raises(TrackRefused, match="not yet valid"):
        book.check_track("6666", "alfa", TODAY)


def test_refuses_broken_file_naming_rule(book):
    with pytest.raises(TrackRefused) as exc:
        book.check_track("3333", "alfa", TODAY)
    assert "3333_broken.toml is broken (rule min_three_tracks)" in str(exc.value)


def test_refuses_municipality_without_agreement(book):
    with pytest.raises(TrackRefused, match="municipality 0180 has no agreement"):
        book.check_track("0180", "alfa", TODAY)


def test_successive_agreements_pick_the_one_in_force(book):
    assert book.check_track("7777", "beta", date(2025, 6, 30)).id == "beta"
    assert book.check_track("7777", "delta", TODAY).id == "delta"
    with pytest.raises(TrackRefused):
        book.check_track("7777", "beta", TODAY)


def test_cache_by_directory_and_clear():
    assert AgreementBook.load(DATA / "book") is AgreementBook.load(DATA / "book")
    first = AgreementBook.load(DATA / "book")
    clear_cache()
    assert AgreementBook.load(DATA / "book") is not first


# ---------------------------------------------------------------- prerequisites and plans

def test_unmet_prerequisites(shipped):
    track = shipped.check_track("0581", "utan-gymnasium", TODAY)
    assert unmet_prerequisites(track, age=22, target_group="B", no_upper_secondary=True) == []
    unmet = unmet_prerequisites(track, age=17, target_group="A", no_upper_secondary=False)
    assert len(unmet) == 2
    assert "minimum age 18" in unmet[0].en and "upper-secondary" in unmet[1].en
    assert unmet[0].sv == "åldern 17 är under minimiåldern 18" and "gymnasieutbildning" in unmet[1].sv


def test_unmet_target_group_and_sfi_level(shipped):
    track = shipped.check_track("0581", "eget-foretagande", TODAY)   # group A, 20+, sfi C
    unmet = unmet_prerequisites(track, age=19, target_group="B", no_upper_secondary=True)
    assert any("target group B" in u.en for u in unmet) and any("minimum age 20" in u.en for u in unmet)
    assert any("målgrupp B tas inte emot" in u.sv for u in unmet)
    assert unmet_prerequisites(track, age=30, target_group="A", no_upper_secondary=False) == []  # level unknown
    assert unmet_prerequisites(track, age=30, target_group="A", no_upper_secondary=False, sfi_level="D") == []
    assert "sfi level B" in unmet_prerequisites(track, age=30, target_group="A", no_upper_secondary=False,
                                                sfi_level="B")[0].en
    assert track.prerequisites.other   # informational, never reported as unmet


def test_component_plan_sequence_with_parallel_sfi(shipped):
    track = shipped.check_track("1493", "svets", TODAY)
    start = date(2026, 12, 1)
    plan = component_plan(track, start)
    assert [c.name for c, _ in plan] == [c.name for c in track.components]
    assert plan[0][1] == date(2027, 9, 1)                # sfi: start + P9M, in parallel
    assert plan[1][1] == date(2027, 1, 5)                # Materialkunskap 100p: 5 weeks from start
    assert plan[2][1] == date(2027, 2, 9)                # next 5 weeks from the previous due date
    assert plan[4][1] == date(2027, 5, 25)               # Kälsvets 200p: 10 weeks
    assert plan[5][1] == date(2027, 6, 12)               # 50p: 18 days
    assert plan[-1][1] == date(2027, 8, 21)
    assert track.estimated_frame == Frame(months=10)
    assert track_due(track, start) == date(2027, 10, 1)


# ---------------------------------------------------------------- CLI

@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_validate_shipped(runner, monkeypatch):
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(DEFAULT_DIR))
    result = runner.invoke(agreement_cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 1 and "0581" in result.output


def test_cli_validate_lists_every_error(runner):
    files = [str(DATA / "many_errors.toml"), str(DATA / "invalid" / "track_employer.toml")]
    result = runner.invoke(agreement_cli, ["validate", *files])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert sum("[rule " in line for line in lines) >= 8
    assert any("track_employer.toml: tracks[2].employers:" in line for line in lines)
    result = runner.invoke(agreement_cli, ["validate", "--json", *files])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and len(doc["issues"]) >= 8


def test_cli_validate_json_ok(runner):
    result = runner.invoke(agreement_cli, ["validate", "--json", str(DATA / "valid" / "minimal.toml")])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["municipalities"] == ["9999"]


@pytest.fixture
def book_config(tmp_path, monkeypatch) -> Path:
    shutil.copytree(DATA / "book", tmp_path / "agreements")
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    return tmp_path


def test_cli_list_shows_status(runner, book_config):
    result = runner.invoke(agreement_cli, ["list", "--json"])
    assert result.exit_code == 0
    rows = {Path(r["file"]).name: r for r in json.loads(result.stdout)["agreements"]}
    assert rows["1111_valid.toml"]["status"] == "ok" and rows["1111_valid.toml"]["tracks"] == 3
    assert rows["3333_broken.toml"]["status"] == "broken"
    text = runner.invoke(agreement_cli, ["list", "--lang", "en"]).output
    assert text.startswith("Municipalities | Name | Validity | Next revision | Tracks | Status")
    assert "broken (min_three_tracks)" in text
    assert "Kommuner" in runner.invoke(agreement_cli, ["list"]).output


def test_cli_show(runner, monkeypatch):
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(DEFAULT_DIR))
    result = runner.invoke(agreement_cli, ["show", "1473", "--on", "2026-11-23", "--json", "--lang", "en"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    svets = next(t for t in doc["tracks"] if t["id"] == "svets")
    assert svets["name"] == "Welding" and svets["components"][1]["points"] == 100
    text = runner.invoke(agreement_cli, ["show", "0581", "--on", "2026-11-23"]).output
    assert "Restaurang och storkök" in text and "Kurs: Matlagning 1" in text


def test_cli_show_refuses_with_one_line(book_config, capsys):
    from test_grant import etablera
    code, _, err = etablera(capsys, "agreement", "show", "3333")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "min_three_tracks" in err
    code, out, _ = etablera(capsys, "agreement", "show", "0180", "--json", "--lang", "en")
    error = json.loads(out)["error"]
    assert code == 2 and error["code"] == "no_agreement" and error["field"] == "code" and "no agreement" in error["message"]
