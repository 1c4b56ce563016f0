"""The follow-up report as text a person reads (table), as CSV, as JSON, or as HTML
(reports/html.py). Rendering only: every figure is already in the document. Decimals and
percentages are written for the report's language by Babel (statemachine/messages.py):
"12,5" and "32,2 %" in Swedish, "12.5" and "32.2%" in English.
"""

from __future__ import annotations

import csv
import io

from etablera.statemachine.messages import format_number, format_percent
from etablera.statemachine.process import stage_label

def _en(doc: dict) -> bool:
    return doc.get("lang") == "en"


def _lang(doc: dict) -> str:
    return "en" if _en(doc) else "sv"


def cell(value, lang: str = "sv") -> str:
    """A figure as a table shows it: one decimal (in the language's way), a dash for none."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return format_number(value, lang, 1)
    return str(value)


def pct(value, lang: str = "sv") -> str:
    """A share as a percentage with one decimal: "32,2 %" (sv), "32.2%" (en)."""
    return "–" if value is None else format_percent(value, lang, 1)


def grid(rows: list[list], headings: list[str], lang: str = "sv") -> str:
    cells = [[cell(c, lang) if not isinstance(c, str) else c for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headings)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headings), line(["-" * w for w in widths])] + [line(r) for r in cells])


def days(value, lang: str = "sv") -> str:
    """A number of days as a person says it: whole days ("33")."""
    return "–" if value is None else format_number(int(value + 0.5), lang, 0)     # half a day up, as people round


def spread(stats: dict, lang: str = "sv") -> str:
    """The quartiles in words: "hälften tog mellan 33 och 57 dagar; 9 av 10 högst 69"."""
    if not stats.get("n"):
        return "–"
    low, high, most = days(stats["p25"], lang), days(stats["p75"], lang), days(stats["p90"], lang)
    if lang == "en":
        return f"half took between {low} and {high} days; 9 in 10 at most {most}"
    return f"hälften tog mellan {low} och {high} dagar; 9 av 10 högst {most}"


def stat_cells(stats: dict, lang: str = "sv") -> list:
    """Count, mean, median and the spread in words, for a table row."""
    return [stats["n"], stats["mean"], stats["median"], spread(stats, lang)]


def place(row: dict) -> str:
    """A municipality as the report names it: its code and name ("0581 Norrköping")."""
    return f"{row['municipality']} {row.get('name') or ''}".strip()


def sections(doc: dict) -> list[tuple[str, list[str], list[list]]]:
    """The report as (title, headings, rows) tables: shared by text, CSV and HTML."""
    en = _en(doc)
    t = (lambda sv, e: e) if en else (lambda sv, e: sv)  # noqa: E731
    lang = _lang(doc)
    out = []
    states = doc["states_now"]
    out.append((t("Ärenden per läge nu", "Cases per state now"), [t("läge", "state"), t("antal", "count")],
                [[s["label"], s["count"]] for s in states["by_state"]] + [[t("Totalt", "Total"), states["total"]]]))
    f = doc["flow"]
    out.append((t("In- och utflöde under perioden", "Entries and exits in the period"),
                [t("kommun", "municipality"), t("inskrivna", "entries"), t("inflyttade", "transfers in"),
                 t("utflyttade", "transfers out")] + [f["exit_labels"][s] for s in f["exits"]]
                + [t("avslut totalt", "exits total")],
                [[f"{m['municipality']} {m['name'] or ''}".strip(), m["entries"], m["transfers_in"],
                  m["transfers_out"]] + list(m["exits"].values()) + [m["exits_total"]] for m in f["by_municipality"]]
                + [[t("Totalt", "Total"), f["entries"], f["transfers_in"], f["transfers_out"]]
                   + list(f["exits"].values()) + [f["exits_total"]]]))
    if "corrections" in doc:
        c = doc["corrections"]
        out.append((t("Rättelser under perioden", "Corrections in the period"), [t("vad", "what"), t("antal", "count")],
                    [[c["label"], c["count"]]]))
    stat_heads = [t("antal", "count"), t("medel (dagar)", "mean (days)"), t("median (dagar)", "median (days)"),
                  t("spridning", "spread")]
    out.append((t("Tid i varje steg (dagar, vilande tid borträknad)", "Time in each stage (days, time on hold excluded)"),
                [t("steg", "stage")] + stat_heads + [t("vilande dagar", "days on hold")],
                [[s["label"], *stat_cells(s, lang), s["paused_days_excluded"]] for s in doc["time_in_stage"]["stages"]]))
    e = doc["establishment"]
    out.append((t("Etablering: periodens startande", "Establishment: the period's starters"),
                [t("kommun", "municipality"), t("startande", "starters"), t("etablerade", "established"),
                 t("inom två år", "within two years"), t("andel inom två år", "share within two years"),
                 t("ännu inom ramen", "still within frame")],
                [[f"{m['municipality']} {m['name'] or ''}".strip(), m["starters"], m["established"],
                  m["established_within_two_years"], pct(m["share_within_two_years"], lang), m["still_within_frame"]]
                 for m in e["by_municipality"]]
                + [[t("Totalt", "Total"), e["starters"], e["established"], e["established_within_two_years"],
                    pct(e["share_within_two_years"], lang), e["still_within_frame"]]]))
    p = e["days_from_permit"]
    out.append((t("Dagar från uppehållstillstånd till arbete, eget företag eller studier",
                  "Days from permit to work, own business or studies"), stat_heads, [stat_cells(p, lang)]))
    out.append((t("Utfall per lokalt jobbspår", "Outcomes per local job track"),
                [t("kommun", "municipality"), t("spår", "track"), t("lämnat", "left"), t("arbete", "work"),
                 t("eget företag", "own business"), t("studier", "studies"), t("tillbaka till modul 2", "back to module 2"),
                 t("pågår", "ongoing"), t("sammanfattning", "summary")],
                [[place(tr), tr["label"], tr["left"], tr["work"], tr["own_business"], tr["studies"],
                  tr["dropped"], tr["ongoing"], tr["summary"]] for tr in doc["tracks"]["tracks"]]))
    out.append((t("Avslut per målgrupp", "Exits per target group"),
                [t("målgrupp", "target group")] + list(f["exit_labels"].values()) + [t("andel etablerade", "share established")],
                [[g["label"]] + list(g["exits"].values()) + [pct(g["share_established"], lang)]
                 for g in doc["target_groups"]["groups"]]))
    out.append((t("Överhoppade moduler per skäl", "Skipped modules by reason"),
                [t("modul", "module"), t("skäl", "reason"), t("antal", "count")],
                [[stage_label(s["module"], lang), s["label"], s["count"]] for s in doc["skips"]["by_reason"]]))
    o = doc["overdue"]
    levels = [lv["step"] for lv in o["levels"]]
    out.append((t("Försenade steg och insatser nu, per kommun och nivå", "Overdue stages and measures now, by municipality and level"),
                [t("kommun", "municipality"), t("vad", "what")] + [lv["label"] for lv in o["levels"]]
                + [t("försenade", "overdue")],
                [[f"{m['municipality']} {m['name'] or ''}".strip(), what] + [m["by_level"][s] for s in levels]
                 + [m["overdue"]]
                 for part, what in ((o["stages"], t("steg", "stages")), (o["measures"], t("insatser", "measures")))
                 for m in part["by_municipality"]]))
    fu = doc["followups"]
    labels = fu["status_labels"]
    out.append((t("Uppföljning efter avslut", "Follow-up after exit"),
                [t("dag", "day"), t("förfallna", "due"), t("registrerade", "recorded"), t("saknas", "missing")]
                + list(labels.values()) + [t("andel kvar i arbete/studier", "share still established")],
                [[d["day"], d["due"], d["recorded"], d["missing"]] + [d["by_status"][s] for s in labels]
                 + [pct(d["share_still_established"], lang)] for d in fu["days"]]))
    return out


def heading(doc: dict) -> str:
    en = _en(doc)
    period = doc["period"]
    scope = doc["scope"]
    where = (", ".join(f"{m['code']} {m['name'] or ''}".strip() for m in scope["municipalities"])
             or ("the whole country" if en else "hela landet"))
    start = period["from"] or ("the start" if en else "början")
    return f"{doc['title']}: {where}, {start} – {period['to']}"


def generated(doc: dict) -> str:
    """When the report was made, as a person reads it: "Skapad 2026-05-04 09:30"."""
    made = (doc.get("generated_at") or "")[:16].replace("T", " ")
    return f"{'Generated' if _en(doc) else 'Skapad'} {made}"


def to_table(doc: dict) -> str:
    parts = [heading(doc), "=" * len(heading(doc)), generated(doc)]
    for title, heads, rows in sections(doc):
        parts += ["", title, grid(rows, heads, _lang(doc)) if rows else ("(no rows)" if _en(doc) else "(inga rader)")]
    return "\n".join(parts)


def to_csv(doc: dict) -> str:
    """Long format, one figure per row: section, key columns, measure, value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "row", "column", "value"])
    for title, heads, rows in sections(doc):
        for row in rows:
            for head, value in zip(heads[1:], row[1:]):
                writer.writerow([title, row[0], head, "" if value is None else value])
    return buffer.getvalue()
