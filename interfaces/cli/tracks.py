"""`etablera track ...`: local job tracks (lokala jobbspår) as they are lived in module 3."""

from __future__ import annotations

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import emit, table
from etablera.models.database import get_engine
from etablera.cases import tracks


@click.group()
def track():
    """Local job tracks (lokala jobbspår): who is in them."""


@track.command()
@click.argument("track_id", metavar="TRACK")
@click.option("--municipality", default=None, help="Only cases in this municipality (kommunkod).")
@common
def participants(options, track_id, municipality):
    """Who is in TRACK now and where they are (no personal data)."""
    doc = tracks.participants(get_engine(), track_id, municipality=municipality, lang=options.lang)

    def text(d):
        where = f" i {d['municipality']}" if d["municipality"] else ""
        names = ", ".join(sorted(set(d["names"].values())))
        head = f"Spår {d['track']}{f' ({names})' if names else ''}{where}: {d['count']} deltagare"
        rows = [{**p, "progress": f"{p['components']['completed']}/{p['components']['total']} klara"
                 + (f", {p['components']['overdue']} försenade" if p["components"]["overdue"] else ""),
                 "valid": "ja" if p["track_valid"] else "NEJ"} for p in d["participants"]]
        body = table(rows, [("case_id", "ärende"), ("municipality", "kommun"), ("state_label", "läge"),
                            ("since", "sedan"), ("due", "förfaller"), ("progress", "moment"),
                            ("valid", "spåret gäller")])
        notes = [f"  ärende {p['case_id']}: {p['track_warning']}" for p in d["participants"] if p["track_warning"]]
        return "\n".join([head, body] + (["Varning:"] + notes if notes else []))
    emit(options, doc, text)
