"""`etablera import FILE`: an existing caseload brought in, one row per person
(cases/importing.py), and `etablera import --template FILE.xlsx`, the empty workbook with
its columns explained.

Exit codes: 0 when every valid row was written (the refused rows are listed, each by line,
column and reason); 2 when nothing was written because of the file's errors: the file as a
whole is refused, a dry run found refused rows, or more rows were refused than
--max-errors allows.
"""

from __future__ import annotations

from pathlib import Path

import click

from etablera.interfaces.cli.common import common, principal
from etablera.interfaces.cli.output import emit, progress, wording
from etablera.models.database import get_engine
from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import format_number

WORDS = {
    "file_or_template": ("ange en fil att importera, eller --template FIL.xlsx",
                         "give a file to import, or --template FILE.xlsx"),
    "template": ("mallen: {file} (kolumnerna förklaras på bladet Förklaring)",
                 "the template: {file} (the columns are explained on the sheet Explanation)"),
    "progress": ("Importerar", "Importing"),
    "dry_run": ("provkörning: {rows} rader, {valid} giltiga, {refused} avvisade, {already} redan importerade; "
                "inget skrevs", "dry run: {rows} rows, {valid} valid, {refused} refused, {already} imported before; "
                "nothing written"),
    "written": ("import: {written} ärenden skrivna, {refused} rader avvisade, {already} redan importerade",
                "import: {written} cases written, {refused} rows refused, {already} imported before"),
    "too_many": ("för många fel: {refused} rader avvisade, högst {max} tillåts (--max-errors); inget skrevs",
                 "too many errors: {refused} rows refused, at most {max} allowed (--max-errors); nothing written"),
}
_w = wording(WORDS)


@click.command("import")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and write nothing.")
@click.option("--max-errors", type=click.IntRange(0, None), default=None,
              help="Write nothing if more rows than this are refused (default: write every valid row).")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write an empty .xlsx template with the columns explained, and import nothing.")
@common
def import_cases(options, file, dry_run, max_errors, template):
    """Import an existing caseload from FILE (.csv or .xlsx), one row per person in
    progress: identity number, name, municipality, permit and reception dates, the current
    state and the day it was entered, plan, track, officers, open measures. Each row is
    checked as a registration and the path to its state would be; each valid row is
    written in its own transaction with a backdated history marked as imported. The
    external reference makes it idempotent: the same file again changes nothing."""
    from etablera.cases import importing

    if template is not None:
        written = importing.write_template(template, options.lang)
        emit(options, {"template": str(written)}, lambda d: _w("template", options.lang, file=d["template"]))
        return
    if file is None:
        raise BadInput("import_file_missing", field="file")
    if not dry_run and options.actor == "unknown":
        raise BadInput("actor_missing", field="actor")
    engine = get_engine()
    who = principal(options, engine)
    with progress(options, _w("progress", options.lang)) as advance:
        result = importing.import_file(engine, who, file, dry_run=dry_run, max_errors=max_errors, progress=advance)
    doc = result.as_dict(options.lang)
    emit(options, doc, lambda d: _text(result, options.lang))
    if result.errors and (dry_run or result.refused):
        raise SystemExit(2)


def _text(result, lang: str) -> str:
    from etablera.cases.importing import error_lines

    n = {key: format_number(value, lang) for key, value in
         {"rows": result.rows, "valid": result.valid, "written": result.written, "already": result.already,
          "refused": result.refused_rows, "max": result.max_errors or 0}.items()}
    summary = (_w("dry_run", lang, **n) if result.dry_run else _w("too_many", lang, **n) if result.refused
               else _w("written", lang, **n))
    return "\n".join([*error_lines(result.errors, lang), summary])
