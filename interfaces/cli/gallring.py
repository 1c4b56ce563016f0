"""`etablera gallring [--dry-run] [--now DATE] [--protocol]`: retention and erasure
(cases/retention.py); `etablera case hold ID --reason ... [--release]`: a legal hold
(cases/holds.py, added to the `case` group in cli/cases.py)."""

from __future__ import annotations

import click

from etablera.interfaces.cli.common import changing, common, principal
from etablera.interfaces.cli.output import emit, table, wording
from etablera.models.database import get_engine
from etablera.statemachine.errors import BadInput

WORDS = {
    "applied": ("gallring {run} per {as_of}: {cases} ärenden gallrade", "gallring {run} as of {as_of}: "
                "{cases} cases erased"),
    "dry": ("provkörning per {as_of} (inget har raderats): {cases} ärenden skulle gallras",
            "dry run as of {as_of} (nothing was erased): {cases} cases would be erased"),
    "run_line": ("körning {run} per {as_of}, {started} av {actor}: {cases} ärenden",
                 "run {run} as of {as_of}, {started} by {actor}: {cases} cases"),
    "no_runs": ("inga gallringar har körts", "no erasure has been run"),
    "held": ("ärende {case}: gallringsstopp sedan {since}", "case {case}: under a legal hold since {since}"),
    "released": ("ärende {case}: gallringsstoppet hävt {released}", "case {case}: legal hold released {released}"),
    "identity": ("identitet och kontaktuppgifter", "identity and contact details"),
    "notes": ("anteckningar", "notes"),
    "documents": ("dokument", "documents"),
    "justifications": ("motiveringar", "justifications"),
    "access_log": ("åtkomstlogg", "access log"),
    "reminders": ("påminnelser", "reminders"),
}
COLUMNS = [("label", "kategori", "category"), ("period", "period", "period"),
           ("ended_before", "avslutade t.o.m.", "ended by"), ("cases", "ärenden", "cases"),
           ("items", "poster", "items"), ("rule", "regel", "rule")]

_w = wording(WORDS)


def _day(text: str | None):
    if text is None:
        return None
    from etablera.models.timestamps import parse_day
    try:
        return parse_day(text)
    except ValueError:
        raise BadInput("not_a_date", field="now") from None


def _categories(doc: dict, lang: str) -> str:
    return table([{**c, "label": _w(c["category"], lang)} for c in doc["categories"]], COLUMNS, lang)


@click.command("gallring")
@click.option("--dry-run", is_flag=True, help="Say what would be erased; erase and write nothing.")
@click.option("--now", "now", default=None, metavar="DATE",
              help="Count the periods to this date (YYYY-MM-DD; default today, never later).")
@click.option("--protocol", "show_protocol", is_flag=True,
              help="Show the protocols (gallringsprotokoll) of the latest runs instead of running.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="How many runs --protocol shows.")
@common
def gallring(options, dry_run, now, show_protocol, limit):
    """Erase the personal data of ended cases whose retention period is over
    (config/retention.toml), leaving each case as a pseudonymous record, and write a
    protocol of the run. Cases under a legal hold and active cases are never erased."""
    from etablera.cases import retention
    engine = get_engine()
    if show_protocol:
        runs = retention.protocols(engine, limit)
        emit(options, runs, lambda rs: "\n\n".join(
            _w("run_line", options.lang, run=r["run"], as_of=r["as_of"], started=r["started_at"], actor=r["actor"],
               cases=r["cases"]) + "\n" + _categories(r, options.lang) for r in rs) or _w("no_runs", options.lang))
        return
    doc = retention.run(engine, now=_day(now), dry_run=dry_run, actor=options.actor)
    head = (_w("dry", options.lang, as_of=doc["as_of"], cases=doc["cases"]) if dry_run
            else _w("applied", options.lang, run=doc["run"], as_of=doc["as_of"], cases=doc["cases"]))
    emit(options, doc, lambda d: head + "\n" + _categories(d, options.lang))


@click.command("hold")
@click.argument("case_id", type=int)
@click.option("--reason", default=None, help="Why (required; kept in the audit trail).")
@click.option("--release", is_flag=True, help="Release the case's legal hold instead.")
@common
@changing
def hold(options, at, case_id, reason, release):
    """Place a legal hold (gallringsstopp) on a case, so that nothing of it is erased, or
    release it with --release; the reason is required. Coordinators and admins."""
    from etablera.cases import holds
    engine = get_engine()
    who = principal(options, engine)
    if release:
        doc = holds.release(engine, who, case_id, reason, at=at)
        emit(options, doc, lambda d: _w("released", options.lang, case=d["case"], released=d["released"]))
    else:
        doc = holds.place(engine, who, case_id, reason, at=at)
        emit(options, doc, lambda d: _w("held", options.lang, case=d["case"], since=d["since"]))
