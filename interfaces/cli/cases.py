"""`etablera case ...`: register, show, list, history, events, advance."""

from __future__ import annotations

import click

from etablera.interfaces.cli.common import LazyGroup, changing, common, parse_sets, principal
from etablera.interfaces.cli.output import emit, table, wording
from etablera.models.database import get_engine
from etablera.cases import queries
from etablera.cases.parsing import parse_day
from etablera.cases.late_registration import registration_warnings
from etablera.interfaces.cli.person import person_lines, person_options

# Every word these commands print, Swedish and English: the text follows --lang.
WORDS = {
    "registered": ("ärende {id} inskrivet: {state} (målgrupp {group}, förfaller {due})",
                   "case {id} registered: {state} (target group {group}, due {due})"),
    "case": ("Ärende", "Case"),
    "person": ("Person", "Person"),
    "target_group": ("Målgrupp", "Target group"),
    "state": ("Läge", "State"),
    "since": ("sedan", "since"),
    "due": ("Förfaller", "Due"),
    "establishment_due": ("etablering senast", "establishment by"),
    "plan_track": ("Plan / spår", "Plan / track"),
    "not_valid_here": ("GÄLLER INTE i denna kommun", "NOT VALID in this municipality"),
    "officers": ("Handläggare", "Officers"),
    "municipal": ("kommun", "municipality"),
    "af": ("AF", "AF"),
    "version": ("Version", "Version"),
    "warning": ("Varning", "Warning"),
    "measures": ("Insatser", "Measures"),
    "measure_due": ("förfaller", "due"),
    "skips": ("hoppar över", "skips"),
    "required": ("krävs", "required"),
    "optional": ("valfritt", "optional"),
    "required_when": ("krävs när", "required when"),
    "version_lower": ("version", "version"),
    "advanced": ("ärende {id}: {trigger} → {state} [{code}]", "case {id}: {trigger} → {state} [{code}]"),
    "skipped": ("hoppade över", "skipped"),
    "warning_line": ("varning", "warning"),
}
LIST_COLUMNS = [("id", "ärende", "case"), ("municipality", "kommun", "municipality"), ("state_label", "läge", "state"),
                ("due", "förfaller", "due"), ("track", "spår", "track")]


_w = wording(WORDS)


# The commands that change a case import the use cases (the process, the agreements) when
# they run, so `case show`, `list` and `history` read with SQLAlchemy Core alone
# (tests/test_read_path.py). The commands kept in modules of their own, imported when run:
# notes and documents (cli/journal.py), responsibility (cli/assignment.py), the person and
# search (cli/person.py), corrections (cli/corrections.py) and legal holds (cli/gallring.py).
MORE_COMMANDS = {
    **{name: f"etablera.interfaces.cli.journal:{attribute}" for name, attribute in
       (("note", "note"), ("notes", "notes_"), ("attach", "attach"), ("documents", "documents_"),
        ("document", "document"))},
    **{name: f"etablera.interfaces.cli.assignment:{name}" for name in ("assign", "take", "reassign")},
    "person": "etablera.interfaces.cli.person:person", "search": "etablera.interfaces.cli.person:search",
    "correct": "etablera.interfaces.cli.corrections:correct", "hold": "etablera.interfaces.cli.gallring:hold",
}


@click.group(cls=LazyGroup, lazy=MORE_COMMANDS)
def case():
    """Cases (ärenden): register, look up and advance them through the process."""


