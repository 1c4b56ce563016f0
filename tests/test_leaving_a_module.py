"""Leaving a module ends its open measures: no reminder for work nobody will do."""

from __future__ import annotations

from datetime import date, datetime, timezone

from identities import pnr
from etablera.cases import measures, queries, service


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T10:00:00+00:00").astimezone(timezone.utc)


def test_exit_cancels_open_measures_and_says_so(any_engine):
    case_id = service.register(any_engine, person=pnr("19900315", 41), municipality="0180",
                               permit_date=date(2025, 1, 10), actor="h1", at=_at("2025-02-01"))
    service.advance(any_engine, case_id, "hold_talk", {}, actor="h1", at=_at("2025-02-10"))
    service.advance(any_engine, case_id, "establish_plan", {"plan": "handlingsplan"}, actor="h1",
                    at=_at("2025-02-20"))
    done = measures.add_measure(any_engine, case_id, "sfi", actor="h1", at=_at("2025-02-21"))
    open_one = measures.add_measure(any_engine, case_id, "internship", actor="h1", at=_at("2025-02-22"))
    measures.change_measure(any_engine, done, "start", actor="h1", at=_at("2025-02-23"))
    measures.change_measure(any_engine, done, "complete", actor="h1", at=_at("2025-05-01"))
    event = service.advance(any_engine, case_id, "exit_direct",
                            {"outcome": "work", "reason": "job_offer", "note": "Anställd"}, actor="h1",
                            at=_at("2025-05-02"))
    assert event["data"]["cancelled_measures"] == [open_one]
    doc = queries.show_case(any_engine, case_id, actor="h1")
    states = {m["id"]: (m["state"], m["reason"]) for m in doc["measures"]}
    assert states == {done: ("completed", None), open_one: ("cancelled", "case_left_module")}
