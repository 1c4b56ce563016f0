"""Checking the data a trigger is given against what the process table says it needs.

`clean_data` turns raw input (strings from the CLI, a form, JSON) into the values the
engine stores, or raises BadInput naming the field, before anything is written.
"""

from __future__ import annotations

import re
from datetime import date

from etablera.models.configuration import Config
from etablera.statemachine.errors import BadInput
from etablera.statemachine.process import Field, Trigger

_MUNICIPALITY = re.compile(r"^\d{4}$")
_OFFICER = re.compile(r"^[\w.@:-]{1,60}$")
MAX_NOTE = 4000


def how_to_give(field: Field) -> str:
    if field.source == "reason":
        return "--reason CODE"
    if field.source == "note":
        return "--note TEXT"
    return f"--set {field.name}=VALUE"


def describe(field: Field, config: Config, lang: str = "en") -> dict:
    """A field as `case events` shows it: what it is, how to give it, what it accepts."""
    label = field.en if lang == "en" else field.sv
    doc = {"name": field.name, "label": label, "kind": field.kind, "give_as": how_to_give(field),
           "required": field.required}
    if field.when:
        doc["required_when"] = {field.when[0]: list(field.when[1])}
    if field.choices:
        doc["choices"] = list(field.choices)
    if field.must_include:
        doc["must_include"] = list(field.must_include)
    if field.reasons:
        doc["choices"] = {code: label(lang) for code, label in config.reasons[field.reasons].items()}
    if field.kind == "fast_track":
        doc["choices"] = {code: t.label(lang) for code, t in config.fast_tracks.items()}
    return doc


def check_municipality(code: str, config: Config, field: str = "municipality") -> str:
    code = str(code).strip()
    if not _MUNICIPALITY.match(code):
        raise BadInput(field, "a municipality code is four digits, e.g. 0180",
                       sv="en kommunkod har fyra siffror, till exempel 0180")
    if code[:2] not in config.counties:
        raise BadInput(field, f"no county (län) has code {code[:2]}: the first two digits of a municipality "
                              "code are its county",
                       sv=f"inget län har koden {code[:2]}: kommunkodens två första siffror är länets")
    return code


def clean_data(trigger: Trigger, raw: dict, config: Config) -> dict:
    """Validate `raw` for `trigger`; return the clean data (only the fields that apply)."""
    known = {f.name for f in trigger.fields}
    for key in raw:
        if key not in known:
            takes = ", ".join(sorted(known)) or "no data"
            raise BadInput(key, f"{trigger.name} does not take {key!r}; it takes: {takes}",
                           sv=f"{trigger.sv} tar inte {key!r}")
    clean: dict = {}
    # Decide which conditional fields apply from the raw selector values first.
    selectors = {k: str(v).strip() for k, v in raw.items() if isinstance(v, str)}
    missing = []
    for field in trigger.fields:
        value = raw.get(field.name)
        blank = value is None or (isinstance(value, str) and not value.strip()) or value == []
        if not field.applies(selectors):
            if not blank:
                raise BadInput(field.name, f"{field.name} only applies when "
                                           f"{field.when[0]} is {' or '.join(field.when[1])}",
                               sv=f"{field.sv} gäller bara när {_label(trigger, field.when[0])} är "
                                  f"{' eller '.join(field.when[1])}")
            continue
        if blank:
            if field.required:
                missing.append(field)
            continue
        clean[field.name] = _clean_value(field, value, config)
    if missing:
        needs = " and ".join(f"{f.en.lower()} ({how_to_give(f)})" for f in missing)
        raise BadInput(missing[0].name, f"{trigger.name} needs {needs}",
                       sv=f"{trigger.sv} kräver {' och '.join(f.sv.lower() for f in missing)}")
    return clean


def _label(trigger: Trigger, name: str) -> str:
    return next((f.sv for f in trigger.fields if f.name == name), name)


def _clean_value(field: Field, value, config: Config):
    name = field.name
    if field.kind == "choice":
        value = str(value).strip()
        if value not in field.choices:
            raise BadInput(name, f"must be one of: {', '.join(field.choices)}",
                           sv=f"välj ett av: {', '.join(field.choices)}")
        return value
    if field.kind == "list":
        items = value if isinstance(value, list) else str(value).split(",")
        members = list(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))
        unknown = [m for m in members if m not in field.choices]
        if unknown:
            raise BadInput(name, f"unknown {', '.join(unknown)}; choose from: {', '.join(field.choices)}",
                           sv=f"okänt: {', '.join(unknown)}; välj bland: {', '.join(field.choices)}")
        lacking = [m for m in field.must_include if m not in members]
        if lacking:
            raise BadInput(name, f"must include {' and '.join(field.must_include)} "
                                 f"(missing: {', '.join(lacking)})",
                           sv=f"måste omfatta {' och '.join(field.must_include)} (saknas: {', '.join(lacking)})")
        return members
    if field.kind == "reason":
        value = str(value).strip()
        codes = config.reasons[field.reasons]
        if value not in codes:
            raise BadInput(name, f"unknown {field.reasons} reason {value!r}; choose from: {', '.join(codes)}",
                           sv=f"okänt skäl {value!r}; välj bland: {', '.join(codes)}")
        return value
    if field.kind == "text":
        value = str(value).strip()
        if len(value) > MAX_NOTE:
            raise BadInput(name, f"at most {MAX_NOTE} characters", sv=f"högst {MAX_NOTE} tecken")
        return value
    if field.kind == "municipality":
        return check_municipality(value, config, name)
    if field.kind == "officer":
        value = str(value).strip()
        if not _OFFICER.match(value):
            raise BadInput(name, "an officer id is 1–60 letters, digits or . _ @ : -",
                           sv="en handläggares id är 1–60 bokstäver, siffror eller . _ @ : -")
        return value
    if field.kind == "fast_track":
        value = str(value).strip()
        if value not in config.fast_tracks:
            raise BadInput(name, f"unknown national fast track {value!r}; choose from: "
                                 f"{', '.join(config.fast_tracks)}", sv=f"okänt nationellt snabbspår {value!r}")
        return value
    if field.kind == "track":
        value = str(value).strip()
        if not re.match(r"^[\w.-]{1,60}$", value):
            raise BadInput(name, "a track id is 1–60 letters, digits or . _ -",
                           sv="ett jobbspårs id är 1–60 bokstäver, siffror eller . _ -")
        return value
    if field.kind == "date":
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise BadInput(name, "not a date (YYYY-MM-DD)", sv="inte ett datum (ÅÅÅÅ-MM-DD)") from None
    if field.kind == "flag":
        return bool(value) if not isinstance(value, str) else value.strip().lower() in ("1", "true", "yes", "ja")
    return value
