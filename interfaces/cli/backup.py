"""`etablera backup FILE` and `etablera restore FILE`: the embedded SQLite database with its
documents, as one archive (cases/backup.py says what it holds and why the audit key is
not in it). PostgreSQL: pg_dump and pg_restore (README: Backup and restore)."""

from __future__ import annotations

from pathlib import Path

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import emit, progress, wording
from etablera.statemachine.messages import format_number

WORDS = {
    "progress": ("Kopierar databasen", "Copying the database"),
    "written": ("säkerhetskopian skrevs: {file} ({size} MB på {seconds} s): databasversion {revision}, "
                "{cases} ärenden, {events} händelser, {documents} dokument",
                "backup written: {file} ({size} MB in {seconds} s): revision {revision}, {cases} cases, "
                "{events} events, {documents} documents"),
    "missing": ("obs: {count} dokument som databasen nämner saknades eller var ändrade och togs inte med "
                "(etablera audit verify visar vilka)",
                "note: {count} documents the database names were missing or altered and were left out "
                "(etablera audit verify shows which)"),
    "key": ("granskningsnyckeln ingår inte: säkerhetskopiera {file} för sig, skild från databasen "
            "(utan den kan personnumren i granskningsspåret inte kontrolleras)",
            "the audit key is not included: back up {file} on its own, apart from the database "
            "(without it the identity numbers in the audit trail cannot be checked)"),
    "restored": ("återställd från {file} (skapad {created}): {database}, databasversion {revision}, {cases} ärenden, "
                 "{events} händelser; {documents} dokument till {directory}",
                 "restored from {file} (made {created}): {database}, revision {revision}, {cases} cases, "
                 "{events} events; {documents} documents to {directory}"),
    "behind": ("databasversionen ligger efter den här versionen av etablera ({head}): kör etablera migrate",
               "the revision is behind this version of etablera ({head}): run etablera migrate"),
    "no_key": ("granskningsnyckeln saknas ({file}): personnumren i granskningsspåret kan inte kontrolleras",
               "the audit key is missing ({file}): the identity numbers in the audit trail cannot be checked"),
    "stray": ("obs: {count} filer i dokumentkatalogen fanns före återställningen och hör inte till den",
              "note: {count} files in the document directory were there before the restore and are not part of it"),
    "check": ("kontrollera med: etablera audit verify", "check with: etablera audit verify"),
}
_w = wording(WORDS)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pages", default=256, show_default=True, type=click.IntRange(1),
              help="Pages copied per step (writers go on between steps).")
@click.option("--pause", default=5.0, show_default=True, type=click.FloatRange(0),
              help="Milliseconds between steps.")
@common
def backup(options, file, pages, pause):
    """Back up the embedded SQLite database and its documents to FILE (a tar archive, gzip
    when FILE ends .gz or .tgz), consistent while others write. The audit key is not
    included: back it up apart. PostgreSQL: pg_dump -Fc (README)."""
    from etablera.cases.backup import backup as write_backup
    from etablera.models.database import get_engine
    with progress(options, _w("progress", options.lang)) as advance:
        last = [0]

        def step(done, total):
            advance(done - last[0], total)
            last[0] = done
        doc = write_backup(get_engine(), file, pages=pages, pause=pause / 1000, progress=step)
    lang = options.lang

    def text(d):
        lines = [_w("written", lang, file=d["file"], size=format_number(d["size"] / 1e6, lang, digits=1),
                    seconds=format_number(d["seconds"], lang, digits=1), revision=d["revision"], cases=d["cases"],
                    events=d["events"], documents=d["documents"])]
        if d["documents_missing"]:
            lines.append(_w("missing", lang, count=d["documents_missing"]))
        lines.append(_w("key", lang, file=d["audit_key_file"]))
        return "\n".join(lines)
    emit(options, doc, text)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a database (and document store) that is not empty.")
@click.option("--without-audit-key", is_flag=True,
              help="Restore although the audit key is missing (the bound identity numbers cannot be checked).")
@common(keep=False)
def restore(options, file, force, without_audit_key):
    """Restore a backup of `etablera backup` into the configured SQLite database and its
    document store. Stop the web interface and the scheduler first. Put the audit key
    back from its own backup before restoring. PostgreSQL: pg_restore (README)."""
    from etablera.cases.backup import restore as read_backup
    from etablera.models.database import get_engine
    doc = read_backup(get_engine(), file, force=force, without_audit_key=without_audit_key)
    lang = options.lang

    def text(d):
        lines = [_w("restored", lang, file=d["file"], created=d["created_at"], database=d["database"],
                    revision=d["revision"], cases=d["cases"], events=d["events"], documents=d["documents"],
                    directory=d["documents_directory"])]
        if d["behind"]:
            lines.append(_w("behind", lang, head=d["head"]))
        if not d["audit_key_present"]:
            lines.append(_w("no_key", lang, file=d["audit_key_file"]))
        if d["files_not_in_backup"]:
            lines.append(_w("stray", lang, count=d["files_not_in_backup"]))
        lines.append(_w("check", lang))
        return "\n".join(lines)
    emit(options, doc, text)
