"""Webhooks: each state change of the event feed (cases/feed.py) sent to the subscribed
systems, as a CloudEvents 1.0 JSON document signed after Standard Webhooks.

Subscriptions are made by `etablera webhook add` / POST /api/v1/webhooks (the secret in
the table, shown once) or kept in config/webhooks.toml (the secret in the environment
variable the entry names; the row holds only "env:NAME"), brought into the table by
`configure` at the start of every run.

Recording. Each subscription keeps its own cursor in the feed. `record` reads the feed
from that cursor and inserts one delivery row per event (unique per subscription and
event) in the same transaction that moves the cursor on: an event is recorded exactly
once, and nothing between two cursors is lost (the feed skips nothing, see cases/feed.py).

Sending. The deliveries go out through the outbox's claims (reminders/leases.py: a lease,
attempts, `dead` after `max_attempts` of reminders.toml's [delivery]), with a back-off
between attempts (`retry_delay_seconds` of the same section, the last repeated). In order
per case: a delivery is claimed only while every earlier one of its case and subscription
is sent, so a failed or dead one holds back its case's later ones (shown by `etablera
webhook deliveries`; `etablera webhook retry` sends a dead one again) and never lets them
overtake it. At least once: a sender killed after the receiver got a message and before
marking it sent sends it again once the lease has run out; the receiver drops the repeat
by the CloudEvent id (also the `webhook-id` header), which is the same on every attempt.

The request: POST, `Content-Type: application/cloudevents+json`, headers `webhook-id`,
`webhook-timestamp`, `webhook-signature` (v1: HMAC-SHA256 over "id.timestamp.body" with the
subscription's secret, by the `standardwebhooks` library; any Standard Webhooks library
verifies it). A 2xx answer is delivered; anything else, or no answer in 10 s, a failure.
No personal data travels: the data is the feed item.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Table, delete, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from standardwebhooks import Webhook

from etablera.access.principal import Principal
from etablera.access.scope import require_role
from etablera.cases import feed
from etablera.models import AuditEvent, WebhookDelivery, WebhookSubscription
from etablera.models.database import transaction
from etablera.models.ladder import ReminderConfig, get_reminder_config
from etablera.models.timestamps import show, utcnow
from etablera.models.webhook_settings import WebhooksFile, webhook_settings
from etablera.reminders import leases
from etablera.statemachine.errors import BadInput, NotFound

SUBSCRIPTIONS: Table = WebhookSubscription
DELIVERIES: Table = WebhookDelivery
EVENTS: Table = AuditEvent
NAME = re.compile(r"^[a-z0-9._-]{1,60}$")
PAGE = 1000                 # feed items read at a time by record
TIMEOUT = 10.0              # seconds a receiver has to answer
SOURCE = "/etablera"        # the CloudEvents source (a URI reference)
Sender = Callable[[str, bytes, dict], None]


class DeliveryFailed(Exception):
    """The receiver did not take the message (no answer, or not 2xx)."""


@dataclass
class WebhookResult:
    recorded: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0

    def as_dict(self) -> dict:
        return {"recorded": self.recorded, "sent": self.sent, "failed": self.failed, "dead": self.dead}


# --------------------------------------------------------------------------- subscriptions

def add(engine: Engine, who: Principal, name: str, url: str, *, municipalities: Collection[str] = (),
        from_start: bool = False) -> dict:
    """A new subscription (admins): its record with the signing secret, shown this once.
    It receives the events after now (`from_start`: every event the feed holds)."""
    require_role(engine, who, who.role == "admin", "webhooks", "manage webhooks")
    if not NAME.match(name or ""):
        raise BadInput("webhook_name", field="name")
    if not re.match(r"^https?://[^\s]+$", url or "") or len(url) > 500:
        raise BadInput("webhook_url", field="url")
    codes = sorted(set(municipalities))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with transaction(engine) as conn:
        if conn.execute(select(SUBSCRIPTIONS.c.id).where(SUBSCRIPTIONS.c.name == name)).first():
            raise BadInput("webhook_exists", field="name", name=name)
        after = feed.START if from_start else _end(conn)
        row = {"name": name, "url": url, "secret": secret, "municipalities": " ".join(codes) or None,
               "after_txid": after[0], "after_id": after[1], "created_at": utcnow(), "created_by": who.id}
        conn.execute(insert(SUBSCRIPTIONS).values(**row))
    return {**_doc(row), "secret": secret}


def subscriptions(engine: Engine, who: Principal) -> list[dict]:
    """Every subscription (no secrets) with its deliveries counted by status."""
    require_role(engine, who, who.role == "admin", "webhooks", "manage webhooks")
    with transaction(engine, write=False) as conn:
        counts: dict[int, dict] = {}
        for row in conn.execute(select(DELIVERIES.c.subscription_id, DELIVERIES.c.status, func.count())
                                .group_by(DELIVERIES.c.subscription_id, DELIVERIES.c.status)):
            counts.setdefault(row[0], {})[row[1]] = row[2]
        return [{**_doc(row), "deliveries": counts.get(row["id"], {})}
                for row in conn.execute(select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.name)).mappings()]


def remove(engine: Engine, who: Principal, name: str) -> dict:
    """Remove a subscription and its deliveries (sent or not)."""
    require_role(engine, who, who.role == "admin", "webhooks", "manage webhooks")
    with transaction(engine) as conn:
        row = _subscription(conn, name)
        gone = conn.execute(delete(DELIVERIES).where(DELIVERIES.c.subscription_id == row["id"])).rowcount
        conn.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == row["id"]))
    return {**_doc(row), "deliveries_removed": gone}


def deliveries(engine: Engine, who: Principal, name: str | None = None, status: str | None = None,
               limit: int = 100) -> list[dict]:
    """The deliveries (newest first), of one subscription and one status if given."""
    require_role(engine, who, who.role == "admin", "webhooks", "manage webhooks")
    d, s = DELIVERIES.c, SUBSCRIPTIONS.c
    query = (select(d.id, s.name.label("subscription"), d.event_id, d.case_id, d.seq, d.status, d.attempts,
                    d.last_error, d.not_before, d.sent_at)
             .select_from(DELIVERIES.join(SUBSCRIPTIONS, s.id == d.subscription_id))
             .order_by(d.id.desc()).limit(limit))
    if name:
        query = query.where(s.name == name)
    if status:
        query = query.where(d.status == status)
    with transaction(engine, write=False) as conn:
        return [{**row, "not_before": show(row["not_before"]), "sent_at": show(row["sent_at"])}
                for row in conn.execute(query).mappings()]


def retry(engine: Engine, who: Principal, name: str) -> int:
    """Send the subscription's dead deliveries again (attempts from zero). Returns how many."""
    require_role(engine, who, who.role == "admin", "webhooks", "manage webhooks")
    with transaction(engine) as conn:
        row = _subscription(conn, name)
        return conn.execute(update(DELIVERIES).where(DELIVERIES.c.subscription_id == row["id"],
                                                     DELIVERIES.c.status == "dead")
                            .values(status="pending", attempts=0, not_before=None, claimed_at=None)).rowcount