@case.command()
@click.option("--person", required=True, help="Personnummer or samordningsnummer (YYYYMMDD-NNNC).")
@click.option("--municipality", required=True, help="Municipality code (kommunkod), four digits.")
@click.option("--permit-date", required=True, help="Residence permit date (YYYY-MM-DD).")
@click.option("--reception-date", default=None, help="Municipal reception date (YYYY-MM-DD).")
@click.option("--no-upper-secondary", is_flag=True, help="No completed upper-secondary education.")
@click.option("--kommun-officer", default=None, help="Responsible municipal officer id.")
@click.option("--af-officer", default=None, help="Responsible AF officer id.")
@click.option("--note", default=None)
@person_options
@common
@changing
def register(options, at, person, municipality, permit_date, reception_date, no_upper_secondary,
             kommun_officer, af_officer, note, **details):
    """Register a newcomer (module 1, inskriven); the person's name, language and contact
    details are optional."""
    from etablera.cases import service

    engine = get_engine()
    who = principal(options, engine)
    case_id = service.register(
        engine, who, person=person, municipality=municipality, permit_date=parse_day(permit_date, "permit_date"),
        reception_date=parse_day(reception_date, "reception_date"), no_upper_secondary=no_upper_secondary,
        kommun_officer=kommun_officer, af_officer=af_officer, at=at, note=note,
        **{k: v for k, v in details.items() if v is not None})
    doc = queries.show_case(engine, who, case_id, lang=options.lang)
    doc["warnings"] = registration_warnings(doc, options.lang)       # the establishment time already over
    emit(options, doc, lambda d: _w("registered", options.lang, id=d["id"], state=d["state_label"],
                                    group=d["target_group"], due=d["due"])
                                 + "".join(f"\n{_w('warning_line', options.lang)}: {w['message']}"
                                           for w in d["warnings"]))


def _case_text(d: dict, lang: str = "sv") -> str:
    def head(key: str) -> str:
        return f"  {_w(key, lang) + ':':<19}"
    lines = [f"{_w('case', lang)} {d['id']}  ({d['municipality']} {d['municipality_name'] or ''})".rstrip(),
             f"{head('person')}{d['person']}",
             *person_lines(d, lang),
             f"{head('target_group')}{d['target_group']}",
             f"{head('state')}{d['state_label']}  [{d['state']}] {_w('since', lang)} {d['state_since']}",
             f"{head('due')}{d['due'] or '–'}   ({_w('establishment_due', lang)} {d['establishment_due']})",
             f"{head('plan_track')}{d['plan'] or '–'} / {d['track'] or '–'}"
             + (f"  ({_w('not_valid_here', lang)})" if d.get("track_valid") is False else ""),
             f"{head('officers')}{_w('municipal', lang)} {d['kommun_officer'] or '–'}, "
             f"{_w('af', lang)} {d['af_officer'] or '–'}",
             f"{head('version')}{d['version']}"]
    if d.get("track_warning"):
        lines.append(f"{head('warning')}{d['track_warning']}")
    if d["measures"]:
        lines.append(f"  {_w('measures', lang)}:")
        lines += [f"    #{m['id']} {m['type_label']}: {m['state_label']}, {_w('measure_due', lang)} {m['due']}"
                  + (f" ({m['component']})" if m["component"] else "") for m in d["measures"]]
    return "\n".join(lines)


@case.command()
@click.argument("case_id", type=int)
@common
def show(options, case_id):
    """Show a case (the access is logged)."""
    engine = get_engine()
    emit(options, queries.show_case(engine, principal(options, engine), case_id, lang=options.lang),
         lambda d: _case_text(d, options.lang))


@case.command("list")
@click.option("--municipality", default=None)
@click.option("--state", default=None, help="A state (module2.preparing) or a module (module2).")
@click.option("--limit", default=1000, show_default=True)
@click.option("--queue", default=None, help="mine, unassigned, overdue, assessment, followup or transferred: "
                                            "your list, within your municipalities.")
@click.option("--overdue", is_flag=True, help="Only cases whose stage is overdue (with --queue/--sort/--csv).")
@click.option("--sort", default=None, help="due, id, state, municipality or name (-name: descending).")
@click.option("--offset", default=0, show_default=True, help="Skip this many cases (the next page).")
@click.option("--csv", "as_csv", is_flag=True, help="The list as CSV on stdout (each case access-logged).")
@common
def list_(options, municipality, state, limit, queue, overdue, sort, offset, as_csv):
    """List cases: all (no personal data), or your queue or filter (--queue, --sort, --csv)."""
    if queue or overdue or sort or offset or as_csv:
        from etablera.interfaces.cli.lists import list_queue
        return list_queue(options, municipality=municipality, state=state, limit=limit, queue=queue,
                          overdue=overdue, sort=sort, offset=offset, as_csv=as_csv)
    rows = queries.list_cases(get_engine(), municipality=municipality, state=state, limit=limit, lang=options.lang)
    emit(options, rows, lambda r: table(r, LIST_COLUMNS, options.lang))


