"""Leaving a module ends its open measures: no reminder for work nobody will do."""

from __future__ import annotations

from datetime import date

from identities import pnr
import kit
from kit import add_measure, advance, change_measure, register


def test_exit_cancels_open_measures_and_says_so(any_engine):
    case_id = register(any_engine, pnr("19900315", 41), "0180", date(2025, 1, 10), "2025-02-01", actor="h1")
    advance(any_engine, case_id, "hold_talk", "2025-02-10", actor="h1")
    advance(any_engine, case_id, "establish_plan", "2025-02-20", actor="h1", plan="handlingsplan")
    done = add_measure(any_engine, case_id, "sfi", "2025-02-21", actor="h1")
    open_one = add_measure(any_engine, case_id, "internship", "2025-02-22", actor="h1")
    change_measure(any_engine, done, "start", "2025-02-23", actor="h1")
    change_measure(any_engine, done, "complete", "2025-05-01", actor="h1")
    event = advance(any_engine, case_id, "exit_direct", "2025-05-02", actor="h1", outcome="work", reason="job_offer",
                    note="Anställd")
    assert event["data"]["cancelled_measures"] == [open_one]
    doc = kit.show_case(any_engine, case_id, actor="h1")
    states = {m["id"]: (m["state"], m["reason"]) for m in doc["measures"]}
    assert states == {done: ("completed", None), open_one: ("cancelled", "case_left_module")}
