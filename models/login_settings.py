"""How people log in (`login.toml`, looked up like every configuration file; optional: without
it, local passwords only): local passwords on or off, and single sign-on through an
OpenID Connect provider (Entra ID, Freja eID or SITHS through the municipality's identity
provider), with the mapping from the ID token's groups or claims to a user's role,
organisation and municipality.

The client secret is never in a file: `ETABLERA_OIDC_CLIENT_SECRET` (none: a public
client, PKCE only).

    local_passwords = false          # only single sign-on: no password form, passwords refused

    [oidc]
    name = "Entra ID"                # the button: "Logga in med Entra ID"
    issuer = "https://login.microsoftonline.com/<tenant>/v2.0"
    client_id = "<application id>"

    [oidc.groups.etablera-handlaggare-0180]
    role = "officer"
    organisation = "kommun"
    municipality = "0180"
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, model_validator

from etablera.models.config_files import (Bool, MunicipalityCode, Section, Text, Where, as_search, error_at, find_stamped,
                                          load)
from etablera.models.users import ORGANISATIONS, ROLES

FILE = "login.toml"
SECRET_ENV = "ETABLERA_OIDC_CLIENT_SECRET"
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/?#]+[^\s?#]*$", description="an http(s) URL")]


class Grant(Section):
    """What a group (or the claims) gives a user: role, organisation and municipality (or AF office)."""
    role: Literal[ROLES]
    organisation: Literal[ORGANISATIONS] = "kommun"
    municipality: MunicipalityCode | None = None
    office: Text | None = Field(None, description="an AF user's office (af_offices.toml)")

    @model_validator(mode="after")
    def _scope(self):
        if self.role in ("officer", "coordinator") and self.municipality is None and self.office is None:
            raise error_at(("municipality",), "scope", "an officer or coordinator needs a municipality (or office)")
        return self


class ClaimNames(Section):
    """Claims that carry the role, organisation and municipality themselves (used when no
    group of the user maps): their names in the ID token."""
    role: Text = "role"
    organisation: Text = "org"
    municipality: Text = "municipality"
    office: Text = "office"


class OidcSection(Section):
    name: Text = Field(description="the provider as people know it: the button says \"Logga in med <name>\"")
    issuer: HttpUrl = Field(description="the issuer; its /.well-known/openid-configuration is read")
    client_id: Text
    scopes: tuple[Text, ...] = ("openid", "profile", "email")
    redirect_base_url: HttpUrl | None = Field(None, description="etablera's public address (the callback is "
                                              "<base>/login/oidc/callback); default: the request's")
    user_claim: Text = Field("preferred_username", description="the claim that is the user's id in etablera: "
                             "one the provider's administrators set (Entra ID: preferred_username, the UPN)")
    name_claim: Text = "name"
    email_claim: Text | None = Field("email", description="the user's e-mail address, where their reminders go "
                                     "(a valid address replaces the one in the registry at each login)")
    groups_claim: Text = "groups"
    groups: dict[Text, Grant] = Field({}, description="group -> role, organisation, municipality; the first "
                                      "group of this table that the user has decides")
    claims: ClaimNames | None = Field(None, description="take role, organisation and municipality from claims "
                                      "of these names when no group maps")
    provider_logout: Bool = Field(False, description="logging out also ends the provider's session "
                                  "(its end_session_endpoint), when it has one")
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _openid(self):
        host = self.issuer.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        if self.issuer.startswith("http://") and host not in ("127.0.0.1", "localhost", "[::1]"):
            raise error_at(("issuer",), "https", "must be https:// (http only on loopback, for tests)", self.issuer)
        if "openid" not in self.scopes:
            raise error_at(("scopes",), "scopes", "must include \"openid\"", list(self.scopes))
        return self


class LoginFile(Section):
    """login.toml: local passwords and single sign-on with OpenID Connect."""
    local_passwords: Bool = Field(True, description="false: no password form, password logins refused "
                                  "(single sign-on only)")
    oidc: OidcSection | None = None

    @model_validator(mode="after")
    def _some_way_in(self):
        if not self.local_passwords and self.oidc is None:
            raise error_at(("local_passwords",), "no_login", "with local passwords off, configure [oidc]", False)
        return self


def login_settings(directory: Where = None) -> LoginFile:
    """The login settings in force (read again when login.toml changes)."""
    search = as_search(directory)
    return _settings(search, *find_stamped(FILE, search))


@lru_cache(maxsize=8)
def _settings(search: tuple, path, stamp) -> LoginFile:
    return load(LoginFile, FILE, search, required=False)[0]


def client_secret() -> str | None:
    return os.environ.get(SECRET_ENV) or None