def _subscription(conn: Connection, name: str):
    row = conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.name == name)).mappings().first()
    if row is None:
        raise NotFound("no_such_webhook", field="name", name=name)
    return row


def _doc(row) -> dict:
    return {"name": row["name"], "url": row["url"], "configured": row["secret"].startswith("env:"),
            "municipalities": row["municipalities"].split() if row["municipalities"] else None,
            "cursor": feed.encode((row["after_txid"], row["after_id"])), "created_at": show(row["created_at"]),
            "created_by": row["created_by"]}


def _end(conn: Connection) -> tuple[int, int]:
    """The feed's position now: after its last event of a finished transaction (a later
    one sorts after it, cases/feed.py)."""
    query = select(EVENTS.c.txid, EVENTS.c.id).order_by(EVENTS.c.txid.desc(), EVENTS.c.id.desc()).limit(1)
    if conn.dialect.name == "postgresql":
        query = query.where(EVENTS.c.txid < feed.XMIN)
    row = conn.execute(query).first()
    return (row.txid, row.id) if row else feed.START


# --------------------------------------------------------------------------- recording

def configure(engine: Engine, settings: WebhooksFile | None = None) -> None:
    """Bring webhooks.toml's subscriptions into the table: a new one starts at the feed's
    end (or its start with from_start); a known one takes the file's URL, municipalities
    and secret variable. Its secret stays in the environment: the row holds "env:NAME"."""
    settings = settings or webhook_settings()
    if not settings.subscription:
        return
    with transaction(engine) as conn:
        known = {row.name: row for row in conn.execute(select(SUBSCRIPTIONS.c.id, SUBSCRIPTIONS.c.name))}
        for entry in settings.subscription:
            values = {"url": entry.url, "secret": f"env:{entry.secret_env}",
                      "municipalities": " ".join(sorted(set(entry.municipalities))) or None}
            if entry.name in known:
                conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == known[entry.name].id).values(**values))
                continue
            after = feed.START if entry.from_start else _end(conn)
            conn.execute(insert(SUBSCRIPTIONS).values(name=entry.name, after_txid=after[0], after_id=after[1],
                                                      created_at=utcnow(), created_by="webhooks.toml", **values))


