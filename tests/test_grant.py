"""The state grant table (statsbidrag): boundaries, validation, CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from etablera.interfaces.cli.agreements import grant as grant_cli
from etablera.models.configuration import DEFAULT_DIR, ConfigError
from etablera.models.config_files import shown
from etablera.models.grant import clear_cache, grant_source, max_grant, parse_bands


@pytest.fixture(autouse=True)
def shipped_config(monkeypatch):
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(DEFAULT_DIR))
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("received, amount", [
    (0, 150_000), (99, 150_000), (100, 200_000), (299, 200_000), (300, 300_000),
    (499, 300_000), (500, 350_000), (1000, 350_000), (1001, 400_000), (25_000, 400_000),
])
def test_grant_boundaries(received, amount):
    assert max_grant(received) == amount


@pytest.mark.parametrize("bad", [-1, -1000])
def test_negative_received_is_refused(bad):
    with pytest.raises(ValueError, match="received"):
        max_grant(bad)


def test_non_integer_received_is_refused():
    with pytest.raises(ValueError, match="received"):
        max_grant(1.5)


def test_bands_must_be_contiguous():
    with pytest.raises(ConfigError, match=r"bands\[1\]\.min: is 101, expected 100"):
        parse_bands([{"min": 0, "max": 99, "amount": 1}, {"min": 101, "amount": 2}])
    with pytest.raises(ConfigError, match=r"bands\[0\]\.min: is 1, expected 0"):
        parse_bands([{"min": 1, "amount": 1}])
    with pytest.raises(ConfigError, match="last band must be open-ended"):
        parse_bands([{"min": 0, "max": 99, "amount": 1}])
    with pytest.raises(ConfigError, match="only the last band may be open-ended"):
        parse_bands([{"min": 0, "amount": 1}, {"min": 0, "amount": 2}])
    with pytest.raises(ConfigError, match=r"bands\[0\]\.amount"):
        parse_bands([{"min": 0, "amount": "many"}])


def test_bad_band_names_file_and_key_path(tmp_path, monkeypatch, capsys):
    """A municipality's own grant.toml is validated; the error is one line: file, key path, problem."""
    (tmp_path / "grant.toml").write_text("[[bands]]\nmin = 0\nmax = 99\namount = 1\n[[bands]]\nmin = 100\n"
                                         "amount = -5\n", encoding="utf-8")
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as exc:
        max_grant(10)
    assert str(exc.value) == (f"{shown(tmp_path / 'grant.toml')}: bands[1].amount: "
                              "input should be greater than or equal to 0, not int -5")
    code, _, err = etablera(capsys, "grant", "--received", "10")
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(exc.value) in err


def test_grant_file_is_looked_up(tmp_path, monkeypatch):
    """A configuration directory without grant.toml takes the packaged one; with one, its own."""
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    assert max_grant(10) == 150_000 and grant_source() == DEFAULT_DIR / "grant.toml"
    (tmp_path / "grant.toml").write_text("[[bands]]\nmin = 0\namount = 7\n", encoding="utf-8")
    clear_cache()
    assert max_grant(10) == 7 and grant_source() == tmp_path / "grant.toml"


def test_cli_grant(capsys):
    runner = CliRunner()
    result = runner.invoke(grant_cli, ["--received", "1000"])
    assert result.exit_code == 0
    assert "350 000 kr" in result.output
    result = runner.invoke(grant_cli, ["--received", "1001", "--lang", "en"])
    assert "SEK 400,000" in result.output
    result = runner.invoke(grant_cli, ["--received", "42", "--json"])
    assert json.loads(result.stdout) == {"received": 42, "max_grant": 150000, "currency": "SEK",
                                         "band": {"min": 0, "max": 99}}
    code, out, err = etablera(capsys, "grant", "--received", "-5", "--json")
    assert code == 2 and json.loads(out)["error"]["field"] == "received" and "received" in err


def etablera(capsys, *args: str) -> tuple[int, str, str]:
    """The `etablera` command in this process, as a user runs it (its refusals mapped to exit
    codes and the one error shape by `main`): (exit code, stdout, stderr)."""
    from etablera.interfaces.cli.main import main
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out, err = capsys.readouterr()
    return code, out, err
