"""`etablera case assign|take|reassign`: who is responsible for a case (cases/assignment.py)."""

from __future__ import annotations

import click

from etablera.cases import assignment
from etablera.interfaces.cli.common import changing, common, principal
from etablera.interfaces.cli.output import emit, wording
from etablera.models.database import get_engine

# Every word these commands print, Swedish and English: the text follows --lang.
WORDS = {
    "org_kommun": ("kommunen", "municipality"),
    "org_af": ("AF", "AF"),
    "nobody": ("ingen", "nobody"),
    "unchanged": ("ärende {case}: oförändrat (kommunen {kommun}, AF {af})",
                  "case {case}: unchanged (municipality {kommun}, AF {af})"),
    "changed": ("ärende {case}: {org} {old} → {new}", "case {case}: {org} {old} → {new}"),
    "preview": ("{count} ärenden skulle flyttas från {officer} (inget är ändrat; kör utan --preview för att flytta):",
                "{count} cases would move from {officer} (nothing changed; run without --preview to move them):"),
    "moved": ("{count} ärenden flyttade från {officer}:", "{count} cases moved from {officer}:"),
    "line": ("  ärende {case} ({municipality}, {org}) → {to}", "  case {case} ({municipality}, {org}) → {to}"),
}


_w = wording(WORDS)


def _changes_text(doc: dict, lang: str) -> str:
    if not doc["changed"]:
        return _w("unchanged", lang, case=doc["case"], kommun=doc["kommun_officer"] or _w("nobody", lang),
                  af=doc["af_officer"] or _w("nobody", lang))
    return "\n".join(_w("changed", lang, case=doc["case"], org=_w(f"org_{c['org']}", lang),
                        old=c["from"] or _w("nobody", lang), new=c["to"] or _w("nobody", lang))
                     for c in doc["changed"])


@click.command()
@click.argument("case_id", type=int)
@click.option("--kommun-officer", default=None, help="The municipal officer to make responsible.")
@click.option("--af-officer", default=None, help="The AF officer to make responsible.")
@click.option("--unassign", type=click.Choice(["kommun", "af"]), multiple=True,
              help="Leave this organisation without a responsible officer.")
@click.option("--expect-version", type=int, default=None,
              help="Refuse (exit 4) if the case is no longer at this version.")
@common
@changing
def assign(options, at, case_id, kommun_officer, af_officer, unassign, expect_version):
    """A coordinator assigns, reassigns or unassigns the responsible officers."""
    given = {}
    for field, value, org in (("kommun_officer", kommun_officer, "kommun"), ("af_officer", af_officer, "af")):
        if org in unassign:
            given[field] = None
        elif value is not None:
            given[field] = value
    engine = get_engine()
    doc = assignment.assign(engine, principal(options, engine), case_id, expect_version=expect_version, at=at,
                            **given)
    emit(options, doc, lambda d: _changes_text(d, options.lang))


@click.command()
@click.argument("case_id", type=int)
@click.option("--expect-version", type=int, default=None,
              help="Refuse (exit 4) if the case is no longer at this version.")
@common
@changing
def take(options, at, case_id, expect_version):
    """Take an unassigned case of your municipality ("Ta ärendet")."""
    engine = get_engine()
    doc = assignment.take(engine, principal(options, engine), case_id, expect_version=expect_version, at=at)
    emit(options, doc, lambda d: _changes_text(d, options.lang))


@click.command()
@click.option("--from", "from_officer", required=True, help="The officer whose active cases move.")
@click.option("--to", "to", multiple=True, help="The officer to move them to; several: round-robin.")
@click.option("--preview", is_flag=True, help="Show which case would go where; change nothing.")
@click.option("--expect", type=int, multiple=True,
              help="The case ids the preview showed: refuse (exit 4) if the cases to move differ.")
@common
@changing
def reassign(options, at, from_officer, to, preview, expect):
    """A coordinator moves all of one officer's active cases to others (after --preview)."""
    engine = get_engine()
    doc = assignment.reassign_all(engine, principal(options, engine), from_officer, list(to), preview=preview,
                                  expect=list(expect) or None, at=at)
    lang = options.lang

    def text(d: dict) -> str:
        head = _w("preview" if d["preview"] else "moved", lang, count=d["count"], officer=d["from"])
        return "\n".join([head] + [_w("line", lang, case=c["case"], municipality=c["municipality"],
                                      org=_w(f"org_{c['org']}", lang), to=c["to"]) for c in d["cases"]])
    emit(options, doc, text)

