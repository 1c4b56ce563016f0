"""`etablera audit ...`: the skip audit and the audit-chain check."""

from __future__ import annotations

import click

from interfaces.cli.common import common, parse_bound
from interfaces.cli.output import emit, table
from models.database import get_engine, transaction
from statemachine import audit as chain
from statemachine import queries, tracks


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
    """Who skipped which module, when and why."""
    rows = queries.skips(get_engine(), municipality=municipality, since=parse_bound(since, "since"),
                         until=parse_bound(until, "until"),
                         module=module, lang=options.lang)
    emit(options, rows, lambda r: table(r, [("case_id", "ärende"), ("at", "när"), ("actor", "vem"),
                                            ("municipality", "kommun"), ("trigger", "händelse"),
                                            ("skipped", "hoppade över"), ("reason_label", "skäl"),
                                            ("justification", "motivering")]))


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
    emit(options, rows, lambda _: table(shown, [("case_id", "ärende"), ("at", "när"), ("actor", "vem"),
                                                ("municipality", "kommun"), ("track", "spår"),
                                                ("overridden", "åsidosatta krav"),
                                                ("justification", "motivering")]))


@audit.command()
@common
def verify(options):
    """Check every case's hash chain; exit 1 if anything is broken."""
    with transaction(get_engine(), write=False) as conn:
        cases, events, breaks = chain.verify(conn)
    doc = {"cases": cases, "events": events, "ok": not breaks, "breaks": [str(b) for b in breaks]}
    emit(options, doc, lambda d: (f"audit trail intact: {d['cases']} cases, {d['events']} events" if d["ok"] else
                                  "\n".join(["AUDIT TRAIL BROKEN:"] + d["breaks"])))
    if breaks:
        raise SystemExit(1)
