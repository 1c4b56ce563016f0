"""Shared pieces of the web and API tests: an app on a test database, users of every
role, cases in two municipalities, logging in through the real login form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from identities import pnr
from kit import officer, register
from etablera.models import AccessLog
from etablera.models.database import make_engine, transaction
from etablera.access import accounts

PASSWORD = "rätt-lösenord-123"
# (id, role, organisation, municipality, office)
USERS = (
    ("h0581", "officer", "kommun", "0581", None),
    ("h0180", "officer", "kommun", "0180", None),
    ("af-nkpg", "officer", "af", None, "norrkoping"),
    ("samord0581", "coordinator", "kommun", "0581", None),
    ("granskare", "auditor", "kommun", None, None),
    ("admin", "admin", "kommun", None, None),
)


@dataclass
class World:
    engine: object
    url: str
    tokens: dict = field(default_factory=dict)
    cases: dict = field(default_factory=dict)

    def bearer(self, user: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def access_rows(self, **where) -> list[dict]:
        table = AccessLog
        query = select(table).order_by(table.c.id)
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        with transaction(self.engine, write=False) as conn:
            return [dict(r) for r in conn.execute(query).mappings()]


def build_world(url: str) -> World:
    engine = make_engine(url)
    world = World(engine, url)
    for user_id, role, org, municipality, office in USERS:
        accounts.add_user(engine, user_id, name=f"Test {user_id}", role=role, organisation=org,
                          municipality=municipality, office=office, password=PASSWORD)
        world.tokens[user_id], _ = accounts.create_token(engine, user_id, label="tests")
    permit = date.today() - timedelta(days=400)
    # The officers the cases name who are no login: each serves its case's municipality.
    officer(engine, "h0580", "0580")
    officer(engine, "af-sthlm", "0180", "af")
    for key, municipality, serial in (("nkpg", "0581", 101), ("nkpg2", "0581", 102), ("sthlm", "0180", 103),
                                      ("finspang", "0580", 104)):
        world.cases[key] = register(engine, pnr("19900101", serial), municipality, permit, actor="setup",
                                    kommun_officer=f"h{municipality}",
                                    af_officer="af-sthlm" if municipality == "0180" else "af-nkpg")
    return world


def login(client, user: str, password: str = PASSWORD):
    """Log in through the login form; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"user": user, "password": password, "login_csrf": token,
                                           "next": "/worklist"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    worklist = client.get("/worklist")
    return re.search(r'name="csrf" value="([^"]+)"', worklist.text).group(1)
