"""The person's register extract (registerutdrag, GDPR article 15): everything stored about
one person, found by their identity number, as one JSON document and as a readable HTML
document in Swedish (or English) that prints to PDF from a browser.

What is "about the person" is read off the schema, not listed by hand, so a table added
later is in the extract without anyone remembering it: the person's cases (`cases.person`),
then every row of every table that names one of those cases (a `case_id` column) or refers
to a row already taken (a foreign key: a reminder's deliveries), to the end. Nothing else
is taken, so two people who share a name and a birth date never see each other's rows.

Only admins and auditors produce an extract, of the cases in their municipalities (a case
elsewhere is counted, not shown). Producing it is itself in the access log: one row per
case it shows (action `extract`), in the same transaction as the reads; the identity number
asked for is never logged, and appears only inside the extract.
"""

from __future__ import annotations

import html
import json
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection, Engine

from etablera.access.principal import Principal
from etablera.access.scope import shown
from etablera.cases.audit import CASES
from etablera.cases.sealing import is_sealed
from etablera.models import load_all
from etablera.models.database import transaction
from etablera.models.identity import IdentityError, parse_identity
from etablera.models.metadata import metadata
from etablera.models.timestamps import local_date, show, utcnow
from etablera.statemachine.errors import BadInput, Forbidden
from etablera.statemachine.process import state_label, trigger_label

ACTION = "extract"
ROLES = ("admin", "auditor")
CHUNK = 500


def _tables() -> list[Table]:
    """Every table of the schema, in an order where a table comes after those it refers to."""
    load_all()
    return list(metadata.sorted_tables)


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _rows_where(conn: Connection, table: Table, column: str, ids: list) -> list[dict]:
    found = []
    order = list(table.primary_key.columns) or [table.c[column]]
    for start in range(0, len(ids), CHUNK):
        found += [{k: _plain(v) for k, v in row.items()} for row in conn.execute(
            select(table).where(table.c[column].in_(ids[start:start + CHUNK])).order_by(*order)).mappings()]
    return found


def _collect(conn: Connection, case_ids: list[int]) -> dict[str, list[dict]]:
    """Every row about the cases: their own, each table naming them, and what refers to those."""
    taken: dict[str, list[dict]] = {}
    keys: dict[str, list] = {"cases": case_ids}
    for table in _tables():
        if table.name == "cases":
            taken["cases"] = _rows_where(conn, table, "id", case_ids)
            continue
        rows: dict[tuple, dict] = {}
        links = [("case_id", case_ids)] if "case_id" in table.c else []
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if target != "cases" and target in keys and fk.column.primary_key:
                links.append((fk.parent.name, keys[target]))
        for column, ids in links:
            for row in _rows_where(conn, table, column, ids) if ids else []:
                rows[tuple(row.get(c.name) for c in table.primary_key.columns) or tuple(row.values())] = row
        if rows:
            taken[table.name] = list(rows.values())
            pk = list(table.primary_key.columns)
            if len(pk) == 1:
                keys[table.name] = [row[pk[0].name] for row in taken[table.name]]
    return taken


def extract(engine: Engine, who: Principal, person: str) -> dict:
    """The extract of everything stored about the person with identity number `person`."""
    if who.role not in ROLES:
        raise Forbidden("extract_role", field="role")
    try:
        identity = parse_identity(person, on=local_date(utcnow()))
    except IdentityError as exc:
        raise BadInput(exc.code, field="person") from None
    with transaction(engine) as conn:
        found = conn.execute(select(CASES.c.id, CASES.c.municipality).where(CASES.c.person == identity.digits)
                             .order_by(CASES.c.id)).all()
        visible = [row.id for row in found if who.sees(row.municipality)]
        tables = _collect(conn, visible) if visible else {}
        shown(conn, who, visible, ACTION)
    latest = tables.get("cases", [{}])[-1]
    return {
        "person": {"identity_number": identity.digits, "given_name": latest.get("given_name"),
                   "family_name": latest.get("family_name")},
        "produced_at": utcnow().isoformat(), "produced_by": who.id,
        "cases": visible, "cases_outside_your_municipalities": len(found) - len(visible),
        "tables": tables,
    }


# --------------------------------------------------------------------------- the readable document

