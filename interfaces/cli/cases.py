"""`etablera case ...`: register, show, list, history, events, advance."""

from __future__ import annotations

import click

from etablera.interfaces.cli.common import changing, common, parse_sets, principal
from etablera.interfaces.cli.output import emit, table
from etablera.models.database import get_engine
from etablera.cases import queries, service, tracks
from etablera.cases.parsing import parse_day


@click.group()
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
@common
@changing
def register(options, at, person, municipality, permit_date, reception_date, no_upper_secondary,
             kommun_officer, af_officer, note):
    """Register a newcomer (module 1, inskriven)."""
    engine = get_engine()
    who = principal(options, engine)
    case_id = service.register(
        engine, who, person=person, municipality=municipality, permit_date=parse_day(permit_date, "permit_date"),
        reception_date=parse_day(reception_date, "reception_date"), no_upper_secondary=no_upper_secondary,
        kommun_officer=kommun_officer, af_officer=af_officer, at=at, note=note)
    doc = queries.show_case(engine, who, case_id, lang=options.lang)
    emit(options, doc, lambda d: f"case {d['id']} registered: {d['state_label']} "
                                 f"(target group {d['target_group']}, due {d['due']})")


def _case_text(d: dict) -> str:
    lines = [f"Ärende {d['id']}  ({d['municipality']} {d['municipality_name'] or ''})".rstrip(),
             f"  Person:            {d['person']}",
             f"  Målgrupp:          {d['target_group']}",
             f"  Läge:              {d['state_label']}  [{d['state']}] sedan {d['state_since']}",
             f"  Förfaller:         {d['due'] or '–'}   (etablering senast {d['establishment_due']})",
             f"  Plan / spår:       {d['plan'] or '–'} / {d['track'] or '–'}"
             + ("  (GÄLLER INTE i denna kommun)" if d.get("track_valid") is False else ""),
             f"  Handläggare:       kommun {d['kommun_officer'] or '–'}, AF {d['af_officer'] or '–'}",
             f"  Version:           {d['version']}"]
    if d.get("track_warning"):
        lines.append(f"  Varning:           {d['track_warning']}")
    if d["measures"]:
        lines.append("  Insatser:")
        lines += [f"    #{m['id']} {m['type_label']}: {m['state_label']}, förfaller {m['due']}"
                  + (f" ({m['component']})" if m["component"] else "") for m in d["measures"]]
    return "\n".join(lines)


@case.command()
@click.argument("case_id", type=int)
@common
def show(options, case_id):
    """Show a case (the access is logged)."""
    engine = get_engine()
    emit(options, queries.show_case(engine, principal(options, engine), case_id, lang=options.lang), _case_text)


@case.command("list")
@click.option("--municipality", default=None)
@click.option("--state", default=None, help="A state (module2.preparing) or a module (module2).")
@click.option("--limit", default=1000, show_default=True)
@common
def list_(options, municipality, state, limit):
    """List cases (no personal data)."""
    rows = queries.list_cases(get_engine(), municipality=municipality, state=state, limit=limit, lang=options.lang)
    emit(options, rows, lambda r: table(r, [("id", "ärende"), ("municipality", "kommun"), ("state_label", "läge"),
                                            ("due", "förfaller"), ("track", "spår")]))


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
                line += f"  [hoppar över {', '.join(e['skipped'])}: {e['reason_label']}]"
            if e["note"]:
                line += f"  «{e['note']}»"
            out.append(line)
        return "\n".join(out)
    emit(options, events, text)


@case.command()
@click.argument("case_id", type=int)
@common
def events(options, case_id):
    """What can be done now, and the data each trigger needs."""
    engine = get_engine()
    doc = service.permitted_events(engine, principal(options, engine), case_id, lang=options.lang)

    def text(d):
        out = [f"Ärende {d['case']}: {d['state_label']} [{d['state']}], version {d['version']}"]
        for e in d["events"]:
            out.append(f"  {e['trigger']}: {e['label']} → {', '.join(s['label'] for s in e['leads_to'])}")
            for f in e["fields"]:
                need = "krävs" if f["required"] and "required_when" not in f else "valfritt"
                if "required_when" in f:
                    need = "krävs när " + ", ".join(f"{k}={'|'.join(v)}" for k, v in f["required_when"].items())
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
    doc["warnings"] = tracks.warnings(event["data"])
    emit(options, doc, lambda d: f"case {d['id']}: {trigger} → {d['state_label']} [{d['state']}]"
                                 + (f", skipped {', '.join(event['skipped'])}" if event["skipped"] else "")
                                 + "".join(f"\nwarning: {w}" for w in d["warnings"]))
