"""Delivering the reminder outbox, and reading it.

`deliver` first addresses new reminders (one delivery row per recipient: the case's
responsible officers as they are when it is addressed, the coordinators of the case's
municipality for an organisation that has none, and for an escalation the coordinators
too; a notice, reminders/notices.py, to the coordinators), then sends the
deliveries, in `senders` threads ([delivery]) that each claim a few (one statement), then
send each in turn and mark it sent or failed (a short transaction).
A failed delivery keeps its attempts and last error and is retried by the next run;
after `max_attempts` it is `dead` and stays visible. A claim left behind by a delivery
that died (SIGKILL, power cut) is taken again after the lease: the messages its senders
were sending may or may not have gone out, so they are sent again (at least once, never
silently lost); the others it had claimed had not, and go out once.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import bindparam, func, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from etablera.models import Case, Reminder, ReminderDelivery, User
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.ladder import Delivery, ReminderConfig, get_reminder_config
from etablera.models.timestamps import show, utcnow
from etablera.cases import filters
from etablera.reminders import channels, leases
from etablera.reminders.links import case_line
from etablera.reminders.notices import notice_label, notice_recipients, notice_text
from etablera.statemachine.process import STAGE, stage_label as stage_label_of

CASES = Case
USERS = User
REMINDERS = Reminder
DELIVERIES = ReminderDelivery
STATUSES = ("pending", "sent", "failed", "dead")
MAX_LIST = 100_000         # reminders in one list_reminders answer
STEP_LABELS = {"warning": ("Varning", "Warning"), "overdue": ("Försenad", "Overdue"),
               "escalation": ("Eskalering", "Escalation")}
Sender = Callable[..., None]
CANDIDATES = 500           # deliveries read at a time by deliver
# Deliveries claimed with one statement by one sender (then each sent and marked on its
# own). A sender that dies leaves at most these claimed: the one in flight may have gone
# out and is sent again after the lease; the rest had not and are sent once, after the lease.
CLAIMED_AT_ONCE = 20


@dataclass
class DeliveryResult:
    addressed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def __add__(self, other: "DeliveryResult") -> "DeliveryResult":
        return DeliveryResult(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


# --------------------------------------------------------------------------- addressing

def address(engine: Engine, config: ReminderConfig | None = None, municipalities: Collection[str] | None = None) -> int:
    """Give every new reminder (of these municipalities, as recorded) its delivery rows.
    Returns how many reminders were addressed."""
    config = config or get_reminder_config()
    with transaction(engine) as conn:
        # Who is responsible now, and where the case is now (a transfer since the check
        # recorded it moved it): read when the reminder is addressed.
        rows = conn.execute(
            select(REMINDERS.c.id, REMINDERS.c.kind, REMINDERS.c.step, REMINDERS.c.case_id,
                   func.coalesce(CASES.c.municipality, REMINDERS.c.municipality).label("municipality"),
                   CASES.c.kommun_officer, CASES.c.af_officer)
            .select_from(REMINDERS.outerjoin(CASES, CASES.c.id == REMINDERS.c.case_id))
            .where(REMINDERS.c.status == "pending", REMINDERS.c.addressed.is_(False),
                   _of(municipalities))).all()
        if not rows:
            return 0
        coordinators = coordinators_by_municipality(conn)
        deliveries = []
        for row in rows:
            deliveries += [{"reminder_id": row.id, "recipient": r, "status": "pending", "attempts": 0}
                           for r in recipients(config, row, coordinators)]
        insert_ = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(DELIVERIES)
        for start in range(0, len(deliveries), 5000):
            conn.execute(insert_.on_conflict_do_nothing(index_elements=["reminder_id", "recipient"]),
                         deliveries[start:start + 5000])
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 5000):
            conn.execute(update(REMINDERS).where(REMINDERS.c.id.in_(ids[start:start + 5000])).values(addressed=True))
    return len(rows)


def coordinators_by_municipality(conn) -> dict[str, list[str]]:
    """The active coordinators of each municipality: the users with role coordinator and
    that municipality (an AF coordinator known only by an office is not one)."""
    found: dict[str, list[str]] = {}
    for row in conn.execute(select(USERS.c.id, USERS.c.municipality)
                            .where(USERS.c.role == "coordinator", USERS.c.municipality.is_not(None),
                                   USERS.c.active == true())
                            .order_by(USERS.c.id)):
        found.setdefault(row.municipality, []).append(row.id)
    return found


def recipients(config: ReminderConfig, row, coordinators: dict[str, list[str]]) -> list[str]:
    """Who gets this reminder: the case's responsible officers, the coordinators of the
    case's municipality in place of an organisation's officer when it has none (an
    unassigned case), `coordinator:CODE` when the municipality has no coordinator
    registered, `unassigned` when nobody else would. Never empty."""
    wanted = notice_recipients(row.kind)
    if wanted is None:
        subject = "agreement" if row.kind.startswith("agreement") else row.kind
        rung = config.ladder(subject).rung(row.step)
        wanted = rung.to if rung else ("officers", "coordinator")
    coordinator = coordinators.get(row.municipality) or [f"coordinator:{row.municipality}"]
    out: list[str] = []
    for who in wanted:
        for org, officer in (("kommun_officer", row.kommun_officer), ("af_officer", row.af_officer)):
            if who in ("officers", org) and row.case_id is not None:
                out += [officer] if officer else coordinator
        if who == "coordinator":
            out += coordinator
    return list(dict.fromkeys(out)) or ["unassigned"]


# --------------------------------------------------------------------------- sending

def deliver(engine: Engine, *, config: ReminderConfig | None = None, case_config: Config | None = None,
            send: Sender | None = None, reclaim_after: float | None = None,
            limit: int | None = None, municipalities: Collection[str] | None = None,
            senders: int | None = None) -> DeliveryResult:
    """Send what is pending (and what failed before this run). Deliveries are claimed
    CLAIMED_AT_ONCE at a time, then each is sent and marked on its own, by `senders`
    threads (default: the [delivery] setting), each with batches of its own: a channel's
    wait (a mail server's answer, a file's fsync) and a commit's overlap the others'. So a
    crash sends at most the one in flight of each sender twice and delays the rest they
    had claimed by the lease. `limit`: at most this many messages. `municipalities` limits
    it to the reminders recorded for those codes (one part of a fanned-out check);
    deliverers with overlapping codes are still safe (the claim)."""
    config = config or get_reminder_config()
    case_config = case_config or get_config()
    send = send or channels.send
    result = DeliveryResult(addressed=address(engine, config, municipalities))
    started = utcnow()
    lease = config.delivery.lease_seconds if reclaim_after is None else reclaim_after
    with transaction(engine, write=False) as conn:
        urls = addresses(conn, config.delivery)
    stale = started - timedelta(seconds=lease)
    batches = _batches(_candidates(engine, started, stale, municipalities), CLAIMED_AT_ONCE)
    taking = threading.Lock()          # the batches (a generator) and the figures are shared
    handed = 0

    def next_batch() -> list:
        nonlocal handed
        with taking:
            rows = next(batches, [])
            if limit is not None:
                rows = rows[:max(0, limit - handed)]
            handed += len(rows)
            return rows

    def one(claim: dict) -> None:
        subject, body = render(claim, case_config, config.delivery.language, config.delivery.base_url)
        url = urls.get(claim["recipient"]) or config.delivery.default_url
        error = None
        try:
            send(url, subject, body, recipient=claim["recipient"],
                 message_id=f"<reminder-{claim['reminder_id']}-{claim['delivery_id']}@etablera>")
        except channels.DeliveryError as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - a broken channel must not stop the others
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        status = _finish(engine, claim, error, config.delivery.max_attempts)
        with taking:
            if status in ("sent", "dead", "failed"):
                setattr(result, status, getattr(result, status) + 1)

    def sender() -> None:
        while rows := next_batch():
            for claim in _claims(engine, rows, started, stale, lease):  # those another deliverer took are left out
                one(claim)

    count = senders or config.delivery.senders
    if count == 1:
        sender()                       # in this thread (and on its kept connection, if any)
    else:
        with ThreadPoolExecutor(count, thread_name_prefix="etablera-sender") as pool:
            for running in [pool.submit(sender) for _ in range(count)]:
                running.result()       # a sender's database error is the caller's
    return result


def addresses(conn, delivery: Delivery) -> dict[str, str]:
    """Where each active user's reminders go: their notify URL, else their e-mail address
    through the mail server (`mail_url` with to=ADDRESS) when one is configured. A
    recipient missing here gets the default channel."""
    found = {}
    for row in conn.execute(select(USERS.c.id, USERS.c.notify, USERS.c.email)
                            .where(USERS.c.active == true(), or_(USERS.c.notify.is_not(None),
                                                                 USERS.c.email.is_not(None)))):
        if row.notify:
            found[row.id] = row.notify
        elif row.email and delivery.mail_url:
            found[row.id] = mail_to(delivery.mail_url, row.email)
    return found


def mail_to(mail_url: str, address: str) -> str:
    """The mail server's apprise URL addressed to `address` (any to= of its own replaced)."""
    parts = urlsplit(mail_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "to"] + [("to", address)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _claimable(started: datetime, stale: datetime):
    return leases.claimable(DELIVERIES, started, stale)


def _of(municipalities: Collection[str] | None):
    return true() if municipalities is None else REMINDERS.c.municipality.in_(sorted(set(municipalities)))


def _candidates(engine: Engine, started: datetime, stale: datetime,
                municipalities: Collection[str] | None = None, batch: int = CANDIDATES):
    """The deliveries this run may claim, in id order, read `batch` at a time (one read per
    batch, not per message: the read costs about as much for one row as for a batch).
    Reading is not claiming: each is claimed on its own just before it is sent."""
    d, r = DELIVERIES.c, REMINDERS.c
    after = 0
    while True:
        with transaction(engine, write=False) as conn:
            rows = conn.execute(
                select(d.id.label("delivery_id"), d.recipient, d.attempts, r.id.label("reminder_id"), r.kind,
                       r.step, r.case_id, r.measure_id, r.municipality, r.stage, r.due, r.detected_on)
                .select_from(DELIVERIES.join(REMINDERS, r.id == d.reminder_id))
                .where(_claimable(started, stale), d.status.in_(("pending", "failed", "sending")),
                       _of(municipalities), d.id > after)
                .order_by(d.id).limit(batch)).mappings().all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1]["delivery_id"]


