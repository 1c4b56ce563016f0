"""The audit chain's canonical JSON: orjson writes it now, the standard library wrote every
hash before (cases/audit.py). For every value an event can hold but a float, the two must
spell it byte for byte, or every chain written before would break at `audit verify`; an
event the standard library hashed with a float in exponent form still verifies, and what
orjson refuses is hashed as before."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import orjson
from hypothesis import example, given, settings, strategies as st

from etablera.cases import audit
from etablera.cases.audit import GENESIS, event_hash, hash_holds

STANDARD = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)        # any character but a lone surrogate
SCALARS = st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=20)
AT = datetime(2026, 12, 7, 9, 30, 0, 123456, tzinfo=timezone.utc)


def _event(data, note=None) -> dict:
    return {"case_id": 7, "seq": 2, "at": AT, "recorded_at": AT + timedelta(microseconds=5), "actor": "h0581",
            "trigger": "establish_plan", "from_state": "module1.talk_held", "to_state": "module2.preparing",
            "municipality": "0581", "reason": None, "note": note, "skipped": ["module2"], "data": data}


@settings(max_examples=500, deadline=None)
@given(VALUES)
@example({"b": 1, "a": [True, None, ""], "ä": "\u2028\x7f\x00\x1f\"\\/", "Z": {"y": -2**63, "x": 2**64 - 1}})
def test_orjson_spells_every_value_but_a_float_as_the_standard_library(value):
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() == STANDARD.encode(value)


@settings(max_examples=200, deadline=None)
@given(VALUES, st.none() | TEXT)
def test_an_event_hashed_the_old_way_still_verifies(data, note):
    event = _event(data, note)
    old = audit._standard_hash(GENESIS, audit._body(event))
    assert event_hash(GENESIS, event) == old and hash_holds(GENESIS, event, old)


def test_a_float_in_exponent_form_verifies_either_way_and_a_changed_one_does_not():
    event = _event({"share": 1e16, "small": 1e-05})
    old = audit._standard_hash(GENESIS, audit._body(event))
    new = event_hash(GENESIS, event)
    assert new != old                                # orjson writes 1e16, the standard library 1e+16
    assert hash_holds(GENESIS, event, new) and hash_holds(GENESIS, event, old)
    assert not hash_holds(GENESIS, _event({"share": 1e17, "small": 1e-05}), old)


def test_what_orjson_refuses_is_hashed_as_before():
    for data in ({"big": 2**70}, {"big": -2**64}):
        event = _event(data)
        assert event_hash(GENESIS, event) == audit._standard_hash(GENESIS, audit._body(event))
