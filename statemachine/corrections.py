"""Correcting a mistaken step (rättelse), as pure functions: what a step records of the case
as it was, which step may be corrected, and what the correction puts back.

Every step's audit event carries the case columns the step changed as they were before
(`data["before"]`, JSON) and the measures it touched (`data["measures_before"]`: id,
state, due, ended_at and reason before the step; `data["measures"]`: those it created).
A correction (cases/corrections.py) appends an event that puts exactly those values
back; history is never edited. Only a case's latest uncorrected step may be corrected,
registration never, and a step recorded before steps carried `before` cannot be.
"""

from __future__ import annotations

from datetime import date, datetime

from etablera.statemachine.errors import NotPermitted
from etablera.statemachine.process import CASEWORK, LEFT_MODULE, OPEN_MEASURE_STATES, REGISTER, TRIGGER

# The case columns that hold a date or an instant; every other one is stored as it is.
DATE_COLUMNS = frozenset({"stage_started", "due", "establishment_due", "permit_date", "reception_date",
                          "transferred_at"})
INSTANT_COLUMNS = frozenset({"state_since", "paused_at"})
CORRECTED = "corrected"        # the cancel reason of a measure the corrected step had created


def as_json(value):
    """A case or measure column's value as the audit event's JSON keeps it."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def before_values(case, changes: dict) -> dict:
    """The columns `changes` will change, as they are on `case` now (JSON)."""
    return {column: as_json(case[column]) for column in changes}


def measures_before(rows, changed: dict) -> list[dict]:
    """The measures a step changes (`changed`: their new values by id), as they were."""
    return [{"id": m["id"], "state": m["state"], "due": as_json(m["due"]), "ended_at": as_json(m.get("ended_at")),
             "reason": m.get("reason")} for m in rows if m["id"] in changed]


def restored(before: dict) -> dict:
    """The case columns a correction puts back, typed as the table holds them."""
    out = {}
    for column, value in before.items():
        if value is not None and column in DATE_COLUMNS:
            value = date.fromisoformat(value)
        elif value is not None and column in INSTANT_COLUMNS:
            value = datetime.fromisoformat(value)
        out[column] = value
    return out


def check_correctable(step, later_steps: list, corrected: set[int]) -> None:
    """Refuse (NotPermitted, field `seq`) unless `step` (an audit event) is the case's
    latest uncorrected step and recorded what it changed. `later_steps`: the case's step
    events after it; `corrected`: the seqs already corrected."""
    seq = step["seq"]
    if step["trigger"] == REGISTER.name:
        raise NotPermitted("correction_of_registration", field="seq", seq=seq)
    if step["trigger"] not in TRIGGER:
        raise NotPermitted("correction_not_a_step", field="seq", seq=seq, trigger=step["trigger"])
    if seq in corrected:
        raise NotPermitted("correction_already_done", field="seq", seq=seq)
    later = [e for e in later_steps if e["seq"] not in corrected]
    if later:
        raise NotPermitted("correction_not_latest", field="seq", seq=seq, later=later[-1]["seq"],
                           trigger=later[-1]["trigger"])
    if "before" not in (step["data"] or {}):
        raise NotPermitted("correction_before_unknown", field="seq", seq=seq)


def measure_restorations(step_data: dict, measures: dict[int, dict], at: datetime) -> tuple[dict, list, list]:
    """What a correction does to the measures the step touched (`measures`: their rows by
    id): the measures it created and that are still open are cancelled (reason
    `corrected`); those it cancelled because the case left their module are reopened, and
    due dates it moved are moved back. Returns (new values by id, cancelled ids, reopened
    ids)."""
    values: dict[int, dict] = {}
    cancelled, reopened = [], []
    for measure_id in step_data.get("measures", ()):
        row = measures.get(measure_id)
        if row is not None and row["state"] in OPEN_MEASURE_STATES:
            values[measure_id] = {"state": "cancelled", "reason": CORRECTED, "ended_at": at,
                                  "version": row["version"] + 1}
            cancelled.append(measure_id)
    ended_by_step = set(step_data.get("cancelled_measures", ()))
    for before in step_data.get("measures_before", ()):
        row = measures.get(before["id"])
        if row is None:
            continue
        change = {"due": date.fromisoformat(before["due"])}
        if before["id"] in ended_by_step and row["state"] == "cancelled" and row["reason"] == LEFT_MODULE:
            ended = before.get("ended_at")
            change.update(state=before["state"], reason=before.get("reason"),
                          ended_at=datetime.fromisoformat(ended) if ended else None)
            reopened.append(before["id"])
        if any(row[k] != v for k, v in change.items()):
            values[before["id"]] = {**change, "version": row["version"] + 1}
    return values, cancelled, reopened


def correction_event(case, step, changes: dict, at: datetime, actor: str, reason: str, note: str,
                     cancelled: list, reopened: list) -> dict:
    """The audit event of the correction: from the case's state now to the restored one."""
    data = {"corrects": step["seq"], "step": step["trigger"], "restored": step["data"]["before"]}
    if cancelled:
        data["cancelled_measures"] = cancelled
    if reopened:
        data["reopened_measures"] = reopened
    return {"at": at, "actor": actor, "trigger": CASEWORK.correct, "from_state": case["state"],
            "to_state": changes.get("state", case["state"]),
            "municipality": changes.get("municipality", case["municipality"]),
            "reason": reason, "note": note, "skipped": [], "data": data}


__all__ = ["CORRECTED", "as_json", "before_values", "check_correctable", "correction_event", "measure_restorations",
           "measures_before", "restored"]
