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


# --- every refusal the process table's fields can give ---------------------------------

def _bad_values(field, config) -> list:
    """Values of the wrong shape for `field`, one per refusal its kind can give."""
    from etablera.statemachine.fields import MAX_NOTE
    kind = field.kind
    if kind == "choice":
        return ["nonsense"]
    if kind == "list":
        bad = ["nonsense"]
        if field.must_include:
            bad.append(",".join(c for c in field.choices if c not in field.must_include))
        return bad
    if kind in ("reason", "fast_track"):
        return ["nonsense"]
    if kind == "text":
        return ["x" * (MAX_NOTE + 1), "a\x00b", "a\ud800"]          # too long; NUL, a lone surrogate
    if kind == "municipality":
        return ["12", "9912", "0199"]          # format, county, no municipality
    if kind in ("officer", "track"):
        return ["not an id!"]
    if kind == "date":
        return ["2025-02-30"]
    return []                          # person (checked by the use case), flag (anything is a flag)


def _refusals():
    """(trigger, field, raw) for every refusal clean_data can give for the table's fields."""
    from etablera.statemachine.process import TRIGGERS
    from etablera.models.configuration import get_config
    config = get_config()
    out = []
    for trigger in TRIGGERS:
        out.append((trigger.name, "unknown key", {"no_such_field": "x"}))
        out.append((trigger.name, "nothing given", {}))
        for field in trigger.fields:
            selector = {field.when[0]: field.when[1][0]} if field.when else {}
            for value in _bad_values(field, config):
                out.append((trigger.name, field.name, {**selector, field.name: value}))
            if field.when:
                out.append((trigger.name, f"{field.name} when it does not apply", {field.name: "x"}))
    return out


def _ids(cases):
    return [f"{t}/{f}/{i}" for i, (t, f, _) in enumerate(cases)]


REFUSALS = _refusals()


@pytest.mark.parametrize("trigger,about,raw", REFUSALS, ids=_ids(REFUSALS))
def test_every_refusal_of_the_fields_is_in_the_catalogue(trigger, about, raw):
    from etablera.models.configuration import get_config
    from etablera.statemachine.fields import clean_data
    from etablera.statemachine.process import TRIGGER
    spec = TRIGGER[trigger]
    if about == "nothing given" and not any(f.required and not f.when for f in spec.fields):
        assert clean_data(spec, raw, get_config()) == {}
        return
    with pytest.raises(BadInput) as caught:
        clean_data(spec, raw, get_config())
    exc = caught.value
    assert exc.code in CATALOGUE, f"{exc.code} ({exc!r}) is not in the catalogue"
    assert exc.field, "the refusal names the field"
    if about not in ("unknown key", "nothing given"):
        assert exc.field == about.split()[0]
    sv, en = exc.text("sv"), exc.text("en")
    assert sv and en and sv != en
    assert "--" not in sv and "--" not in en, "no CLI flag in the words"
    assert "{" not in sv and "{" not in en, "every parameter given"


def test_the_walk_reaches_every_refusal_of_clean_data():
    """The codes the walk above produces are all the codes fields.py raises."""
    import re
    from pathlib import Path
    from etablera.models.configuration import get_config
    from etablera.statemachine import fields
    from etablera.statemachine.process import TRIGGER
    raised = set(re.findall(r'BadInput\("(\w+)"', Path(fields.__file__).read_text()))
    seen = set()
    for trigger, _about, raw in REFUSALS:
        try:
            fields.clean_data(TRIGGER[trigger], raw, get_config())
        except BadInput as exc:
            seen.add(exc.code)
    assert raised and raised <= seen, raised - seen
    assert "legacy" not in seen


# --- the CLI: the language of --lang, the flag as a hint, the JSON error shape ----------

def test_the_cli_refuses_in_the_language_of_lang_with_a_hint(cli_env, db_url):
    import json
    from cli_kit import etablera, register
    from identities import pnr
    case = register(pnr("19900101", 271))["id"]
    argv = ["case", "advance", case, "skip_module2", "--reason", "job_offer"]
    swedish = etablera(*argv)
    assert swedish.code == 3 or swedish.code == 2
    english = etablera(*argv, "--lang", "en")
    assert english.code == swedish.code
    (sv_line,) = swedish.err.splitlines()
    (en_line,) = english.err.splitlines()
    assert sv_line.startswith("error: ") and en_line.startswith("error: ")
    assert "går inte" in sv_line and "not permitted" not in sv_line
    assert "is not permitted" in en_line and "går inte" not in en_line
    assert "hold_talk" in sv_line and "hold_talk" in en_line          # the CLI's hint: the triggers by name
    doc = json.loads(etablera(*argv, "--json").out)
    assert doc == {"error": {"code": "trigger_not_permitted", "field": "trigger", "exit_code": 3,
                             "message": sv_line.removeprefix("error: trigger: ").rsplit(" (", 1)[0]}}


def test_the_cli_names_the_flag_for_the_field_and_the_words_do_not(cli_env, db_url, monkeypatch):
    import json
    from cli_kit import advance, etablera, register
    from identities import pnr
    case = register(pnr("19900101", 272))["id"]
    advance(case, "hold_talk", "--at", "2025-03-04T10:00")
    argv = ["case", "advance", case, "skip_module2", "--reason", "job_offer"]
    swedish, english = etablera(*argv), etablera(*argv, "--lang", "en")
    assert swedish.code == english.code == 2
    assert swedish.err.startswith("error: note: ") and english.err.startswith("error: note: ")
    assert "kräver motivering (ange med --note TEXT)" in swedish.err
    assert "needs justification (give it with --note TEXT)" in english.err
    doc = json.loads(etablera(*argv, "--json").out)["error"]
    assert (doc["code"], doc["field"], doc["exit_code"]) == ("missing_data", "note", 2)
    assert "--" not in doc["message"] and "kräver motivering" in doc["message"]
    assert json.loads(etablera(*argv, "--json", "--lang", "en").out)["error"]["message"] == \
        "Skip module 2 needs justification"
    monkeypatch.setenv("ETABLERA_LANG", "en")
    assert "needs justification" in etablera(*argv).err
    unknown = etablera("case", "list", "--bogus")
    assert unknown.code == 2 and unknown.err.strip() == "error: no such option --bogus"


def test_every_code_raised_anywhere_is_in_the_catalogue_and_no_refusal_is_in_the_old_form():
    """A scan of the package's source: each `SomeError("code", ...)` names a code of the
    catalogue, and no refusal is still written as English text (the old `legacy` form)."""
    import re
    from pathlib import Path
    import etablera
    root = Path(etablera.__file__).parent
    errors = r"(?:BadInput|NotFound|NotPermitted|Forbidden|ConcurrentChange|EtableraError|FieldError|NotLoggedIn)"
    unknown, legacy = [], []
    for path in root.rglob("*.py"):
        if {".venv", "tests"} & set(path.relative_to(root).parts) or path.name == "errors.py":
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(errors + r'\(\s*(f?)"([^"]*)"\s*([,)])', text):
            fstring, first, after = match.groups()
            where = f"{path.relative_to(root)}:{text.count(chr(10), 0, match.start()) + 1}"
            if fstring or not re.fullmatch(r"[a-z][a-z0-9_]*", first):
                legacy.append(where)
            elif first not in CATALOGUE:
                unknown.append(f"{where}: {first}")
            elif after == "," and re.match(r'\s*f?"', text[match.end():]):
                legacy.append(where)                           # (field, "english text")
    assert not unknown, unknown
    assert not legacy, legacy
