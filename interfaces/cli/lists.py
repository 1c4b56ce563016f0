"""`etablera case list --queue/--sort/--offset/--csv`: the user's queues and lists, as the
worklist shows them (within their municipalities), a page of rows, or the whole list as
CSV with each exported case in the access log."""

from __future__ import annotations

import click

from etablera.cases import exports, list_query, queues
from etablera.cases.worklist import MAX_LIMIT
from etablera.interfaces.cli.common import principal
from etablera.interfaces.cli.output import emit, table
from etablera.models.database import get_engine
from etablera.statemachine.errors import BadInput

COLUMNS = [("id", "ärende", "case"), ("given_name", "förnamn", "given name"),
           ("family_name", "efternamn", "family name"), ("municipality", "kommun", "municipality"),
           ("state_label", "läge", "state"), ("due", "förfaller", "due"), ("days_late", "dagar sent", "days late"),
           ("kommun_officer", "handläggare", "officer")]
WORDS = {"total": ("{total} ärenden i listan, visar {first}–{last}", "{total} cases in the list, showing {first}–{last}"),
         "more": ("nästa sida: --offset {offset}", "next page: --offset {offset}")}


def list_queue(options, *, municipality, state, limit, queue, overdue, sort, offset, as_csv) -> None:
    if as_csv and options.as_json:
        raise BadInput("csv_or_json", field="csv")
    engine = get_engine()
    who = principal(options, engine)
    q = list_query.parse_query({"queue": queue, "state": state, "municipality": municipality,
                                "overdue": "1" if overdue else "", "sort": sort})
    if as_csv:
        for chunk in exports.export_csv(engine, who, q, lang=options.lang):
            click.echo(chunk, nl=False)
        return
    if limit < 1:
        raise BadInput("limit_range", field="limit", max=limit)
    items, start, doc = [], offset, None
    while len(items) < limit:                   # pages of the worklist's size up to --limit
        doc = queues.list_cases(engine, who, q, limit=min(MAX_LIMIT, limit - len(items)), offset=start,
                                lang=options.lang)
        items += doc["items"]
        if doc["next_offset"] is None:
            break
        start = doc["next_offset"]
    following = offset + len(items) if offset + len(items) < doc["total"] else None
    result = {"queue": q.queue, "query": q.params(), "sort": q.sort, "total": doc["total"], "offset": offset,
              "next_offset": following, "items": items}

    def text(d: dict) -> str:
        lang = 1 if options.lang == "en" else 0
        lines = [table(d["items"], COLUMNS, options.lang),
                 WORDS["total"][lang].format(total=d["total"], first=offset + 1 if items else 0,
                                             last=offset + len(items))]
        if following is not None:
            lines.append(WORDS["more"][lang].format(offset=following))
        return "\n".join(lines)
    emit(options, result, text)
