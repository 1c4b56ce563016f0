"""Recomputing running cases' due dates after a change of the time frames.

A configuration change never moves a running case by itself: a stage's due date is fixed
when the case enters it. `recompute` shows (dry run) and then applies what the current
configuration would give, each changed case through `journal.append`, so the change is
on the case's audit trail with the old and the new date.

The new date is computed exactly as when the case entered the stage: the stage's frame
(by target group; in module 3 the track's estimated length) from the day the stage began,
moved by every pause since (the `paused_days` the resume events recorded). The
establishment date likewise: two years (the configured frame) from the permit or, when
later, the reception date, plus every pause since registration.

Measures are not recomputed: an officer may have set a measure's due date by hand, and
the trail does not say which ones, so moving them would overwrite a decision silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etablera.models import AuditEvent, Case
from etablera.models.agreements import AgreementBook
from etablera.models.configuration import Config, config_dir, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import utcnow
from etablera.cases.journal import append
from etablera.statemachine.process import ON_HOLD, RESUME, STATE, TRACK_STAGE
from etablera.statemachine.decide import stage_due

CASES = Case
EVENTS = AuditEvent
CHUNK = 1000


@dataclass
class Recomputed:
    dry_run: bool
    examined: int = 0
    changes: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "examined": self.examined, "changed": len(self.changes),
                "changes": self.changes}


def expected_dues(case, pauses: list[tuple[int, int]], config: Config, book: AgreementBook) -> dict:
    """The due dates the current configuration gives this case (pure). `pauses` are
    (seq, paused_days) of its resume events."""
    state = case["paused_from"] if case["state"] == ON_HOLD else case["state"]
    stage = STATE[state].stage if state in STATE else None
    out: dict[str, date | None] = {}
    if stage is not None:
        track = None
        if stage == TRACK_STAGE and case["track"]:
            agreement = book.agreement_for(case["municipality"], case["stage_started"])
            track = agreement.track(case["track"]) if agreement else None
        due = stage_due(config, stage, case["target_group"], case["stage_started"], track)
        if due is not None:
            due += timedelta(days=sum(days for seq, days in pauses if seq > case["stage_seq"]))
        out["due"] = due
    anchor = max(case["permit_date"], case["reception_date"] or case["permit_date"])
    out["establishment_due"] = (config.establishment_frame.due(anchor)
                                + timedelta(days=sum(days for _, days in pauses)))
    return out


def recompute(engine: Engine, *, actor: str, dry_run: bool = True, config: Config | None = None,
              book: AgreementBook | None = None, at: datetime | None = None,
              progress: Callable[[int, int], None] | None = None) -> Recomputed:
    """Recompute every running case's due dates; `progress(done, total)` is called after
    each chunk of cases (the CLI's progress bar)."""
    config = config or get_config()
    book = book or AgreementBook.load(config_dir() / "agreements")
    result = Recomputed(dry_run=dry_run)
    with transaction(engine, write=False) as conn:
        ids = [row.id for row in conn.execute(select(CASES.c.id).where(CASES.c.active).order_by(CASES.c.id))]
        pauses: dict[int, list[tuple[int, int]]] = {}
        for row in conn.execute(select(EVENTS.c.case_id, EVENTS.c.seq, EVENTS.c.data)
                                .where(EVENTS.c.trigger == RESUME)):
            days = (row.data or {}).get("paused_days")
            if days:
                pauses.setdefault(row.case_id, []).append((row.seq, int(days)))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        with transaction(engine, write=not dry_run) as conn:
            for case in conn.execute(select(CASES).where(CASES.c.id.in_(chunk)).order_by(CASES.c.id)).mappings():
                result.examined += 1
                wanted = expected_dues(case, pauses.get(case["id"], []), config, book)
                changed = {k: v for k, v in wanted.items() if v != case[k]}
                if not changed:
                    continue
                result.changes.append({"case": case["id"], "state": case["state"],
                                       **{k: {"from": _iso(case[k]), "to": _iso(v)} for k, v in changed.items()}})
                if not dry_run:
                    when = max(at or utcnow(), case["last_event_at"])
                    append(conn, case, changed, _event(case, changed, when, actor))
        if progress is not None:
            progress(len(chunk), len(ids))
    return result


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _event(case, changed: dict, at: datetime, actor: str) -> dict:
    return {"at": at, "actor": actor, "trigger": "recompute_due", "from_state": case["state"],
            "to_state": case["state"], "municipality": case["municipality"], "reason": None,
            "note": "due dates recomputed from the current time frames",
            "skipped": [], "data": {k: {"from": _iso(case[k]), "to": _iso(v)} for k, v in changed.items()}}
