"""Delivering the outbox: a real SMTP server on loopback (down, then up), retries until
dead, a delivery process killed mid-batch, and concurrent checks on PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.header
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from conftest import ROOT, free_port
from identities import pnr
from kit import officer, register
from etablera.models import Reminder, ReminderDelivery
from etablera.models.agreements import AgreementBook
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.database import make_engine
from etablera.models.ladder import load_reminder_config
from etablera.models.timestamps import parse_moment, utcnow
from etablera.reminders import deadlines, officers, outbox as reminders
from etablera.reminders.channels import DeliveryError

CONFIG = load_reminder_config(DEFAULT_DIR)
NO_AGREEMENTS = AgreementBook(directory=ROOT / "nonexistent", agreements=())


class Inbox:
    """An aiosmtpd handler that keeps what it accepted; can hold one message unanswered."""

    def __init__(self, hold_at: int | None = None):
        self.messages: list[email.message.Message] = []
        self.seen = 0
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = False

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.hold_at is not None and self.seen == self.hold_at:
            self.holding.set()
            while not self.release:
                await asyncio.sleep(0.05)
            return "451 not accepted"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def keys(self) -> list[tuple[str, str]]:
        """(reminder, recipient) of each accepted message."""
        out = []
        for m in self.messages:
            body = m.get_payload(decode=True).decode("utf-8") if not m.is_multipart() else \
                m.get_payload(0).get_payload(decode=True).decode("utf-8")
            reminder = next(w for w in body.split() if w.startswith("R") and w[1:-1].isdigit())
            out.append((reminder.rstrip(":"), m["To"]))
        return out


def smtp_url(port: int, who: str) -> str:
    return f"mailto://127.0.0.1:{port}?from=etablera@example.se&to={who}@example.se&mode=insecure"


def setup_cases(engine, port: int, n: int = 4, coordinator=True) -> None:
    officers.add_officer(engine, "k1", name="Kim", org="kommun", municipality="0581", notify=smtp_url(port, "k1"))
    officers.add_officer(engine, "af1", name="Alex", org="af", municipality="0581", notify=smtp_url(port, "af1"))
    if coordinator:
        officers.add_officer(engine, "samo", name="Sam", org="kommun", municipality="0581", role="coordinator",
                             notify=smtp_url(port, "samo"))
    for i in range(n):
        register(engine, pnr("19900101", 100 + i), "0581", "2026-02-20", "2026-03-02", actor="t",
                 kommun_officer="k1", af_officer="af1")
    deadlines.record_due(engine, parse_moment("2026-04-22"), config=CONFIG, book=NO_AGREEMENTS)   # escalations


def statuses(engine) -> Counter:
    with engine.connect() as conn:
        return Counter(conn.execute(select(Reminder.c.status)).scalars())


@pytest.fixture
def smtp():
    started = []

    def start(port: int, inbox: Inbox) -> Controller:
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return controller
    yield start
    for controller in started:
        try:
            controller.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass


def test_smtp_down_then_up_delivers_each_exactly_once(engine, smtp):
    port = free_port()
    setup_cases(engine, port)                                  # 4 escalations × 3 recipients
    down = reminders.deliver(engine, config=CONFIG)            # nothing listens on the port
    assert (down.sent, down.failed, down.dead) == (0, 12, 0)
    assert statuses(engine) == {"failed": 4}
    listed = reminders.list_reminders(engine, status="failed")
    assert all(r["attempts"] == 1 and r["last_error"] for r in listed)
    assert all(f"{port}" not in (r["last_error"] or "") or "example" not in r["last_error"] for r in listed)

    inbox = Inbox()
    controller = smtp(port, inbox)
    up = reminders.deliver(engine, config=CONFIG)
    assert (up.sent, up.failed) == (12, 0)
    assert statuses(engine) == {"sent": 4}
    assert len(inbox.messages) == 12 and len(set(inbox.keys())) == 12
    again = reminders.deliver(engine, config=CONFIG)           # nothing left: nothing sent twice
    assert again.sent == 0 and len(inbox.messages) == 12
    subject = str(email.header.make_header(email.header.decode_header(inbox.messages[0]["Subject"])))
    assert "ärende" in subject and "Modul 1" in subject
    assert pnr("19900101", 100) not in inbox.messages[0].as_string()
    controller.stop()


def test_failed_delivery_is_retried_then_dead(engine):
    register(engine, pnr("19900101"), "0581", "2026-02-20", "2026-03-02", actor="t")
    deadlines.record_due(engine, parse_moment("2026-04-08"), config=CONFIG, book=NO_AGREEMENTS)   # a warning

    def broken(*args, **kwargs):
        raise DeliveryError("mail server said no")
    for attempt in range(1, CONFIG.delivery.max_attempts + 1):
        result = reminders.deliver(engine, config=CONFIG, send=broken)
        expected = "dead" if attempt == CONFIG.delivery.max_attempts else "failed"
        assert statuses(engine) == {expected: 1}, attempt
        assert (result.sent, result.failed + result.dead) == (0, 1), attempt
    [row] = reminders.list_reminders(engine, status="dead")
    assert row["attempts"] == CONFIG.delivery.max_attempts and row["last_error"] == "mail server said no"
    # an unassigned case: its municipality's coordinator (none registered: the channel for them)
    assert row["deliveries"] == [{"recipient": "coordinator:0581", "status": "dead", "attempts": 5,
                                  "last_error": "mail server said no", "sent_at": None}]
    assert reminders.deliver(engine, config=CONFIG, send=broken).failed == 0     # dead stays dead, shown


def test_recipients_fall_back_to_the_default_channel(engine, tmp_path):
    officer(engine, "nobody")                                  # no notification URL of their own
    register(engine, pnr("19900101"), "0581", "2026-02-20", "2026-03-02", actor="t", kommun_officer="nobody")
    deadlines.record_due(engine, parse_moment("2026-04-22"), config=CONFIG, book=NO_AGREEMENTS)
    sent = []
    reminders.deliver(engine, config=CONFIG, send=lambda url, s, b, recipient, message_id: sent.append((url, recipient)))
    assert sorted(sent) == [(CONFIG.delivery.default_url, "coordinator:0581"), (CONFIG.delivery.default_url, "nobody")]


def test_senders_share_the_deliveries_and_send_each_once(db_url):
    """A delivery's senders (threads, each claiming batches of its own) send every message
    once between them; `limit` still bounds the whole delivery."""
    engine = make_engine(db_url)
    officers.add_officer(engine, "k1", name="Kim", org="kommun", municipality="0581")
    officers.add_officer(engine, "af1", name="Alex", org="af", municipality="0581")
    for i in range(40):
        register(engine, pnr("19900101", 100 + i), "0581", "2026-02-20", "2026-03-02", actor="t",
                 kommun_officer="k1", af_officer="af1")
    deadlines.record_due(engine, parse_moment("2026-04-22"), config=CONFIG, book=NO_AGREEMENTS)
    sent, by = Counter(), Counter()

    def slow(url, subject, body, recipient, message_id):
        sent[message_id] += 1
        by[threading.current_thread().name] += 1
        time.sleep(0.005)                       # a channel's wait: the other senders go on meanwhile

    first = reminders.deliver(engine, config=CONFIG, send=slow, limit=25, senders=4)
    assert first.sent == len(sent) == 25
    rest = reminders.deliver(engine, config=CONFIG, send=slow, senders=4)
    with engine.connect() as conn:
        deliveries = Counter(conn.execute(select(ReminderDelivery.c.status)).scalars())
    assert deliveries == {"sent": 120} and first.sent + rest.sent == 120       # 40 escalations, 3 recipients
    assert set(sent.values()) == {1} and len(sent) == 120
    assert len(by) > 1 and all(name.startswith("etablera-sender") for name in by)
    engine.dispose()


@pytest.mark.slow
def test_sigkill_mid_batch_then_next_run_delivers_the_rest(sqlite_url, smtp):
    engine = make_engine(sqlite_url)
    port = free_port()
    setup_cases(engine, port, n=4)                             # 12 deliveries
    inbox = Inbox(hold_at=4)                                   # the 4th message is never answered
    smtp(port, inbox)
    env = {**os.environ, "ETABLERA_DATABASE_URL": sqlite_url}
    child = subprocess.Popen([sys.executable, "-m", "etablera.interfaces.cli.main", "reminders", "deliver"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert inbox.holding.wait(60), "the delivery never reached the 4th message"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        inbox.release = True
        if child.poll() is None:
            child.kill()
    assert len(inbox.messages) == 3
    with engine.connect() as conn:
        left = Counter(conn.execute(select(ReminderDelivery.c.status)).scalars())
    # It had claimed a batch: the 4th in flight, the rest of the batch not yet sent.
    claimed = min(reminders.CLAIMED_AT_ONCE, 12)
    assert left == Counter({"sent": 3, "sending": claimed - 3, "pending": 12 - claimed})
    # The next run leaves the fresh claims alone (the lease), then takes them over once it has run out.
    assert reminders.deliver(engine, config=CONFIG).sent == 12 - claimed
    after = reminders.deliver(engine, config=CONFIG, reclaim_after=0)
    assert after.sent == claimed - 3
    keys = inbox.keys()
    assert len(keys) == 12 and len(set(keys)) == 12            # every (reminder, recipient) exactly once
    assert statuses(engine) == {"sent": 4}


def test_a_claim_whose_turn_comes_late_is_renewed_before_it_is_sent(engine):
    """Deliveries are claimed a batch at a time; behind a slow channel the last of a batch
    waits for its turn. Each is sent within its lease all the same (renewed when its turn
    came after half of it), so no other deliverer could have taken it over meanwhile."""
    for i in range(3):
        register(engine, pnr("19900101", 100 + i), "0581", "2026-02-20", "2026-03-02", actor="t")
    deadlines.record_due(engine, parse_moment("2026-04-22"), config=CONFIG, book=NO_AGREEMENTS)
    lease, ages, sent = 0.4, [], []

    def slow(url, subject, body, recipient, message_id):
        delivery = int(message_id.rsplit("-", 1)[1].split("@")[0])
        with engine.connect() as conn:
            claimed_at = conn.execute(select(ReminderDelivery.c.claimed_at)
                                      .where(ReminderDelivery.c.id == delivery)).scalar_one()
        ages.append((utcnow() - claimed_at).total_seconds())
        sent.append(delivery)
        time.sleep(0.15)

    result = reminders.deliver(engine, config=CONFIG, send=slow, reclaim_after=lease)
    assert 3 <= len(sent) <= reminders.CLAIMED_AT_ONCE and result.sent == len(sent) == len(set(sent))
    assert max(ages) < lease / 2          # the third waited 0.3 s for its turn: renewed just before it went
    assert set(statuses(engine)) == {"sent"}


SIBLING_STATES = [("pending", 0, None), ("sending", 1, None), ("sent", 1, None), ("failed", 2, "refused"),
                  ("dead", 5, "gone"), ("failed", 1, "")]


def test_a_sent_message_sums_up_its_reminder_by_the_same_rules_on_both_databases(db_url):
    """The delivery just sent beside two others in every combination of states: the
    reminder's status, attempts, last error and sent time follow the rules of
    outbox._summarise (the lowest of dead, failed, pending/sending, sent; the most attempts;
    the newest non-empty error). On PostgreSQL the message is marked and summed up by one
    statement (outbox.SENT), on SQLite by the general path: both held to the same answers."""
    import itertools
    from datetime import date
    engine = make_engine(db_url)
    now = utcnow()
    combos = list(itertools.product(SIBLING_STATES, repeat=2))
    with engine.begin() as conn:
        for n, (first, second) in enumerate(combos):
            reminder = conn.execute(Reminder.insert().values(
                kind="stage", target_id=n + 1, visit=1, step="warning", municipality="0581", stage="module1",
                due=date(2026, 4, 1), detected_on=date(2026, 4, 8), recorded_at=now, status="pending",
                addressed=True, attempts=0)).inserted_primary_key[0]
            conn.execute(ReminderDelivery.insert(), [
                {"reminder_id": reminder, "recipient": "now", "status": "pending", "attempts": 2, "last_error": None},
                *({"reminder_id": reminder, "recipient": f"other{i}", "status": state, "attempts": attempts,
                   "last_error": error} for i, (state, attempts, error) in enumerate((first, second)))])
    started = utcnow()
    for n, (first, second) in enumerate(combos):
        with engine.connect() as conn:
            reminder, delivery = conn.execute(
                select(Reminder.c.id, ReminderDelivery.c.id).join_from(
                    Reminder, ReminderDelivery, ReminderDelivery.c.reminder_id == Reminder.c.id)
                .where(Reminder.c.target_id == n + 1, ReminderDelivery.c.recipient == "now")).one()
        [claim] = reminders._claims(engine, [{"delivery_id": delivery, "reminder_id": reminder}], started,
                                    started - timedelta(hours=1), 900)
        assert reminders._finish(engine, claim, None, CONFIG.delivery.max_attempts) == "sent"
        statuses_ = [first[0], second[0]]
        expected = ("dead" if "dead" in statuses_ else "failed" if "failed" in statuses_
                    else "sent" if set(statuses_) == {"sent"} else "pending")
        errors = [error for _, _, error in (first, second) if error]
        with engine.connect() as conn:
            row = conn.execute(select(Reminder).where(Reminder.c.id == reminder)).one()
        assert (row.status, row.attempts, row.last_error) == (expected, max(3, first[1], second[1]),
                                                              errors[-1] if errors else None), (first, second)
        assert (row.sent_at is not None) == (expected == "sent"), (first, second)
    # and a claim no longer ours is not marked
    with engine.connect() as conn:
        delivery = conn.execute(select(ReminderDelivery.c.id).where(ReminderDelivery.c.recipient == "now")).first()[0]
    stale = {"delivery_id": delivery, "reminder_id": 0, "attempts": 3, "claimed_at": started}
    assert reminders._finish(engine, stale, None, CONFIG.delivery.max_attempts) is None
    engine.dispose()


@pytest.mark.postgres
def test_two_checks_at_the_same_moment_record_each_reminder_once(pg_url):
    engine = make_engine(pg_url)
    for i in range(40):
        register(engine, pnr("19900101", 100 + i), "0581", "2026-02-20",
                 parse_moment("2026-03-02") + timedelta(days=i % 10), actor="t")
    moment = parse_moment("2026-04-22")
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        own = make_engine(pg_url)
        try:
            barrier.wait()
            results.append(deadlines.record_due(own, moment, config=CONFIG, book=NO_AGREEMENTS).total)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            own.dispose()
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with engine.connect() as conn:
        keys = conn.execute(select(Reminder.c.kind, Reminder.c.target_id,
                                   Reminder.c.visit, Reminder.c.step)).all()
    assert len(keys) == len(set(keys)) == 40                   # each case: the step it has reached, once
    assert sorted(results, reverse=True)[0] == 40 and sum(results) == 40

    sent = Counter()
    lock = threading.Lock()

    def fake_send(url, subject, body, recipient, message_id):
        time.sleep(0.002)
        with lock:
            sent[message_id] += 1

    def deliver():
        own = make_engine(pg_url)
        try:
            reminders.deliver(own, config=CONFIG, send=fake_send)
        finally:
            own.dispose()
    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(sent.values()) == len(sent) and set(sent.values()) == {1}
    assert statuses(engine) == {"sent": 40}
    engine.dispose()