def signer(secret: str) -> Webhook:
    """The signer of a subscription's secret ("whsec_..." or "env:NAME" for webhooks.toml's);
    raises DeliveryFailed when the variable is unset or not a secret (never unsigned)."""
    if secret.startswith("env:"):
        name = secret.removeprefix("env:")
        secret = os.environ.get(name, "")
        if not secret:
            raise DeliveryFailed(f"the signing secret's variable {name} is not set")
    try:
        return Webhook(secret)
    except Exception:  # noqa: BLE001 - a malformed secret: no message goes out unsigned
        raise DeliveryFailed("the signing secret is not a whsec_ base64 secret") from None


def record(engine: Engine, limit: int | None = None, settings: WebhooksFile | None = None) -> int:
    """Record the new feed events of every subscription as deliveries, each subscription in
    one transaction with its cursor. Returns how many deliveries were recorded."""
    configure(engine, settings)
    with transaction(engine, write=False) as conn:
        ids = list(conn.execute(select(SUBSCRIPTIONS.c.id).order_by(SUBSCRIPTIONS.c.id)).scalars())
    return sum(_record_one(engine, sub_id, limit) for sub_id in ids)


def _record_one(engine: Engine, sub_id: int, limit: int | None) -> int:
    done = 0
    with transaction(engine) as conn:
        # Lock the subscription's row (a second recorder waits, then reads the cursor moved on).
        sub = conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sub_id)
                           .with_for_update()).mappings().first()
        if sub is None:
            return 0
        after = (sub["after_txid"], sub["after_id"])
        codes = sub["municipalities"].split() if sub["municipalities"] else None
        insert_ = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(DELIVERIES)
        while limit is None or done < limit:
            items, last = feed.page(conn, after, PAGE, codes)
            if items:
                conn.execute(insert_.on_conflict_do_nothing(index_elements=["subscription_id", "event_id"]),
                             [{"subscription_id": sub_id, "event_id": i["event_id"], "case_id": i["case_id"],
                               "seq": i["seq"], "status": "pending", "attempts": 0} for i in items])
            done, after = done + len(items), last
            if len(items) < PAGE:
                break
        conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sub_id)
                     .values(after_txid=after[0], after_id=after[1]))
    return done


# --------------------------------------------------------------------------- sending