def _batches(rows: Iterable, size: int) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _claims(engine: Engine, rows: list, started: datetime, stale: datetime, lease: float) -> Iterator[dict]:
    """Claim these deliveries (status -> sending) where still claimable, with one
    conditional UPDATE that only one deliverer can win for each row (PostgreSQL re-checks
    the condition after waiting for a row's lock): a message is never claimed by two
    deliverers at once. Yields the claims won, in order; one whose turn comes after half
    its lease (a slow channel) is renewed first, so that its lease never runs out while
    it waits to be sent."""
    taken = leases.claim_many(engine, DELIVERIES, [row["delivery_id"] for row in rows], started, stale)
    for row in rows:
        if row["delivery_id"] not in taken:
            continue
        attempts, claimed_at = taken[row["delivery_id"]]
        if (utcnow() - claimed_at).total_seconds() > lease / 2:
            claimed_at = leases.renew(engine, DELIVERIES, row["delivery_id"], claimed_at)
            if claimed_at is None:
                continue
        yield {**row, "attempts": attempts, "claimed_at": claimed_at}


def _finish(engine: Engine, claim: dict, error: str | None, max_attempts: int) -> str | None:
    # Only if the claim is still ours (a lease that ran out may have passed it on); the
    # reminder's own status follows in the same transaction.
    if error is None and engine.dialect.name == "postgresql":
        return _sent_in_one_statement(engine, claim)
    return leases.finish(engine, DELIVERIES, claim["delivery_id"], claim["claimed_at"], claim["attempts"], error,
                         max_attempts, then=lambda conn, now: _summarise(conn, claim["reminder_id"], now))


