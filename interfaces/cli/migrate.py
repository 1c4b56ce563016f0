"""`etablera migrate`: the schema upgraded to this version's newest migration, as a step
of its own. In production (ETABLERA_ENV=production, models/environment.py) it runs once
before the web replicas start, which never upgrade the schema themselves."""

from __future__ import annotations

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import emit, wording

WORDS = {
    "upgraded": ("databasen uppgraderad från version {before} till {revision}: {database}",
                 "database upgraded from revision {before} to {revision}: {database}"),
    "created": ("databasen skapad, version {revision}: {database}",
                "database created at revision {revision}: {database}"),
    "unchanged": ("databasen är redan på senaste version {revision}: {database}",
                  "database already at the newest revision {revision}: {database}"),
}
_w = wording(WORDS)


@click.command()
@common
def migrate(options):
    """Upgrade the database's schema to this version's newest migration (safe to run
    again; on PostgreSQL two at once take turns). Prints the revision it is at."""
    from etablera.models.database import database_url, get_engine
    from etablera.models.environment import environment
    from etablera.models.schema_version import migrate as upgrade_schema
    environment()                   # a bad ETABLERA_ENV is refused here too, naming it
    before, after = upgrade_schema(get_engine())
    url = database_url()
    doc = {"database": url.split("@")[-1] if "@" in url else url, "revision": after.current,
           "previous": before.current, "upgraded": before.current != after.current}
    key = "unchanged" if not doc["upgraded"] else "created" if before.current is None else "upgraded"
    emit(options, doc, lambda d: _w(key, options.lang, before=d["previous"], revision=d["revision"],
                                    database=d["database"]))