def deliver(engine: Engine, *, config: ReminderConfig | None = None, send: Sender | None = None,
            reclaim_after: float | None = None, limit: int | None = None,
            settings: WebhooksFile | None = None) -> WebhookResult:
    """Record what is new, then send what is due, each delivery claimed, sent and marked on
    its own (a crash loses at most the one in flight, which is sent again after the lease)."""
    outbox = (config or get_reminder_config()).delivery
    send = send or post
    result = WebhookResult(recorded=record(engine, settings=settings))
    started = utcnow()
    stale = started - timedelta(seconds=outbox.lease_seconds if reclaim_after is None else reclaim_after)
    with transaction(engine, write=False) as conn:
        secrets_ = {row.id: (row.url, row.secret) for row in conn.execute(select(SUBSCRIPTIONS))}
    done = 0
    blocked: set[tuple[int, int]] = set()       # (subscription, case) with a delivery not sent in this run
    for row in _candidates(engine, started, stale):
        if limit is not None and done >= limit:
            break
        key = (row["subscription_id"], row["case_id"])
        if key in blocked or row["subscription_id"] not in secrets_:
            continue
        taken = leases.claim(engine, DELIVERIES, row["id"], started, stale, also=_in_order())
        if taken is None:
            blocked.add(key)
            continue
        done += 1
        url, secret = secrets_[row["subscription_id"]]
        body = json.dumps(cloud_event(row), separators=(",", ":"), ensure_ascii=False).encode()
        message_id = f"etablera-event-{row['event_id']}"
        now = datetime.now(timezone.utc)
        error = None
        try:
            headers = {"content-type": "application/cloudevents+json", "webhook-id": message_id,
                       "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": signer(secret).sign(message_id, now, body)}
            send(url, body, headers)
        except Exception as exc:  # noqa: BLE001 - one receiver's failure must not stop the others
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        delay = outbox.retry_delay_seconds[min(taken[0], len(outbox.retry_delay_seconds) - 1)] \
            if outbox.retry_delay_seconds else 0
        status = leases.finish(engine, DELIVERIES, row["id"], taken[1], taken[0], error, outbox.max_attempts,
                               failed_values={"not_before": utcnow() + timedelta(seconds=delay)})
        if status != "sent":
            blocked.add(key)
        if status in ("sent", "failed", "dead"):
            setattr(result, status, getattr(result, status) + 1)
    return result


def _in_order():
    """No earlier delivery of the same case and subscription is still unsent."""
    earlier = DELIVERIES.alias("earlier")
    return ~exists().where(earlier.c.subscription_id == DELIVERIES.c.subscription_id,
                           earlier.c.case_id == DELIVERIES.c.case_id, earlier.c.seq < DELIVERIES.c.seq,
                           earlier.c.status != "sent")


def _candidates(engine: Engine, started: datetime, stale: datetime, batch: int = 500):
    d = DELIVERIES.c
    after = 0
    while True:
        with transaction(engine, write=False) as conn:
            now = utcnow()
            rows = conn.execute(
                select(d.id, d.subscription_id, d.event_id, d.case_id, d.seq, EVENTS.c.txid, EVENTS.c.trigger,
                       EVENTS.c.from_state, EVENTS.c.to_state, EVENTS.c.at, EVENTS.c.municipality)
                .select_from(DELIVERIES.join(EVENTS, EVENTS.c.id == d.event_id))
                .where(d.status.in_(("pending", "failed", "sending")), leases.claimable(DELIVERIES, started, stale),
                       (d.not_before.is_(None)) | (d.not_before <= now), d.id > after)
                .order_by(d.id).limit(batch)).mappings().all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


def cloud_event(row) -> dict:
    """The CloudEvents 1.0 document (structured mode) of one feed event."""
    data = feed.item({**row, "id": row["event_id"]})
    return {"specversion": "1.0", "id": f"etablera-event-{row['event_id']}", "source": SOURCE,
            "type": f"se.etablera.case.{row['trigger']}", "subject": f"cases/{row['case_id']}",
            "time": data["at"], "datacontenttype": "application/json", "data": data}


def post(url: str, body: bytes, headers: dict) -> None:
    """POST the message; a 2xx answer is delivered, anything else raises DeliveryFailed."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:   # noqa: S310 (http(s) checked on add)
            if not 200 <= answer.status < 300:
                raise DeliveryFailed(f"HTTP {answer.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(str(getattr(exc, "reason", exc))[:200]) from None