def _summarise(conn, reminder_id: int, now: datetime) -> None:
    """The reminder's status from its deliveries: sent when all are, dead when one is,
    failed when one failed and waits for the next run, else pending."""
    rows = conn.execute(_OF_REMINDER, {"summary_reminder": reminder_id}).all()
    statuses = {row.status for row in rows}
    if statuses == {"sent"}:
        status = "sent"
    elif "dead" in statuses:
        status = "dead"
    elif "failed" in statuses:
        status = "failed"
    else:
        status = "pending"
    errors = [row.last_error for row in rows if row.last_error]
    conn.execute(_SUMMARY, {"summary_reminder": reminder_id, "summary_status": status,
                            "summary_attempts": max(row.attempts for row in rows),
                            "summary_error": errors[-1] if errors else None,
                            "summary_sent": now if status == "sent" else None})


def _sent_in_one_statement(engine: Engine, claim: dict) -> str | None:
    """On PostgreSQL: a message sent, marked and its reminder summed up by SENT, one
    statement and so a transaction by itself. "sent", or None if the claim was no longer ours."""
    with transaction(engine, single=True) as conn:
        done = conn.execute(SENT, {"delivery": claim["delivery_id"], "claimed": claim["claimed_at"],
                                   "attempts": claim["attempts"] + 1, "now": utcnow()}).first()
    return "sent" if done is not None else None


