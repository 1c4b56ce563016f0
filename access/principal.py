"""Who acts (a `Principal`): a logged-in user, an API token's user, or the operator at the
command line, with the municipalities they may work in.

A municipal officer or coordinator works in their municipality; an AF officer in the
municipalities of their AF office (config/af_offices.toml); an auditor everywhere (or in
their municipality), read-only; an admin everywhere. Every use case takes the principal
that acts and checks its scope inside its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from etablera.access.accounts import af_offices
from etablera.statemachine.errors import Forbidden
from etablera.statemachine.messages import Code

OUTSIDE = "outside the user's municipalities"      # why a refusal of scope was logged
CHANGING_ROLES = ("officer", "coordinator", "admin")
AUDITING_ROLES = ("auditor", "admin")


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    role: str
    organisation: str
    municipalities: tuple[str, ...] | None      # None: every municipality
    home: str | None = None                     # the user's own municipality, if any
    office: str | None = None
    via: str = "session"                        # session | token
    scopes: tuple[str, ...] | None = None       # a token limited to these (events:read); None: not limited

    @property
    def can_change(self) -> bool:
        return self.role in CHANGING_ROLES

    @property
    def can_audit(self) -> bool:
        return self.role in AUDITING_ROLES

    @property
    def sees_skip_audit(self) -> bool:
        return self.role in AUDITING_ROLES + ("coordinator",)

    @property
    def scope_empty(self) -> bool:
        """No municipality at all (an AF office missing from af_offices.toml, a municipal
        user without a municipality): such a user sees nothing and is refused at login."""
        return self.municipalities == ()

    def sees(self, municipality: str | None) -> bool:
        return self.municipalities is None or municipality in self.municipalities

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "organisation": self.organisation,
                "municipalities": None if self.municipalities is None else list(self.municipalities),
                "municipality": self.home, "office": self.office, "can_change": self.can_change,
                "can_audit": self.can_audit}


def principal_for(user: dict, via: str = "session", offices: dict | None = None) -> Principal:
    """The scope of a user (a `user_doc`), from their role, organisation and office.
    `offices`: af_offices() read once by a caller that scopes many users (each read is a
    stat of the file)."""
    role, org, home = user["role"], user["organisation"], user["municipality"]
    if role == "admin" or (role == "auditor" and not home and not user["office"]):
        scope = None
    elif org == "af" and user["office"]:
        office = (af_offices() if offices is None else offices).get(user["office"])
        codes = office.municipalities if office else ()
        scope = tuple(dict.fromkeys(codes + ((home,) if home else ())))
    else:
        scope = (home,) if home else ()
    return Principal(user["id"], user["name"], role, org, scope, home, user["office"], via, user.get("scopes"))


def empty_scope_refusal(who: Principal) -> Forbidden:
    """Why `who` (whose scope is empty) sees nothing, naming the configuration to fix: the
    AF office missing from (or without municipalities in) af_offices.toml, or the user's
    missing municipality."""
    from etablera.access.accounts import offices_file
    if who.organisation == "af" and who.office:
        known = who.office in af_offices()
        exc = Forbidden("scope_office_empty" if known else "scope_office_not_configured", field="office",
                        office=Code(who.office), file=Code(str(offices_file())))
    else:
        exc = Forbidden("scope_no_municipality", field="municipality", user=Code(who.id))
    exc.denied = "empty scope: " + (f"office {who.office} not configured" if who.office else "no municipality")
    return exc



def cli_principal(engine: Engine, actor: str) -> Principal:
    """The operator at the command line, acting as `actor` (--actor / ETABLERA_ACTOR): the
    registered user of that id with their role and scope, or, for an id that is no login
    (the local operator of the embedded default), an admin."""
    from etablera.access.accounts import get_user
    from etablera.statemachine.errors import NotFound
    try:
        user = get_user(engine, actor)
    except NotFound:
        return operator(actor)
    return principal_for(user, via="cli")


def operator(actor: str, via: str = "cli") -> Principal:
    """The local operator of an installation, acting as `actor`: an admin (scripts, the demo)."""
    return Principal(actor, actor, "admin", "kommun", None, via=via)
