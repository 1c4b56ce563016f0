"""`etablera audit ...`: the skip audit, the audit-chain check and a person's own
access-log extract."""

from __future__ import annotations

from pathlib import Path

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import emit, table
from etablera.models.database import get_engine, transaction
from etablera.cases import audit as chain
from etablera.cases import tracks
from etablera.cases.document_store import store_for
from etablera.statemachine.errors import BadInput
from etablera.cases.parsing import parse_bound


@click.group()
def audit():
    """The audit trail: skips, prerequisite overrides and the integrity of the chain."""


@audit.command()
@click.option("--municipality", default=None)
@click.option("--since", default=None, help="From this date or time (inclusive).")
@click.option("--until", default=None, help="Up to this date or time (exclusive).")
@click.option("--module", type=click.Choice(["2", "3"]), default=None)
@common
def skips(options, municipality, since, until, module):
    """Who skipped which module, when and why (the cases your scope holds now; each one
    shown is in the access log)."""
    from etablera.access.scope import require_role
    from etablera.cases import skip_audit
    from etablera.interfaces.cli.common import principal
    engine = get_engine()
    who = principal(options, engine)
    require_role(engine, who, who.sees_skip_audit, "skips", "read the skip audit")
    rows, offset = [], 0
    while offset is not None:
        page = skip_audit.skip_page(engine, who, municipality=municipality, module=module,
                                    since=parse_bound(since, "since"), until=parse_bound(until, "until"),
                                    limit=skip_audit.MAX_LIMIT, offset=offset, lang=options.lang)
        rows += page["items"]
        offset = page["next_offset"]
    emit(options, rows, lambda r: table(r, [("case_id", "ärende", "case"), ("at", "när", "at"), ("actor", "vem", "by"),
                                            ("municipality", "kommun", "municipality"),
                                            ("trigger", "händelse", "trigger"), ("skipped", "hoppade över", "skipped"),
                                            ("reason_label", "skäl", "reason"),
                                            ("justification", "motivering", "justification")], options.lang))


@audit.command()
@click.option("--municipality", default=None)
@click.option("--since", default=None, help="From this date or time (inclusive).")
@click.option("--until", default=None, help="Up to this date or time (exclusive).")
@common
def overrides(options, municipality, since, until):
    """Who admitted someone to a local track despite unmet prerequisites, when and why."""
    rows = tracks.overrides(get_engine(), municipality=municipality, since=parse_bound(since, "since"),
                            until=parse_bound(until, "until"))
    shown = [{**r, "overridden": "; ".join(r["overridden_prerequisites"])} for r in rows]
    emit(options, rows, lambda _: table(shown, [("case_id", "ärende", "case"), ("at", "när", "at"),
                                                ("actor", "vem", "by"), ("municipality", "kommun", "municipality"),
                                                ("track", "spår", "track"),
                                                ("overridden", "åsidosatta krav", "overridden prerequisites"),
                                                ("justification", "motivering", "justification")], options.lang))


@audit.command()
@click.option("--anchor", "anchor_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An anchor file of `audit anchor`: also find chains rewritten since it was written.")
@common
def verify(options, anchor_file):
    """Check every case's hash chain, replay it against the case row and its measures (the
    state, the municipality, the person through the number's HMAC, and every column the
    events determine), and check each note's text and document's file against the digest
    the chain recorded; exit 1 if anything is broken. The identity numbers are never
    printed."""
    from etablera.cases.anchor import read_anchor
    from etablera.cases.audit_key import load_key
    engine = get_engine()
    anchor = read_anchor(anchor_file, load_key(engine)) if anchor_file is not None else None
    with transaction(engine, write=False) as conn:
        result = chain.check(conn, store=store_for(engine), anchor=anchor)
    breaks = result.breaks
    doc = {"cases": result.cases, "events": result.events, "ok": not breaks,
           "breaks": [b.text(options.lang) for b in breaks], "notes": [n.text(options.lang) for n in result.notes]}
    if anchor is not None:
        doc["anchor"] = anchor.as_dict()
    en = options.lang == "en"

    def text(d):
        notes = [("note: " if en else "obs: ") + n for n in d["notes"]]
        if d["ok"]:
            return "\n".join([f"audit trail intact: {d['cases']} cases, {d['events']} events" if en else
                              f"granskningsspåret är obrutet: {d['cases']} ärenden, {d['events']} händelser"]
                             + notes)
        return "\n".join(["AUDIT TRAIL BROKEN:" if en else "GRANSKNINGSSPÅRET ÄR BRUTET:"] + d["breaks"] + notes)
    emit(options, doc, text)
    if breaks:
        raise SystemExit(1)


@audit.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write it (default: audit-anchor-TIME.jsonl here); never over an existing file.")
@common
def anchor(options, output):
    """Write every case's chain head (case, last seq, last hash) with the time to a file
    signed with the audit key: keep it outside the database's reach, and `audit verify
    --anchor FILE` finds any chain rewritten since."""
    from etablera.cases.anchor import write_anchor
    from etablera.cases.audit_key import load_key
    engine = get_engine()
    key = load_key(engine)
    if key is None:
        from etablera.cases.audit_key import key_path
        raise BadInput("audit_anchor_no_key", field="audit_key", file=str(key_path(engine)))
    doc = write_anchor(engine, key, output)
    en = options.lang == "en"
    emit(options, doc, lambda d: (f"anchor written: {d['file']} ({d['cases']} cases, {d['events']} events, "
                                  f"{d['created_at']})" if en else
                                  f"ankaret skrevs: {d['file']} ({d['cases']} ärenden, {d['events']} händelser, "
                                  f"{d['created_at']})"))


@audit.command("access")
@click.option("--person", required=True, help="The person's identity or coordination number.")
@common
def access(options, person):
    """A person's own log extract: every access to their cases (who, role, organisation,
    when, which case, what). The number itself is never printed or logged."""
    from etablera.access.log import person_extract
    if options.actor == "unknown":
        raise BadInput("actor_missing", field="actor")
    doc = person_extract(get_engine(), person, actor=options.actor, role="cli")

    def text(d):
        cases = ", ".join(map(str, d["cases"])) or "–"
        head = (f"Log extract (access log) produced {d['generated_at']}: {len(d['cases'])} case(s) {cases}, "
                f"{len(d['entries'])} rows" if options.lang == "en" else
                f"Registerutdrag (åtkomstlogg) skapat {d['generated_at']}: "
                f"{len(d['cases'])} ärende(n) {cases}, {len(d['entries'])} rader")
        return head + "\n" + table(d["entries"], [("at", "när", "at"), ("actor", "vem", "by"), ("role", "roll", "role"),
                                                  ("organisation", "organisation", "organisation"),
                                                  ("case_id", "ärende", "case"), ("action", "vad", "what"),
                                                  ("detail", "detalj", "detail")], options.lang)
    emit(options, doc, text)