# A sent message on PostgreSQL: the delivery marked sent (if the claim is still ours) and
# its reminder summed up as _summarise does (the lowest rank among its deliveries: dead 0,
# failed 1, pending or sending 2, sent 3; the most attempts; the newest error), in one
# round trip where leases.finish and _summarise take five (BEGIN, mark, read the
# reminder's deliveries, update it, COMMIT): most of a message's time. The other parts of
# a statement see the table as it was before `done`, hence its own row from `done`.
# tests/test_delivery.py holds both paths to the same answers.
SENT = text("""
WITH done AS (
    UPDATE reminder_deliveries SET status = 'sent', sent_at = :now, attempts = :attempts, last_error = NULL
    WHERE id = :delivery AND status = 'sending' AND claimed_at = :claimed
    RETURNING id, reminder_id, status, attempts, last_error),
mine AS (
    SELECT d.id, d.status, d.attempts, d.last_error
    FROM reminder_deliveries d JOIN done ON d.reminder_id = done.reminder_id AND d.id <> done.id
    UNION ALL SELECT id, status, attempts, last_error FROM done),
summary AS (
    SELECT CASE min(CASE status WHEN 'dead' THEN 0 WHEN 'failed' THEN 1 WHEN 'sent' THEN 3 ELSE 2 END)
               WHEN 0 THEN 'dead' WHEN 1 THEN 'failed' WHEN 3 THEN 'sent' ELSE 'pending' END AS status,
           max(attempts) AS attempts,
           (array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error <> ''))[1] AS last_error
    FROM mine)
UPDATE reminders SET status = summary.status, attempts = summary.attempts, last_error = summary.last_error,
       sent_at = CASE WHEN summary.status = 'sent' THEN CAST(:now AS timestamptz) END
FROM done, summary WHERE reminders.id = done.reminder_id
RETURNING reminders.id""")


# Built once: they run at every message sent (a statement built per call cost more than its round trip).
_OF_REMINDER = (select(DELIVERIES.c.status, DELIVERIES.c.attempts, DELIVERIES.c.last_error)
                .where(DELIVERIES.c.reminder_id == bindparam("summary_reminder")).order_by(DELIVERIES.c.id))
_SUMMARY = (update(REMINDERS).where(REMINDERS.c.id == bindparam("summary_reminder"))
            .values(status=bindparam("summary_status"), attempts=bindparam("summary_attempts"),
                    last_error=bindparam("summary_error"), sent_at=bindparam("summary_sent")))


# --------------------------------------------------------------------------- the message

def stage_label(stage: str, config: Config, lang: str) -> str:
    if stage in STAGE:
        return stage_label_of(stage, lang)
    if stage.startswith("measure."):
        kind = config.measure_types.get(stage.removeprefix("measure."))
        what = kind.label(lang) if kind else stage.removeprefix("measure.")
        return f"{'Measure' if lang == 'en' else 'Insats'}: {what}"
    if notice_label(stage, lang):
        return notice_label(stage, lang)
    if stage.startswith("followup."):
        day = stage.removeprefix("followup.")
        return f"Follow-up {day} days after the exit" if lang == "en" else f"Uppföljning {day} dagar efter avslut"
    return {"establishment": ("Etableringen (hela tidsramen)", "The establishment (the whole time frame)"),
            "agreement.revision": ("Överenskommelsen: revision", "The agreement: revision"),
            "agreement.expiry": ("Överenskommelsen: giltighetstiden löper ut", "The agreement: validity ends")
            }.get(stage, (stage, stage))[lang == "en"]


def days_late(due: date, on: date) -> int:
    return (on - due).days


