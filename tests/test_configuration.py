"""The configuration files: where each is looked up, what a broken value says, what
`etablera config show` and `etablera config schema` give."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_kit import counts, etablera
from identities import pnr
from etablera.interfaces.cli.agreements import agreement as agreement_cli
from etablera.models import agreements, grant
from etablera.models.agreements import AgreementBook
from etablera.models.config_catalog import FILES, json_schema
from etablera.models.config_files import DEFAULT_DIR, ConfigError, search_path, shown
from etablera.models.configuration import config_dir, get_config
from etablera.models.keeping import keep_connections


@pytest.fixture(autouse=True)
def fresh_caches():
    agreements.clear_cache()
    grant.clear_cache()
    yield
    agreements.clear_cache()
    grant.clear_cache()


def copy(name: str, directory: Path, old: str | None = None, new: str | None = None) -> Path:
    """The packaged `name` in `directory`, with `old` replaced by `new` once."""
    text = (DEFAULT_DIR / name).read_text(encoding="utf-8")
    if old is not None:
        assert old in text, (name, old)
        text = text.replace(old, new, 1)
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the schema

def test_committed_schema_is_the_generated_one():
    """config/schema.json is what `etablera config schema` writes: regenerate it with
    `etablera config schema --output config/schema.json` after changing a model."""
    committed = (DEFAULT_DIR / "schema.json").read_text(encoding="utf-8")
    assert json.loads(committed) == json_schema()
    result = etablera("config", "schema")
    assert result.code == 0 and result.out == committed


def test_every_shipped_file_matches_its_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    for name in FILES:
        validator = jsonschema.Draft202012Validator({**schema, **schema["files"][name]},
                                                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        files = sorted(DEFAULT_DIR.glob(name))
        assert files, name
        for path in files:
            doc = json.loads(json.dumps(tomllib.loads(path.read_text(encoding="utf-8")), default=str))
            assert not list(validator.iter_errors(doc)), path
    wrong = json.loads(json.dumps({"types": {"sfi": {"sv": "x", "en": "y", "duration": "P1M", "lenght": 1}},
                                   "states": {}}))
    validator = jsonschema.Draft202012Validator({**schema, **schema["files"]["measures.toml"]})
    assert not validator.is_valid(wrong)


def test_schema_of_one_file(tmp_path):
    out = tmp_path / "agreement.schema.json"
    result = etablera("config", "schema", "--file", "agreements/*.toml", "--output", str(out))
    assert result.code == 0 and result.out == ""
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["title"] == "AgreementFile" and "tracks" in doc["required"]
    assert etablera("config", "schema", "--file", "nothing.toml").code == 2


# ---------------------------------------------------------------- a bad value, one line

BROKEN = [  # file, text replaced, by, key path named
    ("reasons.toml", 'illness        = { sv = "Sjukdom", en = "Illness" }', 'illness = { sv = "Sjukdom" }',
     "pause.illness.en"),
    ("measures.toml", 'duration = "P8W"', 'duration = "P8X"', "types.career_guidance.duration"),
    ("target_groups.toml", "max_age = 24", "max_age = 14", "groups[0].max_age"),
    ("fast_tracks.toml", 'professions = ["kock"]', 'professions = "kock"', "tracks.chefs.professions"),
    ("timeframes.toml", 'B = "P18M"', 'B = "18 months"', 'stages."module2.preparing".B'),
    ("municipalities.toml", '"0581" = "Norrköping"', '"581" = "Norrköping"', "municipalities.581"),
    ("components.toml", "points_per_week = 20", "points_per_week = 0", "points.points_per_week"),
    ("grant.toml", "min = 100", "min = 101", "bands[1].min"),
    ("af_offices.toml", 'municipalities = ["1480"]', 'municipalities = ["148"]', "offices.goteborg.municipalities[0]"),
    ("reminders.toml", "max_attempts = 5", 'max_attempts = "five"', "delivery.max_attempts"),
    ("reminders.toml", 'timezone = "Europe/Stockholm"', 'timezone = "Europe/Norrkoping"', "schedule.timezone"),
]


@pytest.mark.parametrize("name, old, new, where", BROKEN, ids=[f"{b[0]}:{b[3]}" for b in BROKEN])
def test_a_bad_value_is_one_line_naming_file_and_key_path(tmp_path, monkeypatch, name, old, new, where):
    path = copy(name, tmp_path, old, new)
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    result = etablera("config", "show")
    assert result.code == 2 and result.out == ""
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith(f"error: {shown(path)}: {where}: "), result.err
    result = etablera("config", "show", "--json")
    assert result.code == 2
    error = json.loads(result.out)["error"]
    assert error["exit_code"] == 2 and error["field"] == where
    assert [(i["file"], i["field"]) for i in error["issues"]] == [(str(path), where)]


def test_every_broken_file_at_once(tmp_path, monkeypatch):
    copy("measures.toml", tmp_path, 'duration = "P8W"', 'duration = "P8X"')
    copy("reasons.toml", tmp_path, "[pause]", "[pauses]")
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as exc:
        get_config()
    assert [(Path(i.file).name, i.field) for i in exc.value.issues] == [
        ("reasons.toml", "pause"), ("reasons.toml", "pauses"), ("measures.toml", "types.career_guidance.duration")]
    assert str(exc.value).splitlines()[1].endswith("pauses: unknown field (expected one of: skip, pause, close, "
                                                   "drop_track, cancel_measure, correct)")


def test_a_bad_agreement_value_names_file_key_path_and_rule(tmp_path, monkeypatch, capsys):
    path = copy("agreements/0581_norrkoping.toml", tmp_path, 'estimated_length = "P9M"',
                'estimated_length = "nine months"')
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    result = CliRunner().invoke(agreement_cli, ["validate"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (f"{shown(path)}: tracks[2].estimated_length: 'nine months' must be a "
                                             "positive ISO 8601 duration like 'P10M' or 'P12W' "
                                             "[rule track_estimated_length]")
    from test_grant import etablera
    code, _, err = etablera(capsys, "agreement", "show", "0581")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "tracks[2].estimated_length" in err and "track_estimated_length" in err


def test_a_broken_file_writes_nothing(cli_env, db_url, tmp_path, monkeypatch):
    copy("measures.toml", tmp_path, 'duration = "P12M"', 'duration = 12')
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    before = counts(db_url)
    result = etablera("case", "register", "--person", pnr("19900101", 321), "--municipality", "0581",
                      "--permit-date", "2025-01-15", "--at", "2025-03-03T10:00")
    assert result.code != 0
    assert "measures.toml" in result.err and "types.sfi.duration" in result.err
    assert counts(db_url) == before


def test_config_dir_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path / "nowhere"))
    result = etablera("config", "show")
    assert result.code == 2 and "ETABLERA_CONFIG_DIR names no directory" in result.err


# ---------------------------------------------------------------- lookup and sources

def test_show_lists_the_source_of_each_section(tmp_path, monkeypatch):
    own = copy("measures.toml", tmp_path, 'sv = "Praktik"', 'sv = "Praktik (vår egen)"')
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("ETABLERA_NOTIFY_DEFAULT", "file:elsewhere.log")
    doc = etablera("config", "show", "--json").doc
    sources = doc["sources"]
    assert doc["search_path"][0] == str(tmp_path) and doc["directory"] == str(tmp_path)
    assert sources["measure_types"] == sources["measure_states"] == str(own)
    assert doc["measure_types"]["internship"]["sv"] == "Praktik (vår egen)"
    for section in ("reasons", "target_groups", "fast_tracks", "time_frames", "municipalities", "reminders", "grant",
                    "components", "af_offices"):
        assert Path(sources[section]).parent.resolve() == DEFAULT_DIR, section
    assert Path(sources["agreements"]).resolve() == DEFAULT_DIR / "agreements"
    assert sources["reminders.delivery.default_url"] == "$ETABLERA_NOTIFY_DEFAULT"
    text = etablera("config", "show").out
    assert f"Insatstyper (typisk längd) [{shown(own)}]:" in text
    assert "standardkanal file:elsewhere.log [$ETABLERA_NOTIFY_DEFAULT]" in text


def test_lookup_order(tmp_path, monkeypatch):
    """ETABLERA_CONFIG_DIR over ./config over the packaged defaults, file by file; the
    agreements folder likewise."""
    own, work = tmp_path / "own", tmp_path / "work"
    env_measures = copy("measures.toml", own, 'sv = "Praktik"', 'sv = "Praktik (ETABLERA_CONFIG_DIR)"')
    local_measures = copy("measures.toml", work / "config", 'sv = "Praktik"', 'sv = "Praktik (./config)"')
    local_reasons = copy("reasons.toml", work / "config", 'sv = "Sjukdom"', 'sv = "Sjuk (./config)"')
    local_agreement = copy("agreements/0581_norrkoping.toml", work / "config")
    monkeypatch.chdir(work)
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(own))

    config = get_config()
    assert search_path() == (own, work / "config", DEFAULT_DIR) and config_dir() == own
    assert config.sources["measures.toml"] == env_measures
    assert config.sources["reasons.toml"] == local_reasons
    assert config.sources["fast_tracks.toml"] == DEFAULT_DIR / "fast_tracks.toml"
    assert config.measure_types["internship"].label.sv == "Praktik (ETABLERA_CONFIG_DIR)"
    assert config.reasons["pause"]["illness"].sv == "Sjuk (./config)"
    for book in (AgreementBook.load(), AgreementBook.load(config_dir() / "agreements")):
        assert book.directory == local_agreement.parent
        assert [a.municipalities for a in book.agreements] == [("0581",)]

    monkeypatch.delenv("ETABLERA_CONFIG_DIR")           # ./config, then the packaged defaults
    config = get_config()
    assert config.sources["measures.toml"] == local_measures and config_dir() == work / "config"
    assert config.measure_types["internship"].label.sv == "Praktik (./config)"

    elsewhere = tmp_path / "elsewhere"                  # no ./config: the packaged defaults
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = get_config()
    assert search_path() == (DEFAULT_DIR,)
    assert config.sources["measures.toml"] == DEFAULT_DIR / "measures.toml"
    assert config.measure_types["internship"].label.sv == "Praktik"
    assert AgreementBook.load().directory == DEFAULT_DIR / "agreements"


def test_the_defaults_are_the_package_data():
    import etablera.config
    assert DEFAULT_DIR == Path(etablera.config.__file__).resolve().parent
    assert {p.name for p in DEFAULT_DIR.glob("*.toml")} == {n for n in FILES if "/" not in n}


# ---------------------------------------------------------------------------- the snapshot

def test_the_snapshot_is_read_only_when_made_by_the_user_and_writable_by_no_one_else(tmp_path, monkeypatch):
    from etablera.models import snapshot

    monkeypatch.setenv(snapshot.CACHE_ENV, str(tmp_path / "snapshots"))
    built = []

    def build():
        built.append(1)
        return {"value": len(built)}

    assert snapshot.kept("probe", ("a",), build) == {"value": 1}
    assert snapshot.kept("probe", ("a",), build) == {"value": 1} and len(built) == 1     # read back
    assert snapshot.kept("probe", ("b",), build) == {"value": 2}                        # another source
    assert (tmp_path / "snapshots").stat().st_mode & 0o777 == 0o700
    for path in (tmp_path / "snapshots").glob("probe-*.pickle"):
        path.chmod(0o666)                          # anyone could have written it: not read
    assert snapshot.kept("probe", ("a",), build) == {"value": 3}


def test_without_a_writable_cache_each_command_validates(tmp_path, monkeypatch):
    from etablera.models import snapshot

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv(snapshot.CACHE_ENV, str(blocked / "snapshots"))
    assert snapshot.kept("probe", ("a",), lambda: 42) == 42


def test_a_run_sees_the_configuration_it_found_first(tmp_path, monkeypatch):
    """Inside keep_connections (a command's or a worker's run) the search path is looked up
    once; outside, every call follows the working directory and the environment,
    and a new run looks it up again."""
    own = tmp_path / "own"
    copy("measures.toml", own, 'sv = "Praktik"', 'sv = "Praktik (ETABLERA_CONFIG_DIR)"')
    monkeypatch.chdir(tmp_path)
    with keep_connections():
        first = get_config()
        assert first.sources["measures.toml"] == DEFAULT_DIR / "measures.toml"
        monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(own))
        assert get_config() is first
        assert config_dir() == DEFAULT_DIR              # every file of the run: one search path
        with keep_connections():                        # a nested block is part of the run
            assert get_config() is first
    assert get_config().sources["measures.toml"] == own / "measures.toml"
    with keep_connections():
        assert get_config().sources["measures.toml"] == own / "measures.toml"
        monkeypatch.delenv("ETABLERA_CONFIG_DIR")
        assert get_config().sources["measures.toml"] == own / "measures.toml"
    assert get_config() is first
