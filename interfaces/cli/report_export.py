"""`etablera report export`: the report's figures per municipality and one row per case,
pseudonymised for one recipient (reports/export.py says what is in it and what is not)."""

from __future__ import annotations

from pathlib import Path

import click

from etablera.interfaces.cli.common import common, principal
from etablera.interfaces.cli.output import emit, wording
from etablera.statemachine.errors import BadInput

WORDS = {
    "written": ("exporten till {recipient} skrevs till {output}: {figures} värden för {municipalities} kommuner "
                "och {cases} ärenden under pseudonym ({files})",
                "the export for {recipient} was written to {output}: {figures} figures for {municipalities} "
                "municipalities and {cases} pseudonymised cases ({files})"),
    "period": ("period: {start} – {end}", "period: {start} – {end}"),
    "beginning": ("början", "the beginning"),
}
_w = wording(WORDS)


@click.command("export")
@click.option("--recipient", required=True, help="Who receives it (e.g. nationell-uppfoljning): the pseudonyms "
                                                 "are this recipient's own.")
@click.option("--period", default=None, help="A year (YYYY) or a month (YYYY-MM); or --from/--to.")
@click.option("--from", "start", default=None, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "end", default=None, help="Last day of the period (YYYY-MM-DD), included. Default: today.")
@click.option("--municipality", "municipalities", multiple=True,
              help="Municipality code; repeat for several. Default: the whole country.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The directory to write to (default: export-RECIPIENT-FROM-TO here).")
@common
def export(options, recipient, period, start, end, municipalities, output):
    """Pseudonymised statistics for a recipient such as the national follow-up: the
    report's figures per municipality and one row per case under a pseudonym that is
    stable for this recipient, as CSV and JSON; no identity numbers, names or free text."""
    from etablera.cases.parsing import parse_day
    from etablera.models.database import get_engine
    from etablera.reports.export import check_recipient, export as write_export, period_bounds
    from etablera.reports.scope import make_scope
    check_recipient(recipient)
    if period is not None:
        if start is not None or end is not None:
            raise BadInput("export_period_and_dates", field="period")
        first, last = period_bounds(period)
    else:
        first, last = parse_day(start, "from"), parse_day(end, "to")
    scope = make_scope(municipalities, first, last, lang=options.lang)
    if output is None:
        output = Path(f"export-{recipient}-{scope.start.isoformat() if scope.start else 'start'}-{scope.end}")
    engine = get_engine()
    doc = write_export(engine, scope, recipient, output, who=principal(options, engine))
    lang = options.lang

    def text(d):
        return "\n".join([
            _w("written", lang, recipient=d["recipient"], output=d["output"], figures=d["figures"],
               municipalities=d["municipalities_with_figures"], cases=d["cases"], files=", ".join(d["files"])),
            _w("period", lang, start=d["period"]["from"] or _w("beginning", lang), end=d["period"]["to"])])
    emit(options, doc, text)
