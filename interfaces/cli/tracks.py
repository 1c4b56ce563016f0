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
        t = (lambda sv, en: en) if options.lang == "en" else (lambda sv, en: sv)  # noqa: E731
        where = f" {t('i', 'in')} {d['municipality']}" if d["municipality"] else ""
        names = ", ".join(sorted(set(d["names"].values())))
        head = (f"{t('Spår', 'Track')} {d['track']}{f' ({names})' if names else ''}{where}: {d['count']} "
                f"{t('deltagare', 'participants')}")
        rows = [{**p, "progress": f"{p['components']['completed']}/{p['components']['total']} {t('klara', 'done')}"
                 + (f", {p['components']['overdue']} {t('försenade', 'overdue')}" if p["components"]["overdue"] else ""),
                 "valid": t("ja", "yes") if p["track_valid"] else t("NEJ", "NO")} for p in d["participants"]]
        body = table(rows, [("case_id", "ärende", "case"), ("municipality", "kommun", "municipality"),
                            ("state_label", "läge", "state"), ("since", "sedan", "since"), ("due", "förfaller", "due"),
                            ("progress", "moment", "components"), ("valid", "spåret gäller", "track valid")],
                     options.lang)
        notes = [f"  {t('ärende', 'case')} {p['case_id']}: {p['track_warning']}"
                 for p in d["participants"] if p["track_warning"]]
        return "\n".join([head, body] + ([t("Varning:", "Warning:")] + notes if notes else []))
    emit(options, doc, text)
