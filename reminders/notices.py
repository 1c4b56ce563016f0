"""Notices (meddelanden) through the reminder channel: something happened to a case that a
municipality's coordinators must act on, with no due date of its own.

A route of the process table that `notifies` (statemachine/process.py, Effects.notifies:
a transfer) records one notice in the reminder outbox in the step's own transaction, so
the notice exists exactly when the step does. It is a `Reminder` row like the ladder's
(kind = the notice's kind, target = the case, visit = the seq of the event, step
`notice`): the unique key records it once, `outbox.deliver` addresses it to the
coordinators of the case's municipality and delivers it once, retrying a failed send. Its
text names the case id and the municipality and links to the case, never the person.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from etablera.models import Reminder
from etablera.models.timestamps import local_date, utcnow
from etablera.reminders.links import case_line

REMINDERS = Reminder
STEP = "notice"


@dataclass(frozen=True)
class Notice:
    to: tuple[str, ...]                # recipients as the ladder names them (outbox.recipients)
    what: tuple[str, str]              # what happened (Swedish, English)
    todo: tuple[str, str]              # what the recipient is to do


NOTICES = {
    "transferred_in": Notice(("coordinator",), ("Flyttat in: ärendet saknar ansvarig handläggare",
                                          "Transferred in: the case has no responsible officer"),
                       ("Tilldela en ansvarig handläggare (etablera case assign).",
                        "Assign a responsible officer (etablera case assign).")),
}


def record_notice(conn: Connection, kind: str, event: dict) -> int:
    """Record the notice `kind` of the stored audit `event` (inside the step's
    transaction), for the municipality the case is in after the event. Returns 1 if
    recorded, 0 if it already was."""
    if kind not in NOTICES:
        raise ValueError(f"no notice of kind {kind!r}")
    day = local_date(event["at"])
    row = {"kind": kind, "target_id": event["case_id"], "visit": event["seq"], "step": STEP,
           "case_id": event["case_id"], "measure_id": None, "municipality": event["municipality"], "stage": kind,
           "due": day, "detected_on": day, "recorded_at": utcnow(), "status": "pending", "addressed": False,
           "attempts": 0}
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(REMINDERS)
    stmt = insert.values(**row).on_conflict_do_nothing(index_elements=["kind", "target_id", "visit", "step"])
    return max(conn.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount, 0)


def notice_recipients(kind: str) -> tuple[str, ...] | None:
    """Who is told of a notice of `kind` (None: not a notice, the ladder says)."""
    found = NOTICES.get(kind)
    return found.to if found else None


def notice_text(row, lang: str, base_url: str | None = None) -> tuple[str, str]:
    """Subject and body of a notice: what happened to which case, where and when, and the
    way to the case (reminders/links.py). Nothing about the person."""
    en = lang == "en"
    notice = NOTICES[row["kind"]]
    what = notice.what[en]
    case = f"{'case' if en else 'ärende'} {row['case_id']}"
    subject = f"[etablera] {what}: {case}, {'municipality' if en else 'kommun'} {row['municipality']}"
    lines = [f"{'Notice' if en else 'Meddelande'} R{row['reminder_id']}: {what}",
             f"{'Case' if en else 'Ärende'}: {row['case_id']}",
             f"{'Municipality' if en else 'Kommun'}: {row['municipality']}",
             f"{'Date' if en else 'Datum'}: {row['due'].isoformat()}",
             notice.todo[en],
             case_line(row["case_id"], base_url, lang)]
    return subject, "\n".join(lines)


def notice_label(kind: str, lang: str) -> str | None:
    found = NOTICES.get(kind)
    return found.what[lang == "en"] if found else None


__all__ = ["NOTICES", "Notice", "STEP", "notice_label", "notice_recipients", "notice_text", "record_notice"]
