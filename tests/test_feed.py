"""The event feed (GET /api/v1/events) and the webhooks (issue 16 item 4): pages after a
cursor, the events:read scope, no event skipped when transactions commit out of id order
(PostgreSQL), and a webhook receiver on loopback that is down while events happen and
then gets each exactly once, in order per case, signed."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from standardwebhooks import Webhook

from conftest import free_port
from identities import pnr
from kit import add_note, advance, officer, register, who
from etablera.access import accounts
from etablera.access.principal import Principal
from etablera.cases import feed, webhooks
from etablera.cases.audit import EVENTS
from etablera.interfaces.http.app import create_app
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.database import make_engine, transaction
from etablera.models.ladder import load_reminder_config
from etablera.statemachine.errors import BadInput, Forbidden

CONFIG = load_reminder_config(DEFAULT_DIR)
QUICK = replace(CONFIG, delivery=CONFIG.delivery.model_copy(update={"retry_delay_seconds": (0,)}))
EVERYWHERE = Principal("feed", "Feed", "admin", "kommun", None, via="token", scopes=("events:read",))
PERMIT = date.today() - timedelta(days=400)


def _cases(engine, count: int = 2, serial: int = 1) -> list[int]:
    """Cases in 0581 (and one in 0180), each registered, talked to and given a plan; a
    note on the first (an event that is no state change)."""
    officer(engine, "k0581", "0581")
    officer(engine, "k0180", "0180")
    ids = []
    for n in range(count):
        place = "0180" if n == count - 1 else "0581"
        case = register(engine, pnr("19900101", serial + n), place, PERMIT, kommun_officer=f"k{place}")
        advance(engine, case, "hold_talk")
        advance(engine, case, "establish_plan", plan="handlingsplan")
        ids.append(case)
    add_note(engine, ids[0], "Ringde")
    return ids


def settled(engine) -> None:
    """Wait until every transaction that wrote an event has left the feed's horizon. On a
    PostgreSQL server shared with other work (other tests' databases too), any writing
    transaction of the cluster still running holds the horizon back while it runs (a
    benchmark's bulk load: minutes)."""
    if engine.dialect.name != "postgresql":
        return
    for _ in range(6000):
        with transaction(engine, write=False) as conn:
            newest = conn.execute(select(func.max(EVENTS.c.txid))).scalar()
            if newest is None or conn.execute(select(feed.XMIN)).scalar() > newest:
                return
        time.sleep(0.05)
    raise AssertionError("a transaction of the server stayed open for five minutes")


def _all(engine, who_: Principal = EVERYWHERE, limit: int = 2) -> list[dict]:
    """Every item of the feed, following `next` a page at a time."""
    settled(engine)
    items, cursor = [], None
    while True:
        page = feed.read(engine, who_, cursor, limit)
        items += page["events"]
        if not page["events"]:
            assert page["next"] == (cursor or feed.encode(feed.START))
            return items
        cursor = page["next"]


def test_the_feed_pages_the_state_changes_in_order(any_engine):
    cases = _cases(any_engine, 3)
    items = _all(any_engine)
    assert [(i["case_id"], i["trigger"]) for i in items] == [
        (c, t) for c in cases for t in ("register", "hold_talk", "establish_plan")]      # no note
    assert set(items[0]) == {"position", "event_id", "case_id", "seq", "trigger", "from_state", "to_state", "at",
                             "municipality"}
    assert items[0]["at"].endswith("Z") and items[1]["from_state"] == items[0]["to_state"]
    # An officer's token sees only their municipality's; more events continue from `next`.
    mine = Principal("k0581", "K", "officer", "kommun", ("0581",), "0581", via="token", scopes=("events:read",))
    assert {i["case_id"] for i in _all(any_engine, mine, 1000)} == set(cases[:2])
    last = feed.read(any_engine, EVERYWHERE, None, 1000)["next"]
    advance(any_engine, cases[0], "pause", reason="illness")
    settled(any_engine)
    assert [i["trigger"] for i in feed.read(any_engine, EVERYWHERE, last)["events"]] == ["pause"]
    for bad in ("x", feed.encode((1, 2))[:-1] + "!", "MTIz"):
        with pytest.raises(BadInput) as refused:
            feed.read(any_engine, EVERYWHERE, bad)
        assert refused.value.field == "after"
    with pytest.raises(BadInput):
        feed.read(any_engine, EVERYWHERE, None, 1001)


def test_the_api_needs_a_token_with_the_scope(any_engine):
    _cases(any_engine, 2)
    settled(any_engine)
    for user, role in (("feeder", "admin"), ("plain", "admin")):
        accounts.add_user(any_engine, user, name=user, role=role, organisation="kommun", municipality=None,
                          office=None, password="rätt-lösenord-123")
    scoped, doc = accounts.create_token(any_engine, "feeder", label="uppföljning", scopes=("events:read",))
    plain, _ = accounts.create_token(any_engine, "plain", label="integration")
    assert doc["scopes"] == ["events:read"]
    with pytest.raises(BadInput):
        accounts.create_token(any_engine, "feeder", label="x", scopes=("cases:write",))
    api = TestClient(create_app(any_engine))
    answer = api.get("/api/v1/events?limit=2", headers={"Authorization": f"Bearer {scoped}"})
    assert answer.status_code == 200, answer.text
    assert [e["trigger"] for e in answer.json()["events"]] == ["register", "hold_talk"]
    after = api.get(f"/api/v1/events?after={answer.json()['next']}&limit=1000",
                    headers={"Authorization": f"Bearer {scoped}"}).json()
    assert len(after["events"]) == 4
    assert api.get("/api/v1/events", headers={"Authorization": f"Bearer {plain}"}).status_code == 403
    assert api.get("/api/v1/cases", headers={"Authorization": f"Bearer {scoped}"}).status_code == 403
    assert api.get("/api/v1/events?after=nonsense",
                   headers={"Authorization": f"Bearer {scoped}"}).json()["error"]["field"] == "after"


@pytest.mark.postgres
def test_no_event_is_skipped_when_transactions_commit_out_of_id_order(pg_url):
    engine = make_engine(pg_url)
    try:
        first, second = _cases(engine, 2)
        seen = _all(engine, limit=1000)
        cursor = seen[-1]["position"]
        with transaction(engine, write=False) as conn:
            template = dict(conn.execute(select(EVENTS).where(EVENTS.c.case_id == first)
                                         .order_by(EVENTS.c.seq.desc())).mappings().first())
        # T1 writes an event (the lower id) and stays open; T2 writes one and commits.
        t1 = engine.connect()
        try:
            t1.begin()
            row = {k: v for k, v in template.items() if k not in ("id", "txid")}
            t1_id = t1.execute(insert(EVENTS).values(**{**row, "seq": 100, "trigger": "pause"})
                               .returning(EVENTS.c.id)).scalar_one()
            t2 = advance(engine, second, "pause", reason="illness")
            t2_id = _event_id(engine, second, t2["seq"])
            assert t1_id < t2_id
            early = feed.read(engine, EVERYWHERE, cursor, 1000)
            # An id cursor would hand out t2's event now and never t1's; the feed waits.
            assert early["events"] == [] and early["next"] == cursor
            t1.commit()
        finally:
            t1.close()
        settled(engine)
        late = feed.read(engine, EVERYWHERE, early["next"], 1000)["events"]
        assert [i["event_id"] for i in late] == [t1_id, t2_id]
        assert [i["event_id"] for i in _all(engine, limit=3)] == [i["event_id"] for i in seen] + [t1_id, t2_id]
    finally:
        engine.dispose()


def _event_id(engine, case_id: int, seq: int) -> int:
    with transaction(engine, write=False) as conn:
        return conn.execute(select(EVENTS.c.id).where(EVENTS.c.case_id == case_id, EVENTS.c.seq == seq)).scalar_one()


# --------------------------------------------------------------------------- webhooks

class Receiver:
    """A webhook receiver on loopback (http.server in a thread) that keeps what it got."""

    def __init__(self, port: int, status: int = 204):
        self.port, self.status, self.got = port, status, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.got.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_a_receiver_down_for_a_while_gets_each_event_once_in_order_signed(any_engine):
    port = free_port()
    sub = webhooks.add(any_engine, who("admin"), "uppfoljning", f"http://127.0.0.1:{port}/hook")
    cases = _cases(any_engine, 3)
    advance(any_engine, cases[1], "pause", reason="illness")
    # Down: connection refused. The first of each case fails; the later wait behind it.
    settled(any_engine)
    down = webhooks.deliver(any_engine, config=QUICK)
    assert down.as_dict() == {"recorded": 10, "sent": 0, "failed": 3, "dead": 0}
    advance(any_engine, cases[1], "resume")
    settled(any_engine)
    receiver = Receiver(port)
    try:
        for _ in range(5):
            if not webhooks.deliver(any_engine, config=QUICK).as_dict()["sent"]:
                break
    finally:
        receiver.close()
    signer = Webhook(sub["secret"])
    documents = [signer.verify(body, headers) for headers, body in receiver.got]    # raises if a signature is bad
    assert all(h["Content-Type"] == "application/cloudevents+json" for h, _ in receiver.got)
    ids = [d["id"] for d in documents]
    assert len(ids) == len(set(ids)) == 11                                            # each once
    per_case = defaultdict(list)
    for d in documents:
        assert d["specversion"] == "1.0" and d["type"] == f"se.etablera.case.{d['data']['trigger']}"
        assert d["subject"] == f"cases/{d['data']['case_id']}"
        per_case[d["data"]["case_id"]].append(d["data"]["seq"])
    assert all(seqs == sorted(seqs) for seqs in per_case.values())
    # The pull feed gives the same events.
    assert sorted(d["data"]["event_id"] for d in documents) == sorted(i["event_id"] for i in _all(any_engine))
    assert {d["data"]["event_id"]: d["data"] for d in documents} == {i["event_id"]: i for i in _all(any_engine)}
    listed = webhooks.subscriptions(any_engine, who("admin"))
    assert listed[0]["deliveries"] == {"sent": 11} and "secret" not in listed[0]


def test_a_dead_delivery_holds_its_case_back_until_retried(any_engine):
    port = free_port()
    receiver = Receiver(port, status=500)
    try:
        webhooks.add(any_engine, who("admin"), "af", f"http://127.0.0.1:{port}/")
        case = _cases(any_engine, 1)[0]
        settled(any_engine)
        short = replace(QUICK, delivery=QUICK.delivery.model_copy(update={"max_attempts": 2}))
        for _ in range(3):
            webhooks.deliver(any_engine, config=short)
        rows = webhooks.deliveries(any_engine, who("admin"), "af")
        assert sorted(r["status"] for r in rows) == ["dead", "pending", "pending"]
        assert len(receiver.got) == 2 and "HTTP 500" in [r for r in rows if r["status"] == "dead"][0]["last_error"]
        receiver.status = 204
        assert webhooks.deliver(any_engine, config=short).sent == 0                  # dead: still held
        assert webhooks.retry(any_engine, who("admin"), "af") == 1
        assert webhooks.deliver(any_engine, config=short).sent == 3
        seqs = [json.loads(body)["data"]["seq"] for _, body in receiver.got[2:]]
        assert seqs == [1, 2, 3] and {json.loads(b)["data"]["case_id"] for _, b in receiver.got} == {case}
    finally:
        receiver.close()
    with pytest.raises(Forbidden):
        webhooks.subscriptions(any_engine, Principal("k", "K", "officer", "kommun", ("0581",), "0581"))


def test_the_cli_manages_subscriptions_and_delivers(cli_env, db_url):
    from cli_kit import etablera, ok
    engine = make_engine(db_url)
    try:
        port = free_port()
        receiver = Receiver(port)
        try:
            added = ok("webhook", "add", "nationell", f"http://127.0.0.1:{port}/", "--municipality", "0581")
            assert added["secret"].startswith("whsec_") and added["municipalities"] == ["0581"]
            assert etablera("webhook", "add", "nationell", "http://x/").code == 2                 # exists
            bad = etablera("webhook", "add", "ny", "ftp://x/")
            assert bad.code == 2 and "url" in bad.err
            _cases(engine, 2)                       # one case in 0581, one in 0180
            settled(engine)
            assert ok("webhook", "deliver") == {"recorded": 3, "sent": 3, "failed": 0, "dead": 0}
            assert "0581" in etablera("webhook", "list").out
            assert [d["status"] for d in ok("webhook", "deliveries", "--name", "nationell")] == ["sent"] * 3
            assert ok("webhook", "remove", "nationell")["deliveries_removed"] == 3
        finally:
            receiver.close()
        assert len(receiver.got) == 3
        accounts.add_user(engine, "uppf", name="U", role="auditor", organisation="kommun", municipality=None,
                          office=None, password="rätt-lösenord-123")
        assert ok("user", "token", "uppf", "--label", "uppföljning", "--scope", "events:read")["scopes"] == [
            "events:read"]
        assert etablera("user", "token", "uppf", "--label", "x", "--scope", "cases:write").code == 2
    finally:
        engine.dispose()


def test_webhooks_by_api_and_a_sender_killed_mid_send_sends_again(any_engine):
    accounts.add_user(any_engine, "admin", name="A", role="admin", organisation="kommun", municipality=None,
                      office=None, password="rätt-lösenord-123")
    accounts.add_user(any_engine, "h0581", name="H", role="officer", organisation="kommun", municipality="0581",
                      office=None, password="rätt-lösenord-123")
    admin = {"Authorization": f"Bearer {accounts.create_token(any_engine, 'admin', label='t')[0]}"}
    officer_ = {"Authorization": f"Bearer {accounts.create_token(any_engine, 'h0581', label='t')[0]}"}
    api = TestClient(create_app(any_engine))
    port = free_port()
    made = api.post("/api/v1/webhooks", json={"name": "kommunen", "url": f"http://127.0.0.1:{port}/"}, headers=admin)
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    assert api.post("/api/v1/webhooks", json={"name": "x", "url": "http://x/"}, headers=officer_).status_code == 403
    assert api.post("/api/v1/webhooks", json={"name": "Ö", "url": "http://x/"},
                    headers=admin).json()["error"]["field"] == "name"
    assert [w["name"] for w in api.get("/api/v1/webhooks", headers=admin).json()] == ["kommunen"]
    _cases(any_engine, 1)
    settled(any_engine)
    # A sender dies after the receiver got the message, before marking it sent.
    receiver = Receiver(port)
    try:
        def dies(url, body, headers):
            webhooks.post(url, body, headers)
            raise SystemExit("killed")
        with pytest.raises(SystemExit):
            webhooks.deliver(any_engine, config=QUICK, send=dies)
        assert webhooks.deliver(any_engine, config=QUICK).sent == 0            # its lease still holds
        assert webhooks.deliver(any_engine, config=QUICK, reclaim_after=0).sent == 3
    finally:
        receiver.close()
    ids = [json.loads(body)["id"] for _, body in receiver.got]
    assert len(ids) == 4 and ids[0] == ids[1] and len(set(ids)) == 3            # the first twice: dedupe by id
    assert api.delete("/api/v1/webhooks/kommunen", headers=admin).json()["deliveries_removed"] == 3
    assert api.delete("/api/v1/webhooks/kommunen", headers=admin).status_code == 404


def test_a_subscription_in_webhooks_toml_signs_with_its_environment_variable(any_engine, tmp_path, monkeypatch):
    from etablera.models.config_files import ConfigError
    from etablera.models.webhook_settings import webhook_settings
    port = free_port()
    (tmp_path / "webhooks.toml").write_text(
        f'[[subscription]]\nname = "af"\nurl = "http://127.0.0.1:{port}/"\nsecret_env = "ETABLERA_WEBHOOK_AF"\n'
        'from_start = true\n', encoding="utf-8")
    settings = webhook_settings(tmp_path)
    _cases(any_engine, 1)
    settled(any_engine)
    monkeypatch.delenv("ETABLERA_WEBHOOK_AF", raising=False)
    receiver = Receiver(port)
    try:
        failed = webhooks.deliver(any_engine, config=QUICK, settings=settings)
        assert (failed.recorded, failed.sent, failed.failed) == (3, 0, 1) and receiver.got == []   # never unsigned
        rows = webhooks.deliveries(any_engine, who("admin"), "af", "failed")
        assert "ETABLERA_WEBHOOK_AF" in rows[0]["last_error"]
        secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        monkeypatch.setenv("ETABLERA_WEBHOOK_AF", secret)
        assert webhooks.deliver(any_engine, config=QUICK, settings=settings).sent == 3
    finally:
        receiver.close()
    assert [Webhook(secret).verify(body, headers)["data"]["seq"] for headers, body in receiver.got] == [1, 2, 3]
    listed = webhooks.subscriptions(any_engine, who("admin"))
    assert listed[0]["configured"] is True and listed[0]["created_by"] == "webhooks.toml"
    (tmp_path / "bad").mkdir()          # no secret in the file, a name and URL refused
    (tmp_path / "bad" / "webhooks.toml").write_text('[[subscription]]\nname = "AF"\nurl = "x"\nsecret = "s"\n',
                                                    encoding="utf-8")
    with pytest.raises(ConfigError):
        webhook_settings(tmp_path / "bad")
