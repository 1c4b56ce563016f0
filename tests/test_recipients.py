"""Reminders lead somewhere (issue 15, item 8): each carries a link to the case page under
the configured base URL and still nothing about the person; people who log in and people
who are reminded are one registry (users), a user with an e-mail address gets the
reminders of the cases they are responsible for by e-mail (a real SMTP server on
loopback), one without an address gets them through the default channel, coordinators get
the escalations and a transfer's notice; the demo's reminders reach a mailbox per officer;
migration 0011 moves the officers' rows into users on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import inspect, select, text

import kit
from cli_kit import etablera, ok
from conftest import drop_pg_schema, free_port, fresh_pg_url
from identities import pnr
from etablera.access import accounts
from etablera.cases.assignment import check_officer
from etablera.demo import cohort
from etablera.demo.bulk import write_cohort
from etablera.models import Case, Reminder, ReminderDelivery, User
from etablera.models.agreements import AgreementBook
from etablera.models.config_files import ConfigError
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.database import MIGRATIONS, make_engine, transaction, upgrade
from etablera.models.ladder import get_reminder_config, load_reminder_config
from etablera.reminders import deadlines, officers, outbox
from etablera.reminders.links import CASE_PATH

CONFIG = load_reminder_config(DEFAULT_DIR)
NO_AGREEMENTS = AgreementBook(directory=DEFAULT_DIR / "nonexistent", agreements=())
BASE = "https://etablera.kommun.example.se/app"
GIVEN, FAMILY = "Özlem", "Yılmazer"


def with_delivery(**changes):
    return replace(CONFIG, delivery=CONFIG.delivery.model_copy(update=changes))


def escalated_case(engine, serial: int = 123, **officers_) -> int:
    """A case of 0581 registered 2 March 2026 with a name, checked on 22 April: its
    module 1 escalation (to its officers and the coordinators)."""
    case_id = kit.register(engine, pnr("19900101", serial), "0581", "2026-02-20", "2026-03-02", actor="t",
                           given_name=GIVEN, family_name=FAMILY, **officers_)
    deadlines.record_due(engine, kit.at("2026-04-22"), config=CONFIG, book=NO_AGREEMENTS)
    return case_id


def captured(engine, config):
    sent = []
    outbox.deliver(engine, config=config,
                   send=lambda url, subject, body, *, recipient, message_id: sent.append(
                       {"url": url, "subject": subject, "body": body, "to": recipient}))
    return sent


# ------------------------------------------------------------------ the link

def test_the_reminder_links_to_the_case_page_and_names_nobody(engine):
    kit.officer(engine, "k1")
    case_id = escalated_case(engine, kommun_officer="k1")
    sent = captured(engine, with_delivery(base_url=BASE))
    assert sorted(m["to"] for m in sent) == ["coordinator:0581", "k1"]
    person = pnr("19900101")
    for message in sent:
        assert f"Öppna ärendet: {BASE}/cases/{case_id}" in message["body"].splitlines()
        whole = message["subject"] + message["body"]
        assert person not in whole and person.replace("-", "")[2:] not in whole
        assert GIVEN not in whole and FAMILY not in whole
    # English when the delivery's language is, and the notice of a transfer links too
    kit.officer(engine, "samo0180", "0180", role="coordinator")
    kit.advance(engine, case_id, "transfer", "2026-04-23", actor="t", municipality="0180")
    sent = captured(engine, with_delivery(base_url=BASE + "/", language="en"))
    assert [m["to"] for m in sent] == ["samo0180"]
    assert f"Open the case: {BASE}/cases/{case_id}" in sent[0]["body"].splitlines()
    assert "Transferred in" in sent[0]["subject"]


def test_the_link_is_the_web_interfaces_case_page():
    from etablera.interfaces.http.pages.case import router
    assert ("GET", CASE_PATH) in {(method, route.path) for route in router.routes
                                  for method in getattr(route, "methods", ())}


def test_without_a_base_url_the_reminder_says_how_to_find_the_case(engine):
    case_id = escalated_case(engine)
    [message] = captured(engine, with_delivery(base_url=None))        # unassigned: the coordinators
    line = message["body"].splitlines()[-1]
    assert f"#{case_id}" in line and f"etablera case show {case_id}" in line and "http" not in line


def test_the_base_url_from_the_environment_and_a_bad_one_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("ETABLERA_BASE_URL", "https://etablera.kommun.example.se/")
    config = get_reminder_config()
    assert config.delivery.base_url == "https://etablera.kommun.example.se"
    assert config.sources["delivery.base_url"] == "$ETABLERA_BASE_URL"
    for bad in ("etablera.kommun.se", "https://x.se/?a=1", "https://user:pw@x.se", "ftp://x.se"):
        monkeypatch.setenv("ETABLERA_BASE_URL", bad)
        with pytest.raises(ConfigError) as refused:
            get_reminder_config()
        assert str(refused.value).startswith("$ETABLERA_BASE_URL: ")
    monkeypatch.delenv("ETABLERA_BASE_URL")
    monkeypatch.setenv("ETABLERA_NOTIFY_MAIL", "smtp.kommun.se")
    with pytest.raises(ConfigError) as refused:
        get_reminder_config()
    assert str(refused.value).startswith("$ETABLERA_NOTIFY_MAIL: ")
    monkeypatch.delenv("ETABLERA_NOTIFY_MAIL")
    (tmp_path / "reminders.toml").write_text((DEFAULT_DIR / "reminders.toml").read_text(encoding="utf-8").replace(
        "[delivery]\n", '[delivery]\nbase_url = "etablera.kommun.se"\n'), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_reminder_config(tmp_path)
    assert refused.value.field == "delivery.base_url"


def test_the_environment_is_applied_once_per_value_and_read_again_when_it_changes(monkeypatch):
    """The worklist reads the stage ladder on every view: the same values give the same
    configuration object (validated once), a changed value is seen at the next call, and a
    bad one is refused every time, not remembered as good."""
    monkeypatch.setenv("ETABLERA_BASE_URL", "https://a.kommun.example.se")
    first = get_reminder_config()
    assert get_reminder_config() is first and first.delivery.base_url == "https://a.kommun.example.se"
    monkeypatch.setenv("ETABLERA_BASE_URL", "https://b.kommun.example.se")
    monkeypatch.setenv("ETABLERA_REPORT_DIR", "/srv/rapporter")
    second = get_reminder_config()
    assert (second.delivery.base_url, second.report.folder) == ("https://b.kommun.example.se", "/srv/rapporter")
    assert second.sources["report.folder"] == "$ETABLERA_REPORT_DIR"
    monkeypatch.setenv("ETABLERA_BASE_URL", "ftp://x.se")
    for _ in range(2):
        with pytest.raises(ConfigError):
            get_reminder_config()
    monkeypatch.delenv("ETABLERA_BASE_URL")
    monkeypatch.delenv("ETABLERA_REPORT_DIR")
    plain = get_reminder_config()
    assert plain.delivery.base_url != "https://b.kommun.example.se" and "delivery.base_url" not in plain.sources


# ------------------------------------------------------------------ one registry, by e-mail

class Inbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def body(self, i: int) -> str:
        message = self.messages[i]
        part = message.get_payload(0) if message.is_multipart() else message
        return part.get_payload(decode=True).decode("utf-8")

    def to(self) -> list[str]:
        return sorted(m["To"] for m in self.messages)


@pytest.fixture
def smtp():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, f"mailto://127.0.0.1:{port}?from=etablera@example.se&mode=insecure"
    finally:
        controller.stop()


def test_users_with_an_address_get_their_cases_reminders_by_mail(any_engine, smtp, tmp_path):
    inbox, mail_url = smtp
    # a login user with an address, an AF officer registered without one, a coordinator with one
    accounts.add_user(any_engine, "k1", name="Kim Handläggare", role="officer", organisation="kommun",
                      municipality="0581", password="ett-langt-losenord", email="kim@kommun.example.se")
    officers.add_officer(any_engine, "af1", name="Alex", org="af", municipality="0581")
    officers.add_officer(any_engine, "samo", name="Sam", org="kommun", municipality="0581", role="coordinator",
                         email="Sam.Samordnare@Kommun.Example.se")
    accounts.add_user(any_engine, "k2", name="Other", role="officer", organisation="kommun", municipality="0581",
                      email="other@kommun.example.se")
    first = escalated_case(any_engine, 201, kommun_officer="k1", af_officer="af1")
    escalated_case(any_engine, 202, kommun_officer="k1", af_officer="af1")
    default = tmp_path / "default.log"
    config = with_delivery(base_url=BASE, mail_url=mail_url, default_url=f"file:{default}")
    result = outbox.deliver(any_engine, config=config)
    assert (result.sent, result.failed) == (6, 0)
    # k1's two reminders and the coordinator's two by e-mail (the address as normalised), none to k2
    assert inbox.to() == ["Sam.Samordnare@kommun.example.se"] * 2 + ["kim@kommun.example.se"] * 2
    body = inbox.body(0)
    assert f"{BASE}/cases/" in body and GIVEN not in body
    # the AF officer has no address: the default channel, by their id
    lines = [json.loads(line) for line in default.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["to"] for line in lines) == ["af1", "af1"]
    assert any(f"{BASE}/cases/{first}" in line["body"] for line in lines)
    # a notify URL comes before the address; without a mail server an address is not used
    accounts.add_user(any_engine, "k1", name="Kim Handläggare", role="officer", organisation="kommun",
                      municipality="0581", notify=f"file:{tmp_path / 'k1.log'}", update_existing=True)
    with transaction(any_engine, write=False) as conn:
        urls = outbox.addresses(conn, config.delivery)
        assert urls["k1"] == f"file:{tmp_path / 'k1.log'}"
        assert urls["samo"].startswith("mailto://127.0.0.1:") and "to=Sam.Samordnare%40kommun.example.se" in urls["samo"]
        assert "af1" not in urls
        assert "samo" not in outbox.addresses(conn, CONFIG.delivery)
    # the password survived the update; the user logs in as before
    assert accounts.authenticate(any_engine, "k1", "ett-langt-losenord")["notify"] == f"file:{tmp_path / 'k1.log'}"


def test_user_add_email_cli(cli_env):
    refused = etablera("user", "add", "k9", "--name", "Kim", "--role", "officer", "--org", "kommun",
                       "--municipality", "0581", "--no-password", "--email", "kim@@kommun.se")
    assert refused.code == 2 and "email" in refused.err and "Traceback" not in refused.err
    refused = etablera("user", "add", "k9", "--name", "Kim", "--role", "officer", "--org", "kommun",
                       "--municipality", "0581", "--no-password", "--notify", "not a url")
    assert refused.code == 2 and "notify" in refused.err
    assert ok("user", "list") == []                                      # nothing written
    doc = ok("user", "add", "k9", "--name", "Kim", "--role", "officer", "--org", "kommun", "--municipality",
             "0581", "--no-password", "--email", "kim@kommun.example.se")
    assert doc["email"] == "kim@kommun.example.se" and doc["notify"] is None
    # the officer commands are a view over the same users
    assert [o["id"] for o in ok("officer", "list")] == ["k9"]
    added = ok("officer", "add", "samo", "--name", "Sam", "--org", "kommun", "--municipality", "0581", "--role",
               "coordinator", "--notify", "mailtos://u:secret@smtp.example.se?to=s@example.se")
    assert added["notify"] == "mailtos://smtp.example.se/…" and added["login"] is False
    refused = etablera("officer", "add", "af2", "--name", "Alex", "--org", "af", "--municipality", "0581",
                       "--email", "alex at af")
    assert refused.code == 2 and "email" in refused.err
    assert ok("officer", "add", "af2", "--name", "Alex", "--org", "af", "--municipality", "0581", "--email",
              "alex@af.example.se")["email"] == "alex@af.example.se"
    users = {u["id"]: u for u in ok("user", "list")}
    assert users["samo"]["role"] == "coordinator" and users["samo"]["has_password"] is False
    assert "secret" not in etablera("user", "list").out
    # an address removed with ""
    assert ok("user", "add", "k9", "--name", "Kim", "--role", "officer", "--org", "kommun", "--municipality",
              "0581", "--no-password", "--email", "", "--update")["email"] is None


# ------------------------------------------------------------------ the demo

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def test_the_demos_reminders_reach_each_officers_mailbox(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    upgrade(engine)
    write_cohort(engine, 150, seed=5, workers=1, now=NOW)
    where = cohort.register_recipients(engine, cohort.default_mailbox(engine))
    mailbox = Path(where["mailbox"])
    assert mailbox == tmp_path / "demo-reminders"
    default = tmp_path / "default.log"
    monkeypatch.setenv("ETABLERA_NOTIFY_DEFAULT", f"file:{default}")
    monkeypatch.setenv("ETABLERA_BASE_URL", "http://127.0.0.1:8000")
    config = get_reminder_config()
    recorded = deadlines.record_due(engine, NOW, config=config).total
    assert recorded > 20
    result = outbox.deliver(engine, config=config)
    assert result.failed == 0 and result.sent >= recorded
    assert not default.exists()                     # nothing to the local default file
    with transaction(engine, write=False) as conn:
        cases = {r.id: r for r in conn.execute(select(Case.c.id, Case.c.municipality,
                                                      Case.c.kommun_officer, Case.c.af_officer))}
        deliveries = conn.execute(select(ReminderDelivery.c.recipient, Reminder.c.case_id,
                                         Reminder.c.step)
                                  .join(Reminder)).all()
    files = {path.stem: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
             for path in mailbox.glob("*.log")}
    assert sum(len(lines) for lines in files.values()) == len(deliveries)
    officers_reached = {name for name in files if not name.startswith("samordnare")}
    assert len(officers_reached) > 5 and any(name.startswith("samordnare") for name in files)
    for name, lines in files.items():
        assert {line["to"] for line in lines} == {name}
    for recipient, case_id, step in deliveries:
        if case_id is None:
            assert recipient.startswith("samordnare")           # an agreement's dates
            continue
        case = cases[case_id]
        assert recipient in (case.kommun_officer, case.af_officer, f"samordnare{case.municipality}")
        if recipient.startswith("samordnare"):          # escalations, notices, and unassigned cases
            assert step in ("escalation", "notice") or not (case.kommun_officer and case.af_officer)
    some = next(lines for name, lines in files.items() if name in officers_reached)
    assert "http://127.0.0.1:8000/cases/" in some[0]["body"]
    with transaction(engine, write=False) as conn:
        assert conn.execute(select(User.c.email).where(User.c.id == "h0581-01")).scalar_one() \
            == "h0581-01@example.org"


def test_the_demo_command_registers_the_recipients(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ETABLERA_DATABASE_URL", sqlite_url)
    done = etablera("demo", "--cases", "20", "--seed", "3")
    assert done.code == 0, done.err
    assert f"{tmp_path / 'demo-reminders'}/ID.log" in done.out + done.err
    officers_ = {o["id"]: o for o in ok("officer", "list", "--municipality", "0581")}
    assert officers_["samordnare0581"]["role"] == "coordinator" and officers_["samordnare0581"]["login"] is True
    assert officers_["h0581-02"]["email"] == "h0581-02@example.org" and officers_["h0581-02"]["login"] is False
    assert officers_["h0581-02"]["notify"] == f"file:{tmp_path / 'demo-reminders' / 'h0581-02.log'}"


# ------------------------------------------------------------------ the migration

def _alembic(conn) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _migrate(engine, revision: str, down: bool = False) -> None:
    with engine.begin() as conn:
        (command.downgrade if down else command.upgrade)(_alembic(conn), revision)


OFFICER_ROWS = (
    # id, name, org, municipality, role, notify, active
    ("k.reg", "Kim", "kommun", "0581", "officer", "file:/tmp/k.log", True),
    ("af.reg", "Alex", "af", "0581", "officer", None, True),
    ("samo.reg", "Sam", "kommun", "0180", "coordinator", "mailtos://u:p@smtp.example.se?to=s@example.se", True),
    ("gone", "Gone", "kommun", "0581", "officer", None, False),
    ("both", "Both (officer row)", "kommun", "0581", "officer", "json://hooks.example.se/x", True),
)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_migration_moves_the_officers_into_users(database, tmp_path, request):
    if database == "sqlite":
        url, server = f"sqlite:///{tmp_path / 'old.sqlite3'}", None
    else:
        server = request.getfixturevalue("pg_server")
        url = fresh_pg_url(server)
    engine = make_engine(url)
    try:
        _migrate(engine, "0010")
        with engine.begin() as conn:
            for row in OFFICER_ROWS:
                conn.execute(text("INSERT INTO officers (id, name, org, municipality, role, notify, active, "
                                  "created_at) VALUES (:id, :name, :org, :m, :role, :notify, :active, :at)"),
                             dict(zip(("id", "name", "org", "m", "role", "notify", "active"), row),
                                  at=datetime(2026, 1, 5, tzinfo=timezone.utc)))
        with engine.begin() as conn:                     # "both" logs in already
            conn.execute(text("INSERT INTO users (id, name, role, organisation, municipality, office, password_hash, "
                              "active, created_at) VALUES ('both', 'Both', 'coordinator', 'kommun', '0581', NULL, "
                              "'x', :t, :at)"), {"t": True, "at": datetime(2026, 1, 1, tzinfo=timezone.utc)})
        _migrate(engine, "0011")
        assert "officers" not in inspect(engine).get_table_names()
        with transaction(engine, write=False) as conn:
            users = {r["id"]: dict(r) for r in conn.execute(select(User)).mappings()}
        wanted = {"name": "Kim", "role": "officer", "organisation": "kommun", "municipality": "0581", "office": None,
                  "password_hash": None, "email": None, "notify": "file:/tmp/k.log", "active": True}
        assert {key: users["k.reg"][key] for key in wanted} == wanted
        assert (users["af.reg"]["organisation"], users["af.reg"]["municipality"]) == ("af", "0581")
        assert (users["samo.reg"]["role"], users["samo.reg"]["notify"]) == (
            "coordinator", "mailtos://u:p@smtp.example.se?to=s@example.se")
        assert users["gone"]["active"] is False
        # a user already: keeps their name, role and password, takes the officer's notify URL
        assert (users["both"]["name"], users["both"]["role"], users["both"]["password_hash"],
                users["both"]["notify"]) == ("Both", "coordinator", "x", "json://hooks.example.se/x")
        # the moved rows are what a case may name and whom reminders go to
        with transaction(engine) as conn:
            check_officer(conn, "k.reg", "kommun", "0581", "kommun_officer")
            check_officer(conn, "af.reg", "af", "0581", "af_officer")
            assert outbox.coordinators_by_municipality(conn) == {"0180": ["samo.reg"], "0581": ["both"]}
            assert outbox.addresses(conn, CONFIG.delivery)["k.reg"] == "file:/tmp/k.log"
        # and back: the officers table returns with the officer and coordinator users
        _migrate(engine, "0010", down=True)
        with engine.connect() as conn:
            back = {r.id: r for r in conn.execute(text("SELECT id, org, municipality, role, notify FROM officers"))}
            assert "email" not in {c["name"] for c in inspect(conn).get_columns("users")}
        assert back["samo.reg"].notify == "mailtos://u:p@smtp.example.se?to=s@example.se"
        assert set(back) == {"k.reg", "af.reg", "samo.reg", "gone", "both"}
        _migrate(engine, "head")
    finally:
        engine.dispose()
        if server:
            drop_pg_schema(server, url)

