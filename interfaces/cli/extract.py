"""`etablera extract PERSON`: the person's register extract (cases/extract.py), as a readable
HTML document (Swedish, or English with --lang en) or, with --json, as JSON. PERSON `-`
reads the number from standard input, so that it is not on the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from etablera.interfaces.cli.common import common, principal
from etablera.interfaces.cli.output import emit, wording
from etablera.models.database import get_engine

WORDS = {"written": ("registerutdraget: {file} ({cases} ärenden)", "the register extract: {file} ({cases} cases)")}
_w = wording(WORDS)


@click.command("extract")
@click.argument("person")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the document to this file (default: standard output).")
@common
def extract_command(options, person, output):
    """Everything stored about the person with identity number PERSON (GDPR article 15):
    cases, events, measures, notes, documents, reminders and who has read their data.
    Admins and auditors; producing it is in the access log."""
    from etablera.cases.extract import extract, to_html

    if person == "-":
        person = sys.stdin.readline().strip()
    engine = get_engine()
    doc = extract(engine, principal(options, engine), person)
    if options.as_json and output is None:
        emit(options, doc)
        return
    import json
    content = json.dumps(doc, ensure_ascii=False, indent=2) if options.as_json else to_html(doc, options.lang)
    if output is None:
        click.echo(content)
        return
    output.write_text(content, encoding="utf-8")
    click.echo(_w("written", options.lang, file=output, cases=len(doc["cases"])), err=True)