def render(row, config: Config, lang: str = "sv", base_url: str | None = None) -> tuple[str, str]:
    """Subject and body of a reminder: case id, stage, due date, days late and the link to
    the case page under `base_url` (reminders/links.py; a notice: what happened to which
    case). Nothing about the person (no name, no identity number): it may travel by e-mail."""
    if notice_recipients(row["kind"]) is not None:
        return notice_text(row, lang, base_url)
    en = lang == "en"
    step = STEP_LABELS.get(row["step"], (row["step"], row["step"]))[en]
    stage = stage_label(row["stage"], config, lang)
    late = days_late(row["due"], row["detected_on"])
    if late > 0:
        lateness = f"{late} days late" if en else f"{late} dagar sent"
    elif late == 0:
        lateness = "due today" if en else "förfaller i dag"
    else:
        lateness = f"due in {-late} days" if en else f"förfaller om {-late} dagar"
    if row["case_id"] is not None:
        what = f"{'case' if en else 'ärende'} {row['case_id']}"
    else:
        what = f"{'municipality' if en else 'kommun'} {row['municipality']}"
    subject = f"[etablera] {step}: {what}, {stage}, {row['due'].isoformat()} ({lateness})"
    lines = [
        f"{'Reminder' if en else 'Påminnelse'} R{row['reminder_id']}: {step} ({row['step']})",
        f"{'Case' if en else 'Ärende'}: {row['case_id']}" if row["case_id"] is not None else None,
        f"{'Measure' if en else 'Insats'}: {row['measure_id']}" if row["measure_id"] is not None else None,
        f"{'Municipality' if en else 'Kommun'}: {row['municipality']}",
        f"{'Stage' if en else 'Steg'}: {stage} [{row['stage']}]",
        f"{'Due date' if en else 'Förfallodatum'}: {row['due'].isoformat()}",
        f"{'Days late' if en else 'Dagar sent'}: {late} ({lateness}, {row['detected_on'].isoformat()})",
        case_line(row["case_id"], base_url, lang) if row["case_id"] is not None else None,
    ]
    return subject, "\n".join(line for line in lines if line)


# --------------------------------------------------------------------------- reading

def list_reminders(engine: Engine, *, case_id: int | None = None, status: str | None = None,
                   limit: int = 1000, lang: str = "sv", config: Config | None = None) -> list[dict]:
    """Reminders, newest first, with their deliveries' attempts and last error."""
    config = config or get_config()
    status = filters.one_of(status, STATUSES, field="status")
    limit = filters.limit(limit, maximum=MAX_LIST)
    r = REMINDERS.c
    query = select(REMINDERS).order_by(r.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(r.case_id == case_id)
    if status is not None:
        query = query.where(r.status == status)
    with transaction(engine, write=False) as conn:
        rows = conn.execute(query).mappings().all()
        ids = [row["id"] for row in rows]
        recipients_of: dict[int, list[dict]] = {}
        for start in range(0, len(ids), 5000):
            for d in conn.execute(select(DELIVERIES).where(DELIVERIES.c.reminder_id.in_(ids[start:start + 5000]))
                                  .order_by(DELIVERIES.c.id)).mappings():
                recipients_of.setdefault(d["reminder_id"], []).append(
                    {"recipient": d["recipient"], "status": d["status"], "attempts": d["attempts"],
                     "last_error": d["last_error"], "sent_at": show(d["sent_at"])})
    return [{"id": row["id"], "kind": row["kind"], "step": row["step"], "case_id": row["case_id"],
             "measure_id": row["measure_id"], "municipality": row["municipality"], "stage": row["stage"],
             "stage_label": stage_label(row["stage"], config, lang), "due": row["due"].isoformat(),
             "detected_on": row["detected_on"].isoformat(), "days_late": days_late(row["due"], row["detected_on"]),
             "status": row["status"], "attempts": row["attempts"], "last_error": row["last_error"],
             "recorded_at": show(row["recorded_at"]), "sent_at": show(row["sent_at"]),
             "deliveries": recipients_of.get(row["id"], [])} for row in rows]


def delivered_since(engine: Engine, since: datetime) -> dict[str, int]:
    """Deliveries attempted since `since` by outcome (a run's summary, across task retries)."""
    d = DELIVERIES.c
    with transaction(engine, write=False) as conn:
        rows = conn.execute(select(d.status, func.count()).where(d.claimed_at >= since)
                            .group_by(d.status)).all()
    found = {status: n for status, n in rows}
    return {"sent": found.get("sent", 0), "failed": found.get("failed", 0), "dead": found.get("dead", 0)}


def counts(engine: Engine) -> dict[str, int]:
    """Reminders per status (for the check's summary and `reminders list`)."""
    with transaction(engine, write=False) as conn:
        rows = conn.execute(select(REMINDERS.c.status, func.count()).group_by(REMINDERS.c.status)).all()
    return {status: n for status, n in rows}


__all__ = ["DeliveryResult", "STATUSES", "address", "counts", "delivered_since", "deliver", "list_reminders", "recipients", "render"]