WORDS = {
    "title": ("Registerutdrag", "Register extract"),
    "intro": ("Allt som finns lagrat om personen i etablera, enligt dataskyddsförordningen artikel 15. "
              "Utdraget togs fram {at} av {by}.",
              "Everything etablera holds about the person, under the GDPR article 15. Produced {at} by {by}."),
    "person": ("Personen", "The person"),
    "number": ("Person- eller samordningsnummer", "Identity or coordination number"),
    "name": ("Namn", "Name"),
    "no_cases": ("Inga ärenden om personen finns lagrade.", "No case about the person is stored."),
    "outside": ("{n} ärenden i andra kommuner än dina ingår inte.",
                "{n} cases in municipalities other than yours are not included."),
    "case": ("Ärende {id}", "Case {id}"),
    "events": ("Händelser", "Events"),
    "measures": ("Insatser", "Measures"),
    "notes": ("Anteckningar", "Notes"),
    "documents": ("Dokument", "Documents"),
    "reminders": ("Påminnelser om ärendet", "Reminders about the case"),
    "reads": ("Vem har läst eller ändrat uppgifterna", "Who has read or changed the data"),
    "other": ("Övriga lagrade uppgifter", "Other stored data"),
    "erased": ("(gallrad)", "(erased)"),
    "at": ("Tid", "Time"), "what": ("Händelse", "Event"), "from_to": ("Från → till", "From → to"),
    "by": ("Av", "By"), "note": ("Anteckning", "Note"), "who": ("Vem", "Who"), "role": ("Roll", "Role"),
    "action": ("Åtgärd", "Action"), "type": ("Typ", "Type"), "state": ("Läge", "State"), "due": ("Förfaller", "Due"),
    "field": ("Uppgift", "Field"), "value": ("Värde", "Value"), "file": ("Fil", "File"), "size": ("Storlek", "Size"),
}
# The tables the document shows in sections of their own; every other table is shown as it is.
SECTIONS = {"audit_events": "events", "measures": "measures", "notes": "notes", "documents": "documents",
            "reminders": "reminders", "access_log": "reads"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 2px solid #333; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin: .4rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: .2rem .4rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .erased { color: #777; font-style: italic; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-before: auto; } }
"""


def _w(key: str, lang: str, **values) -> str:
    text = WORDS[key][1 if lang == "en" else 0]
    return text.format(**values) if values else text


def _value(value, lang: str) -> str:
    if is_sealed(value):
        return f'<span class="erased">{_w("erased", lang)}</span>'
    if isinstance(value, (dict, list)):
        return html.escape(json.dumps(value, ensure_ascii=False, default=str))
    if value is None:
        return "–"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(value) -> str:
    if not value:
        return "–"
    try:
        return html.escape(show(datetime.fromisoformat(value)) or value)
    except (TypeError, ValueError):
        return html.escape(str(value))


def _section(name: str, rows: list[dict], lang: str) -> str:
    v = lambda x: _value(x, lang)     # noqa: E731
    if name == "events":
        body = [[_when(r["at"]), html.escape(trigger_label(r["trigger"], lang)),
                 html.escape(" → ".join(state_label(s, lang) for s in (r.get("from_state"), r.get("to_state")) if s)),
                 v(r.get("actor")), v(r.get("note"))] for r in rows]
        return _table([_w(k, lang) for k in ("at", "what", "from_to", "by", "note")], body)
    if name == "measures":
        return _table([_w(k, lang) for k in ("type", "state", "due")],
                      [[v(r.get("type")), v(r.get("state")), v(r.get("due"))] for r in rows])
    if name == "notes":
        return _table([_w(k, lang) for k in ("at", "by", "note")],
                      [[_when(r.get("at")), v(r.get("author")), v(r.get("text"))] for r in rows])
    if name == "reads":
        return _table([_w(k, lang) for k in ("at", "who", "role", "action")],
                      [[_when(r.get("at")), v(r.get("actor")), v(r.get("role")), v(r.get("action"))] for r in rows])
    return _raw(rows, lang)


def _raw(rows: list[dict], lang: str) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return _table(columns, [[_value(row.get(c), lang) for c in columns] for row in rows])


def to_html(doc: dict, lang: str = "sv") -> str:
    """The extract as one self-contained HTML document (no script, nothing fetched)."""
    person = doc["person"]
    name = " ".join(n for n in (person.get("given_name"), person.get("family_name")) if n and not is_sealed(n))
    parts = [f"<h1>{_w('title', lang)}</h1>",
             f"<p>{html.escape(_w('intro', lang, at=_when(doc['produced_at']), by=doc['produced_by']))}</p>",
             f"<h2>{_w('person', lang)}</h2>",
             _table([_w("field", lang), _w("value", lang)],
                    [[_w("number", lang), html.escape(person["identity_number"])],
                     [_w("name", lang), html.escape(name) or "–"]])]
    if doc["cases_outside_your_municipalities"]:
        parts.append(f"<p>{_w('outside', lang, n=doc['cases_outside_your_municipalities'])}</p>")
    tables = doc["tables"]
    if not doc["cases"]:
        parts.append(f"<p>{_w('no_cases', lang)}</p>")
    for case in tables.get("cases", []):
        parts.append(f"<h2>{_w('case', lang, id=case['id'])}</h2>")
        parts.append(_table([_w("field", lang), _w("value", lang)],
                            [[html.escape(k), _value(val, lang)] for k, val in case.items()]))
        for table, section in SECTIONS.items():
            rows = [r for r in tables.get(table, []) if r.get("case_id") == case["id"]]
            if rows:
                parts.append(f"<h3>{_w(section, lang)}</h3>{_section(section, rows, lang)}")
    others = {t: rows for t, rows in tables.items() if t != "cases" and t not in SECTIONS}
    if others:
        parts.append(f"<h2>{_w('other', lang)}</h2>")
        for table, rows in others.items():
            parts.append(f"<h3>{html.escape(table)}</h3>{_raw(rows, lang)}")
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    return (f'<!doctype html><html lang="{"en" if lang == "en" else "sv"}"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f"<title>{_w('title', lang)}</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
