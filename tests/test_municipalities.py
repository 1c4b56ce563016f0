"""Sweden's 290 municipalities ship as data, and every place a code is entered checks it:
a code with a known county but no municipality (0199) is refused, naming the field."""

from __future__ import annotations


import pytest

from cli_kit import counts, etablera
from identities import pnr
from etablera.access import accounts
from etablera.models.configuration import get_config
from etablera.reminders import officers
from etablera.statemachine.errors import BadInput


def test_the_official_list_has_all_290_municipalities_each_in_a_county():
    config = get_config()
    assert len(config.municipalities) == 290
    assert all(len(code) == 4 and code.isdigit() and code[:2] in config.counties for code in config.municipalities)
    assert len(set(config.municipalities.values())) == 290          # no name twice
    assert config.municipalities["0581"] == "Norrköping" and config.municipalities["2584"] == "Kiruna"
    assert config.municipalities["0330"] == "Knivsta" and config.municipalities["0140"] == "Nykvarn"


@pytest.mark.parametrize("lang, words", [("sv", "ingen kommun har koden 0199"), ("en", "no municipality has code 0199")])
def test_registration_refuses_a_code_no_municipality_has(cli_env, db_url, lang, words):
    result = etablera("case", "register", "--person", pnr("19900101", 17), "--municipality", "0199",
                      "--permit-date", "2026-01-02", "--lang", lang, "--json")
    assert result.code == 2, result.both
    error = result.doc["error"]
    assert error["field"] == "municipality" and words in error["message"]
    assert counts(db_url)["cases"] == 0


def test_a_transfer_to_a_code_no_municipality_has_is_refused(cli_env, db_url):
    created = etablera("case", "register", "--person", pnr("19900101", 17), "--municipality", "0581",
                       "--permit-date", "2026-01-02", "--json")
    case_id = created.doc["id"]
    result = etablera("case", "advance", str(case_id), "transfer", "--set", "municipality=0199", "--json")
    assert result.code == 2 and result.doc["error"]["field"] == "municipality"


def test_users_officers_and_list_filters_check_the_code(engine):
    with pytest.raises(BadInput) as refused:
        accounts.add_user(engine, "k1", name="K", role="officer", organisation="kommun", municipality="0199",
                          password="x" * 12)
    assert refused.value.field == "municipality"
    with pytest.raises(BadInput) as refused:
        officers.add_officer(engine, "k2", name="K", org="kommun", municipality="0199")
    assert refused.value.field == "municipality"
    result = etablera("case", "list", "--municipality", "0199")
    assert result.code == 2
