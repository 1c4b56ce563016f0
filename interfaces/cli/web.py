"""`etablera web` (the web interface and HTTP API) and `etablera user ...` (logins and API
tokens).

FastAPI and uvicorn are imported inside `web` only: the CLI starts without them.
"""

from __future__ import annotations

import os

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import emit, table
from etablera.models.database import get_engine
from etablera.statemachine.messages import Code

DEFAULT_THREADS = 4     # see interfaces/http/app.py: create_app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (one per core is the most that helps); more than one run under gunicorn.")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(1, 64),
              help="Requests each worker works on at once; the others wait their turn.")
@click.option("--secure-cookies", is_flag=True,
              help="Always mark cookies Secure. Without it they are Secure when the request came over HTTPS: "
                   "directly, or through a proxy listed in ETABLERA_TRUSTED_PROXIES (its X-Forwarded-Proto).")
@common(keep=False)
def web(options, host, port, workers, threads, secure_cookies):
    """The web interface and the HTTP API (OpenAPI at /api/v1/openapi.json). --lang sets the
    pages' language for a visitor who has not chosen one; --json prints where it listens as
    one JSON document; each request acts as the user logged in, whatever --actor says."""
    from etablera.interfaces.http.limits import limits
    from etablera.interfaces.http.server import serve
    from etablera.models.environment import production
    limits()                # ETABLERA_MAX_BODY_BYTES and the others (README): a bad value refused first
    engine = get_engine()
    if production():        # ETABLERA_ENV (a bad value refused here, naming it)
        schema_at_head(engine)
    else:
        from etablera.models.database import upgrade
        upgrade(engine)     # the embedded default: one process on one machine upgrades itself
    engine.dispose()        # no database connection is carried into a worker process
    if secure_cookies:
        os.environ["ETABLERA_SECURE_COOKIES"] = "1"
    os.environ["ETABLERA_WEB_THREADS"] = str(threads)
    os.environ["ETABLERA_WEB_LANG"] = options.lang
    where = {"url": f"http://{host}:{port}/", "api_docs": f"http://{host}:{port}/api/v1/docs", "workers": workers}
    if options.as_json:
        emit(options, where)
    else:
        click.echo(f"etablera web: {where['url']}  (API: {where['api_docs']})", err=True)
    serve(host=host, port=port, workers=workers)


def schema_at_head(engine) -> None:
    """In production the schema is upgraded by `etablera migrate` alone: refuse to serve
    a schema behind this version's (or ahead of it: a newer version migrated it)."""
    from etablera.models.schema_version import AT_HEAD, BEHIND, schema_state
    from etablera.statemachine.errors import NotPermitted
    state = schema_state(engine)
    if state.status != AT_HEAD:
        raise NotPermitted("schema_behind" if state.status == BEHIND else "schema_unknown",
                           revision=Code(state.current or "-"), head=Code(state.head))


@click.group()
def user():
    """Logins for the web interface and the API: users, roles, API tokens."""


@user.command("add")
@click.argument("user_id")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["officer", "coordinator", "auditor", "admin"]), required=True)
@click.option("--organisation", "--org", "organisation", type=click.Choice(["kommun", "af"]), required=True)
@click.option("--municipality", default=None, help="A municipal user's kommunkod.")
@click.option("--office", default=None, help="An AF user's office (config/af_offices.toml).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--no-password", is_flag=True, help="No web login: the user acts only through API tokens.")
@click.option("--email", default=None, help="The user's e-mail address: their reminders go there (through the mail "
                                            "server of reminders.toml [delivery] mail_url). \"\" removes it.")
@click.option("--notify", default=None, help="Where their reminders go instead (apprise: msteams://, slack://, "
                                             "json://, mailto://...; or file:PATH). \"\" removes it.")
@click.option("--update", "update_existing", is_flag=True, help="Change an existing user.")
@common
def user_add(options, user_id, name, role, organisation, municipality, office, password_stdin, no_password,
             email, notify, update_existing):
    """Create (or --update) a user. Without --password-stdin or --no-password the password
    is asked for."""
    from etablera.access.accounts import add_user
    if no_password:
        password = None
    elif password_stdin:
        password = click.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = click.prompt("Lösenord / password", hide_input=True, confirmation_prompt=True)
    doc = add_user(get_engine(), user_id, name=name, role=role, organisation=organisation,
                   municipality=municipality, office=office, password=password or None, email=email,
                   notify=notify, update_existing=update_existing)
    emit(options, doc, lambda d: f"user {d['id']}: {d['role']} ({d['organisation']}"
                                 f"{', ' + d['municipality'] if d['municipality'] else ''}"
                                 f"{', office ' + d['office'] if d['office'] else ''})"
                                 f"{', ' + d['email'] if d['email'] else ''}")


@user.command("list")
@common
def user_list(options):
    """Every user (never a password or a token)."""
    from etablera.access.accounts import list_users
    rows = list_users(get_engine())
    emit(options, rows, lambda r: table(r, [("id", "id"), ("name", "namn"), ("role", "roll"),
                                            ("organisation", "organisation"), ("municipality", "kommun"),
                                            ("office", "kontor"), ("email", "e-post"), ("notify", "avisering"),
                                            ("active", "aktiv")]))


@user.command("deactivate")
@click.argument("user_id")
@common
def user_deactivate(options, user_id):
    """No more logins for USER_ID; their sessions end and their tokens stop working."""
    from etablera.access.accounts import deactivate_user
    doc = deactivate_user(get_engine(), user_id)
    emit(options, doc, lambda d: f"user {d['id']} deactivated")


@user.command("token")
@click.argument("user_id")
@click.option("--label", required=True, help="What the token is for (an integration's name).")
@click.option("--days", default=365, show_default=True, type=int, help="Valid this many days.")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help="Limit the token to this (events:read: the event feed GET /api/v1/events, nothing else).")
@common
def user_token(options, user_id, label, days, scopes):
    """A new API token acting as USER_ID (printed once; only its hash is kept)."""
    from etablera.access.accounts import create_token
    token, doc = create_token(get_engine(), user_id, label=label, days=days, scopes=tuple(scopes))
    emit(options, {**doc, "token": token}, lambda d: f"{d['token']}\n(shown once; send it as "
                                                     "'Authorization: Bearer <token>')")


@user.command("revoke")
@click.argument("prefix")
@common
def user_revoke(options, prefix):
    """Revoke the API token that starts with PREFIX (as `user tokens` lists it)."""
    from etablera.access.accounts import revoke_token
    n = revoke_token(get_engine(), prefix)
    emit(options, {"revoked": n}, lambda d: f"revoked {d['revoked']} token(s)")


@user.command("tokens")
@click.option("--user", "user_id", default=None)
@common
def user_tokens(options, user_id):
    """API tokens (their prefixes, never the tokens)."""
    from etablera.access.accounts import list_tokens
    rows = list_tokens(get_engine(), user_id)
    emit(options, rows, lambda r: table(r, [("prefix", "prefix"), ("user", "användare"), ("label", "för"),
                                            ("expires_at", "går ut"), ("revoked_at", "återkallad")]))


@user.command("demo")
@common
def user_demo(options):
    """Create the demo logins (idempotent): officers in Norrköping (kommun and AF), a
    coordinator, an officer in Stockholm, an auditor and an admin."""
    from etablera.access.accounts import add_demo_users, demo_users_text
    doc = add_demo_users(get_engine())
    emit(options, doc, demo_users_text)
