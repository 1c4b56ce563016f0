"""`etablera case person` (change the person's details) and `etablera case search` (find a
case by identity number, name or case id), and the person's options of `case register`.
The commands are added to the `case` group in interfaces/cli/cases.py."""

from __future__ import annotations

import functools

import click

from etablera.cases import search as searching
from etablera.cases.person import update_person
from etablera.interfaces.cli.common import changing, common, principal
from etablera.interfaces.cli.output import emit, table, wording
from etablera.models.database import get_engine
from etablera.statemachine.person import DETAILS
from etablera.statemachine.process import REGISTER

LABELS = {f.name: (f.sv, f.en) for f in REGISTER.fields if f.name in DETAILS}
WORDS = {
    "name": ("Namn", "Name"),
    "language_line": ("Språk", "Language"),
    "contact": ("Kontakt", "Contact"),
    "interpreter": ("tolk behövs", "needs an interpreter"),
    "changed": ("ärende {id}: ändrat {fields} (version {version})", "case {id}: changed {fields} (version {version})"),
    "unchanged": ("ärende {id}: inget att ändra (version {version})",
                  "case {id}: nothing to change (version {version})"),
    "more": ("(fler träffar: skriv mer för att begränsa)", "(more matches: type more to narrow it)"),
}
SEARCH_COLUMNS = [("id", "ärende", "case"), ("name", "namn", "name"), ("person", "personnummer", "identity number"),
                  ("municipality", "kommun", "municipality"), ("state_label", "läge", "state")]


_w = wording(WORDS)


def person_options(func):
    """--given-name, --family-name, --language, --interpreter/--no-interpreter, --phone,
    --email (each optional; None when not given)."""
    @click.option("--given-name", default=None, help="Given name(s).")
    @click.option("--family-name", default=None, help="Family name.")
    @click.option("--language", default=None, help="Preferred language (a name or a code, e.g. arabiska, ar).")
    @click.option("--interpreter/--no-interpreter", default=None, help="Whether an interpreter is needed.")
    @click.option("--phone", default=None, help="Phone number (e.g. +46 70 123 45 67).")
    @click.option("--email", default=None, help="E-mail address.")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


def person_lines(d: dict, lang: str) -> list[str]:
    """The person's lines of `case show`'s text."""
    def head(key: str) -> str:
        return f"  {_w(key, lang) + ':':<19}"
    name = " ".join(n for n in (d.get("given_name"), d.get("family_name")) if n) or "–"
    language = (d.get("language") or "–") + (f" ({_w('interpreter', lang)})" if d.get("interpreter") else "")
    contact = ", ".join(c for c in (d.get("phone"), d.get("email")) if c) or "–"
    return [f"{head('name')}{name}", f"{head('language_line')}{language}", f"{head('contact')}{contact}"]


@click.command("person")
@click.argument("case_id", type=int)
@person_options
@click.option("--expect-version", type=int, default=None,
              help="Refuse (exit 4) if the case is no longer at this version.")
@common
@changing
def person(options, at, case_id, expect_version, **details):
    """Change the person's details on a case (each change is an audited event with the old
    and new values; an empty text clears a detail)."""
    changes = {k: v for k, v in details.items() if v is not None}
    engine = get_engine()
    result = update_person(engine, principal(options, engine), case_id, changes, expect_version=expect_version,
                           at=at)
    lang = options.lang

    def text(r):
        if not r["changed"]:
            return _w("unchanged", lang, id=r["case"], version=r["version"])
        fields = ", ".join(LABELS[k][1 if lang == "en" else 0] for k in r["changed"])
        return _w("changed", lang, id=r["case"], fields=fields, version=r["version"])
    emit(options, result, text)


@click.command("search")
@click.argument("query")
@click.option("--limit", default=searching.DEFAULT_LIMIT, show_default=True, help="At most this many (1–100).")
@common
def search(options, query, limit):
    """Find cases in your municipalities by identity number (12 or 10 digits), name (each
    word the beginning of a given or family name) or case id (123, #123). Each case shown
    is in the access log; the query is not."""
    engine = get_engine()
    result = searching.search(engine, principal(options, engine), query, limit=limit, lang=options.lang)

    def text(r):
        rows = [{**item, "name": " ".join(n for n in (item["given_name"], item["family_name"]) if n) or None,
                 "municipality": f"{item['municipality_name'] or ''} ({item['municipality']})".strip()}
                for item in r["items"]]
        return table(rows, SEARCH_COLUMNS, options.lang) + (f"\n{_w('more', options.lang)}" if r["more"] else "")
    emit(options, result, text)
