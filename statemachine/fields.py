"""Checking the data a trigger is given against what the process table says it needs.

`clean_data` turns raw input (strings from the CLI, a form, JSON) into the values the
engine stores, or raises BadInput naming the field, before anything is written. Its
refusals are codes of the catalogue (statemachine/messages.py) with the field's name and
parameters; `how_to_give` is the CLI's word for a field, used by the CLI's hints and by
`case events`, never by a message.
"""

from __future__ import annotations

import re
from datetime import date

from etablera.models.configuration import Config
from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import And, Code, Or, Words
from etablera.statemachine.person import clean_detail
from etablera.statemachine.process import CHOICE_LABELS, Field, Trigger

_MUNICIPALITY = re.compile(r"^\d{4}$")
_OFFICER = re.compile(r"^[\w.@:-]{1,60}$")
MAX_NOTE = 4000


def storable(text: str) -> bool:
    """`text` can be stored and shown: UTF-8 (no lone surrogate, e.g. "\\ud800" in JSON or
    undecodable bytes on a command line) and no NUL (PostgreSQL's text refuses it)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value, field: str):
    """`value` (a string, or a list or mapping of them, as JSON gives) if every string in it
    is `storable`; else BadInput naming `field`, before anything is written or echoed."""
    if isinstance(value, str):
        if not storable(value):
            raise BadInput("text_not_storable", field=field)
    elif isinstance(value, dict):
        for key, member in value.items():
            check_text(str(key), field)
            check_text(member, field)
    elif isinstance(value, (list, tuple)):
        for member in value:
            check_text(member, field)
    return value


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
        raise BadInput("municipality_code_format", field=field)
    if code[:2] not in config.counties:
        raise BadInput("municipality_county_unknown", field=field, county=code[:2])
    if code not in config.municipalities:
        raise BadInput("municipality_unknown", field=field, value=Code(code))
    return code


def clean_data(trigger: Trigger, raw: dict, config: Config) -> dict:
    """Validate `raw` for `trigger`; return the clean data (only the fields that apply)."""
    known = {f.name for f in trigger.fields}
    for key, value in raw.items():
        if not storable(str(key)):      # a key is echoed in the refusal: name the data as a whole
            raise BadInput("text_not_storable", field="data")
        check_text(value, str(key))
    for key in raw:
        if key not in known:
            raise BadInput("unknown_data", field=key, trigger=trigger.name, key=Code(key),
                           takes=[_lower(f) for f in trigger.fields], names=[f.name for f in trigger.fields])
    clean: dict = {}
    # Decide which conditional fields apply from the raw selector values first.
    selectors = {k: str(v).strip() for k, v in raw.items() if isinstance(v, str)}
    missing = []
    for field in trigger.fields:
        value = raw.get(field.name)
        blank = value is None or (isinstance(value, str) and not value.strip()) or value == []
        if not field.applies(selectors):
            if not blank:
                selector = next((f for f in trigger.fields if f.name == field.when[0]), Code(field.when[0]))
                raise BadInput("applies_only_when", field=field.name, label=field, selector=_lower(selector),
                               values=Or(_choice(v) for v in field.when[1]))
            continue
        if blank:
            if field.required:
                missing.append(field)
            continue
        clean[field.name] = _clean_value(field, value, config)
    if missing:
        raise BadInput("missing_data", field=missing[0].name, trigger=trigger.name,
                       needs=And(_lower(f) for f in missing), names=[f.name for f in missing])
    return clean


def _lower(field: Field) -> Words:
    """A field's label inside a sentence: "skäl", "AF case officer" (an acronym stays)."""
    def lower(text: str) -> str:
        return text[:1].lower() + text[1:] if text[1:2].islower() else text
    if isinstance(field, Code):
        return Words(field, field)
    return Words(lower(field.sv), lower(field.en))


def _choice(code: str):
    pair = CHOICE_LABELS.get(code)
    return Words(*pair) if pair else Code(code)


def _clean_value(field: Field, value, config: Config):
    name = field.name
    if field.kind == "choice":
        value = str(value).strip()
        if value not in field.choices:
            raise BadInput("unknown_choice", field=name, choices=list(field.choices))
        return value
    if field.kind == "list":
        items = value if isinstance(value, list) else str(value).split(",")
        members = list(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))
        unknown = [m for m in members if m not in field.choices]
        if unknown:
            raise BadInput("unknown_list_members", field=name, unknown=unknown, choices=list(field.choices))
        lacking = [m for m in field.must_include if m not in members]
        if lacking:
            raise BadInput("list_must_include", field=name, required=And(field.must_include), missing=lacking)
        return members
    if field.kind == "reason":
        value = str(value).strip()
        codes = config.reasons[field.reasons]
        if value not in codes:
            raise BadInput("unknown_reason", field=name, value=Code(value), choices=list(codes))
        return value
    if field.kind == "text":
        value = str(value).strip()
        if len(value) > MAX_NOTE:
            raise BadInput("text_too_long", field=name, max=MAX_NOTE)
        return value
    if field.kind == "municipality":
        return check_municipality(value, config, name)
    if field.kind == "officer":
        value = str(value).strip()
        if not _OFFICER.match(value):
            raise BadInput("officer_id_format", field=name)
        return value
    if field.kind == "fast_track":
        value = str(value).strip()
        if value not in config.fast_tracks:
            raise BadInput("unknown_fast_track", field=name, value=Code(value), choices=list(config.fast_tracks))
        return value
    if field.kind == "track":
        value = str(value).strip()
        if not re.match(r"^[\w.-]{1,60}$", value):
            raise BadInput("track_id_format", field=name)
        return value
    if field.kind == "date":
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise BadInput("not_a_date", field=name) from None
    if field.kind in ("name", "language", "phone", "email"):
        return clean_detail(name, value)          # the person's details
    if field.kind == "flag":
        return bool(value) if not isinstance(value, str) else value.strip().lower() in ("1", "true", "yes", "ja")
    return value
