"""Messages as data: every refusal has a code, the field at fault and its parameters, and
its words in Swedish and English in one catalogue (statemachine/messages.py)."""

from __future__ import annotations

import pytest

from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.messages import CATALOGUE, And, Percent, format_percent, placeholders, render


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_has_swedish_and_english_with_the_same_parameters(code):
    sv, en = CATALOGUE[code]
    assert sv.strip() and en.strip(), code
    assert placeholders(sv) == placeholders(en), code
    assert "--" not in sv and "--" not in en, f"{code}: a template names no CLI flag"


def test_parameters_are_localized():
    params = {"trigger": "decide", "state": "module1.registered", "permitted": ["hold_talk", "close"]}
    assert render("trigger_not_permitted", params, "sv") == \
        "Gemensam bedömning: beslut går inte i läget Modul 1, inskriven; det som går nu: Håll etableringssamtal, Avsluta"
    assert "Module 1, registered" in render("trigger_not_permitted", params, "en")
    assert render("list_must_include", {"required": And(["kommun", "af"]), "missing": ["af"]}, "sv") == \
        "måste omfatta kommun och af (saknas: af)"
    assert render("trigger_not_permitted", {**params, "permitted": []}, "en").endswith("permitted now: nothing")


def test_numbers_and_percentages_by_babel():
    assert format_percent(0.322, "sv") == "32,2\u00a0%"
    assert format_percent(0.322, "en") == "32.2%"
    assert render("text_too_long", {"max": 4000}, "sv") == "högst 4000 tecken"


def test_the_old_form_still_works():
    exc = BadInput("permit_date", "is odd", sv="är konstig")
    assert (exc.code, exc.field, str(exc), exc.text("sv")) == ("legacy", "permit_date", "permit_date: is odd", "är konstig")
    plain = NotPermitted("no can do")
    assert (plain.code, plain.field, str(plain), plain.text("sv")) == ("legacy", None, "no can do", "no can do")


def test_the_new_form():
    exc = BadInput("not_a_date", field="permit_date")
    assert str(exc) == "permit_date: not a date (YYYY-MM-DD)"
    assert exc.as_dict("sv") == {"code": "not_a_date", "field": "permit_date",
                                 "message": "inte ett datum (ÅÅÅÅ-MM-DD)", "exit_code": 2}
    assert Percent(0.5) == 0.5
