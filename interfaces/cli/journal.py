"""`etablera case note|notes|attach|documents|document`: journal notes and attached
documents on a case (the commands are added to the `case` group in cli/cases.py)."""

from __future__ import annotations

import mimetypes
import os
import sys
import tempfile
from pathlib import Path

import click

from etablera.interfaces.cli.common import changing, common, principal
from etablera.interfaces.cli.output import emit, table, wording
from etablera.models.database import get_engine
from etablera.cases import documents, notes
from etablera.models.document_types import KNOWN_TYPES

WORDS = {
    "noted": ("ärende {case}: anteckning {id} sparad ({at})", "case {case}: note {id} saved ({at})"),
    "attached": ("ärende {case}: dokument {id} bifogat: {name} ({type}, {size} byte)",
                 "case {case}: document {id} attached: {name} ({type}, {size} bytes)"),
    "written": ("dokument {id} ({name}) skrivet till {path}", "document {id} ({name}) written to {path}"),
    "erased": ("(gallrad)", "(erased)"),
}
NOTE_COLUMNS = [("id", "nr", "no"), ("at", "när", "at"), ("author", "vem", "by"), ("text", "anteckning", "note")]
DOCUMENT_COLUMNS = [("id", "nr", "no"), ("added_at", "när", "at"), ("added_by", "vem", "by"),
                    ("filename", "fil", "file"), ("content_type", "typ", "type"), ("size", "byte", "bytes")]
_EXTENSIONS = {ext: kind for kind, exts in KNOWN_TYPES.items() for ext in exts}


_w = wording(WORDS)


@click.command("note")
@click.argument("case_id", type=int)
@click.argument("text", required=False)
@click.option("--text", "text_option", default=None, help="The note's text (or give it as TEXT, or on stdin).")
@common
@changing
def note(options, at, case_id, text, text_option):
    """Add a dated journal note (anteckning) to a case. The text is TEXT, --text, or standard
    input when neither is given (or TEXT is -)."""
    given = text_option if text_option is not None else text
    if given is None or given == "-":
        given = sys.stdin.read()
    engine = get_engine()
    doc = notes.add_note(engine, principal(options, engine), case_id, given, at=at)
    emit(options, doc, lambda d: _w("noted", options.lang, case=d["case"], id=d["id"], at=d["at"]))


@click.command("notes")
@click.argument("case_id", type=int)
@common
def notes_(options, case_id):
    """A case's journal notes, oldest first (the view is logged)."""
    engine = get_engine()
    rows = notes.list_notes(engine, principal(options, engine), case_id)
    shown = [{**r, "text": r["text"] if not r["erased"] else _w("erased", options.lang)} for r in rows]
    emit(options, rows, lambda _: table(shown, NOTE_COLUMNS, options.lang))


@click.command("attach")
@click.argument("case_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--type", "content_type", default=None,
              help="The file's content type (default: from its ending; checked against its content).")
@click.option("--name", default=None, help="The name it is shown by (default: the file's name).")
@common
@changing
def attach(options, at, case_id, file, content_type, name):
    """Attach a document (PDF, image, office document, text) to a case."""
    kind = content_type or _EXTENSIONS.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0]
    engine = get_engine()
    with file.open("rb") as fh:
        doc = documents.attach(engine, principal(options, engine), case_id, name or file.name, fh, kind, at=at)
    emit(options, doc, lambda d: _w("attached", options.lang, case=d["case"], id=d["id"], name=d["filename"],
                                    type=d["content_type"], size=d["size"]))


@click.command("documents")
@click.argument("case_id", type=int)
@common
def documents_(options, case_id):
    """A case's attached documents (the view is logged)."""
    engine = get_engine()
    rows = documents.list_documents(engine, principal(options, engine), case_id)
    emit(options, rows, lambda r: table(r, DOCUMENT_COLUMNS, options.lang))


@click.command("document")
@click.argument("document_id", type=int)
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the file.")
@common
def document(options, document_id, output):
    """Write an attached document to a file, after checking it is the file recorded (its
    SHA-256); the read is logged."""
    engine = get_engine()
    doc, content = documents.read_document(engine, principal(options, engine), document_id)
    target = output.absolute()
    fd, temp = tempfile.mkstemp(prefix=".etablera-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    doc = {**doc, "output": str(target)}
    emit(options, doc, lambda d: _w("written", options.lang, id=d["id"], name=d["filename"], path=d["output"]))