@case.command()
@click.argument("case_id", type=int)
@common
def history(options, case_id):
    """The case's audit trail (the access is logged)."""
    engine = get_engine()
    events = queries.history(engine, principal(options, engine), case_id, lang=options.lang)

    def text(rows):
        out = []
        for e in rows:
            line = f"{e['seq']:>3} {e['at']}  {e['actor']:<12} {e['trigger_label']:<28} → {e['to_state_label']}"
            if e["skipped"]:
                line += f"  [{_w('skips', options.lang)} {', '.join(e['skipped'])}: {e['reason_label']}]"
            if e["note"]:
                line += f"  «{e['note']}»"
            line += journal_text(e.get("journal"))
            out.append(line)
        return "\n".join(out)
    emit(options, events, text)


def journal_text(journal: dict | None) -> str:
    """What `case history` adds to a note's or a document's line: the note's text, the
    document's id and name."""
    if not journal:
        return ""
    if "note" in journal:
        text = journal["note"]["text"]
        return f"  «{text}»" if text is not None else ""
    doc = journal["document"]
    return f"  [#{doc['id']} {doc['filename'] or ''}]".replace(" ]", "]")


@case.command()
@click.argument("case_id", type=int)
@common
def events(options, case_id):
    """What can be done now, and the data each trigger needs."""
    from etablera.cases import service

    engine = get_engine()
    doc = service.permitted_events(engine, principal(options, engine), case_id, lang=options.lang)

    def text(d):
        lang = options.lang
        out = [f"{_w('case', lang)} {d['case']}: {d['state_label']} [{d['state']}], "
               f"{_w('version_lower', lang)} {d['version']}"]
        for e in d["events"]:
            out.append(f"  {e['trigger']}: {e['label']} → {', '.join(s['label'] for s in e['leads_to'])}")
            for f in e["fields"]:
                need = _w("required", lang) if f["required"] and "required_when" not in f else _w("optional", lang)
                if "required_when" in f:
                    need = _w("required_when", lang) + " " + ", ".join(f"{k}={'|'.join(v)}" for k, v in f["required_when"].items())
                choices = f.get("choices")
                shown = (", ".join(choices) if isinstance(choices, list) else ", ".join(choices or {}))
                out.append(f"      {f['give_as']:<28} {f['label']} ({need})" + (f": {shown}" if shown else ""))
        return "\n".join(out)
    emit(options, doc, text)


@case.command()
@click.argument("case_id", type=int)
@click.argument("trigger")
@click.option("--reason", default=None, help="Reason code (see `etablera config show`).")
@click.option("--note", default=None, help="Justification, rationale or note.")
@click.option("--set", "sets", multiple=True, help="KEY=VALUE data for the trigger (see `case events`).")
@click.option("--expect-version", type=int, default=None,
              help="Refuse (exit 4) if the case is no longer at this version.")
@common
@changing
def advance(options, at, case_id, trigger, reason, note, sets, expect_version):
    """Fire a trigger on a case."""
    from etablera.cases import service, tracks

    raw = parse_sets(sets)
    for key, value in (("reason", reason), ("note", note)):
        if value is not None:
            raw[key] = value
    engine = get_engine()
    who = principal(options, engine)
    event = service.advance(engine, who, case_id, trigger, raw, at=at, expect_version=expect_version)
    doc = queries.show_case(engine, who, case_id, lang=options.lang)
    doc["event"] = {"seq": event["seq"], "trigger": trigger, "from_state": event["from_state"],
                    "to_state": event["to_state"], "skipped": event["skipped"]}
    doc["warnings"] = tracks.warnings(event["data"], options.lang)
    lang = options.lang
    emit(options, doc, lambda d: _w("advanced", lang, id=d["id"], trigger=trigger, state=d["state_label"],
                                    code=d["state"])
                                 + (f", {_w('skipped', lang)} {', '.join(event['skipped'])}" if event["skipped"]
                                    else "")
                                 + "".join(f"\n{_w('warning_line', lang)}: {w}" for w in d["warnings"]))
