"""`etablera report ...` (the follow-up report) and `etablera followup ...` (follow-up
after exit: record, due, list)."""

from __future__ import annotations

from pathlib import Path

import click

from etablera.interfaces.cli.common import LazyGroup, changing, common, principal
from etablera.interfaces.cli.output import emit, table
from etablera.models.database import get_engine
from etablera.models.followup import FOLLOWUP_DAYS, FOLLOWUP_STATUSES
from etablera.cases import followup as followups
from etablera.cases.parsing import parse_day
from etablera.reports.formats import FORMATS


# `etablera report` is the report itself; its subcommands (`export`) load when used.
@click.group("report", cls=LazyGroup, lazy={"export": "etablera.interfaces.cli.report_export:export"},
             invoke_without_command=True)
@click.option("--municipality", "municipalities", multiple=True,
              help="Municipality code (kommunkod); repeat for several. Default: the whole country.")
@click.option("--from", "start", default=None, help="First day of the period (YYYY-MM-DD). Default: the beginning.")
@click.option("--to", "end", default=None, help="Last day of the period (YYYY-MM-DD), included. Default: today.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file instead of printing it.")
@common
def report(options, municipalities, start, end, fmt, output):
    """The follow-up report (uppföljning): states, flows, time in each stage, establishment,
    outcomes per track and target group, skips, overdue stages and follow-ups after exit.
    `etablera report export` writes it pseudonymised for a recipient."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    from etablera.reports.report import build_report
    from etablera.reports.scope import make_scope
    from etablera.reports.formats import render

    if options.as_json:
        fmt = "json"
    scope = make_scope(municipalities, parse_day(start, "from"), parse_day(end, "to"), lang=options.lang)
    doc = build_report(get_engine(), scope)
    body = render(doc, fmt)
    if output is None:
        click.echo(body)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(body if body.endswith("\n") else body + "\n", encoding="utf-8")
    if options.as_json:     # stdout still holds exactly one document: what was written where
        emit(options, {"output": str(output), "format": fmt, "municipalities": list(scope.municipalities),
                       "from": scope.start.isoformat() if scope.start else None, "to": scope.end.isoformat()})
        return
    click.echo(f"{'report written to' if options.lang == 'en' else 'rapporten skriven till'} {output}", err=True)


@click.group("followup")
def followup():
    """Follow-up after exit (uppföljning) at 90, 180 and 360 days."""


@followup.command("record")
@click.argument("case_id", type=int)
@click.option("--day", type=click.Choice([str(d) for d in FOLLOWUP_DAYS]), required=True,
              help="Days after the exit.")
@click.option("--status", type=click.Choice(FOLLOWUP_STATUSES), required=True,
              help="Where the person is now.")
@click.option("--note", default=None)
@common
@changing
def record(options, at, case_id, day, status, note):
    """Record where a person who left for work, own business or studies is now (audited)."""
    engine = get_engine()
    event = followups.record_followup(engine, principal(options, engine), case_id, day=int(day), status=status,
                                      at=at, note=note)
    doc = {"case": case_id, "day": int(day), "status": status, "seq": event["seq"], "state": event["to_state"]}
    emit(options, doc, lambda d: (f"case {d['case']}: {d['day']}-day follow-up recorded: {d['status']}"
                                  if options.lang == "en" else
                                  f"ärende {d['case']}: uppföljning efter {d['day']} dagar registrerad: {d['status']}"))




@followup.command("due")
@click.option("--municipality", default=None)
@click.option("--today", default=None, help="As of this date (YYYY-MM-DD); default today.")
@common
def due(options, municipality, today):
    """Follow-ups whose day has come and that nobody has recorded yet."""
    rows = [r.as_dict() for r in followups.due_followups(get_engine(), parse_day(today, "today"),
                                                         municipality=municipality)]
    emit(options, rows, lambda r: table(r, [
        ("case_id", "ärende", "case"), ("day", "dag", "day"), ("due", "förfaller", "due"),
        ("exit_state", "avslut", "exit"), ("municipality", "kommun", "municipality"),
        ("kommun_officer", "handläggare", "officer")], options.lang))


@followup.command("list")
@click.argument("case_id", type=int)
@common
def list_(options, case_id):
    """The follow-ups recorded for a case."""
    rows = followups.list_followups(get_engine(), case_id)
    emit(options, rows, lambda r: table(r, [
        ("day", "dag", "day"), ("status", "status", "status"), ("at", "när", "at"), ("actor", "av", "by")],
        options.lang))
