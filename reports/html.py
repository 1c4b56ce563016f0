"""The follow-up report as one self-contained HTML file: charts first, tables under them.

Charts are drawn with matplotlib and embedded as inline SVG: no JavaScript, no fonts or
scripts to fetch, the file opens offline in any browser, prints well and stays small
(tens of kB). A Content-Security-Policy in the file forbids every network load, so a
chart can never silently depend on one. Text in the SVG stays text (svg.fonttype
"none"): it is searchable, and a screen reader reads it.

Chart text is FONT_SIZE points, 16 px at 100 % zoom (matplotlib sizes the SVG in points).
The charts stand one under the other, each at most at its own size (never stretched), and
long labels are wrapped so no chart is wider than the page: no text is smaller than 12 px
on a screen at normal zoom.
"""

from __future__ import annotations

import html
import io
import re
import textwrap
from functools import lru_cache, wraps

import orjson

from etablera.reports.render import cell, generated, heading, pct, sections
from etablera.statemachine.messages import format_number

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# What the method's terms are called (Swedish, English), never their keys.
METHOD_TERMS = {"percentiles": ("Spridning", "Spread"), "days": ("Dagar", "Days"), "where": ("Var", "Where"),
                "period": ("Period", "Period"), "within_two_years": ("Inom två år", "Within two years"),
                "curve_month": ("Månad i kurvan", "A month in the curve"),
                "corrections": ("Rättelser", "Corrections")}
FONT_SIZE = 12                       # points, every text of every chart
LABEL_WIDTH = 30                     # characters of a bar's label on one line
CHARTS_KEPT = 64                     # drawings kept per chart (`_drawn_once`)
COLOURS = {"work": "#1b7837", "own_business": "#5aae61", "studies": "#2166ac", "dropped": "#f1a340",
           "closed": "#999999", "other": "#cccccc", "line": "#2166ac", "box": "#92c5de"}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 70rem;
       color: #222; line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.charts { display: grid; gap: 1.5rem; }
figure.chart { margin: 0; padding: .5rem; border: 1px solid #e5e5e5; border-radius: 6px; background: #fff; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { font-size: .9rem; color: #555; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; }
.kpis { display: flex; flex-wrap: wrap; gap: 1rem; }
.kpi { border: 1px solid #e5e5e5; border-radius: 6px; padding: .6rem 1rem; min-width: 10rem; }
.kpi b { display: block; font-size: 1.5rem; }
.method { font-size: .85rem; color: #555; }
"""


def to_html(doc: dict) -> str:
    en = doc.get("lang") == "en"
    lang = "en" if en else "sv"
    t = (lambda sv, e: e) if en else (lambda sv, e: sv)  # noqa: E731
    charts = [
        ("chart-time-in-stage", t("Tid i varje steg (dagar, vilande tid borträknad)",
                                  "Time in each stage (days, time on hold excluded)"), time_chart(doc)),
        ("chart-establishment", t("Andel etablerade efter månader sedan uppehållstillstånd",
                                  "Share established by months since the residence permit"),
         establishment_chart(doc)),
        ("chart-tracks", t("Utfall per lokalt jobbspår", "Outcomes per local job track"), track_chart(doc)),
        ("chart-states", t("Ärenden per läge nu", "Cases per state now"), states_chart(doc)),
    ]
    e = doc["establishment"]
    kpis = [(t("Pågående ärenden", "Active cases"), doc["states_now"]["active"]),
            (t("Inskrivna under perioden", "Entries in the period"), doc["flow"]["entries"]),
            (t("Avslut under perioden", "Exits in the period"), doc["flow"]["exits_total"]),
            (t("Etablerade inom två år", "Established within two years"), pct(e["share_within_two_years"], lang)),
            (t("Försenade steg nu", "Overdue stages now"), doc["overdue"]["stages"]["overdue"])]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"en" if en else "sv"}"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(heading(doc))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(heading(doc))}</h1>",
        f'<p class="method">{html.escape(generated(doc))}</p>',
        '<div class="kpis">' + "".join(f'<div class="kpi"><span>{html.escape(k)}</span><b>{html.escape(str(v))}</b></div>'
                                       for k, v in kpis) + "</div>",
        '<div class="charts">',
    ]
    for chart_id, caption, svg in charts:
        parts.append(f'<figure class="chart" id="{chart_id}">{svg}<figcaption>{html.escape(caption)}</figcaption></figure>')
    parts.append("</div>")
    for title, heads, rows in sections(doc):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if not rows:
            parts.append(f"<p>{t('Inga rader.', 'No rows.')}</p>")
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in heads) + "</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(cell(c, lang))}</td>" for c in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.append(f"<h2>{t('Metod', 'Method')}</h2><dl class=\"method\">"
                 + "".join(f"<dt>{html.escape(METHOD_TERMS.get(k, (k, k))[en])}</dt><dd>{html.escape(str(v))}</dd>"
                           for k, v in doc["method"].items())
                 + "</dl></body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- charts

def _drawn_once(*paths: tuple[str, ...]):
    """A chart drawn once for the figures it shows: the parts of the report at `paths` and
    its language are all the chart reads, so the same figures give the same SVG, and a
    report viewed again (the page, its file, another coordinator's view of the same
    municipality) draws nothing. The last CHARTS_KEPT drawings of each chart are kept.
    Drawing was nearly all of a report page's time: matplotlib took 205 ms of the 224 ms
    of CPU one view of a municipality's report cost (50,000 cases, PostgreSQL)."""
    def decorate(draw):
        @lru_cache(maxsize=CHARTS_KEPT)
        def drawn(key: bytes) -> str:
            return draw(orjson.loads(key))

        @wraps(draw)
        def chart(doc: dict) -> str:
            shown: dict = {"lang": doc.get("lang")}
            for path in paths:
                source, target = doc, shown
                for name in path[:-1]:
                    source, target = source[name], target.setdefault(name, {})
                target[path[-1]] = source[path[-1]]
            return drawn(orjson.dumps(shown, option=orjson.OPT_SORT_KEYS))
        chart.drawn = drawn                 # (its cache, for tests)
        return chart
    return decorate


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "etablera", "font.size": FONT_SIZE,
                                **{key: FONT_SIZE for key in ("axes.labelsize", "axes.titlesize", "xtick.labelsize",
                                                              "ytick.labelsize", "legend.fontsize")},
                                "axes.spines.top": False, "axes.spines.right": False})
    import matplotlib.pyplot as plt
    return plt


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]        # drop the XML prologue and DOCTYPE


def _numbers(axis, doc: dict) -> None:
    """An axis's tick labels written for the report's language by Babel ("1 000,5")."""
    from matplotlib.ticker import FuncFormatter
    lang = "en" if doc.get("lang") == "en" else "sv"
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: format_number(round(value, 6), lang)))


def _no_data(plt, message: str) -> str:
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#777")
    return _svg(fig)


def _wrap(label: str) -> str:
    """A long label on lines of at most LABEL_WIDTH characters (the chart stays page-wide)."""
    return "\n".join(textwrap.wrap(label, LABEL_WIDTH)) or label


def _lang(doc: dict) -> str:
    return "en" if doc.get("lang") == "en" else "sv"


def _empty(doc: dict) -> str:
    return "No data in the period" if doc.get("lang") == "en" else "Inga uppgifter under perioden"


@_drawn_once(("time_in_stage", "stages"))
def time_chart(doc: dict) -> str:
    """Box plots from the report's own quartiles: box p25–p75, line at the median,
    whiskers from the minimum to the 90th percentile."""
    plt = _pyplot()
    stages = [s for s in doc["time_in_stage"]["stages"] if s["n"]]
    if not stages:
        return _no_data(plt, _empty(doc))
    cases = "cases" if doc.get("lang") == "en" else "ärenden"
    stats = [{"label": f"{_wrap(s['label'])}\n({format_number(s['n'], _lang(doc))} {cases})",
              "med": s["median"], "q1": s["p25"], "q3": s["p75"],
              "whislo": s["min"], "whishi": s["p90"], "mean": s["mean"], "fliers": []} for s in stages]
    lines = max(s["label"].count("\n") + 1 for s in stats)
    fig, ax = plt.subplots(figsize=(7, 1.2 + (0.2 + 0.21 * lines) * len(stats)))
    ax.bxp(stats[::-1], orientation="horizontal", showmeans=True, patch_artist=True,
           boxprops={"facecolor": COLOURS["box"]}, medianprops={"color": "#08306b", "linewidth": 2})
    ax.set_xlabel("days: the box holds the middle half, the line is the median,\nthe whiskers reach from the shortest "
                  "to 9 in 10" if doc.get("lang") == "en" else
                  "dagar: lådan rymmer mittersta hälften, strecket är medianen,\nlinjerna når från den kortaste "
                  "till 9 av 10")
    ax.grid(axis="x", color="#eee")
    _numbers(ax.xaxis, doc)
    return _svg(fig)


@_drawn_once(("establishment", "curve"), ("establishment", "starters"))
def establishment_chart(doc: dict) -> str:
    plt = _pyplot()
    curve = doc["establishment"]["curve"]
    if not doc["establishment"]["starters"]:
        return _no_data(plt, _empty(doc))
    en = doc.get("lang") == "en"
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.step([p["months"] for p in curve], [(p["share"] or 0) * 100 for p in curve], where="post",
            color=COLOURS["line"], linewidth=2)
    ax.axvline(24, color="#b2182b", linestyle="--", linewidth=1)
    ax.text(24.3, 2, "2 years" if en else "2 år", color="#b2182b")
    ax.set_xlabel("months since the residence permit" if en else "månader sedan uppehållstillstånd")
    ax.set_ylabel("% of the period's starters" if en else "% av periodens startande")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, curve[-1]["months"] if curve else 48)
    ax.grid(color="#eee")
    _numbers(ax.xaxis, doc)
    _numbers(ax.yaxis, doc)
    return _svg(fig)


@_drawn_once(("tracks", "tracks"))
def track_chart(doc: dict) -> str:
    plt = _pyplot()
    en = doc.get("lang") == "en"
    tracks = [t for t in doc["tracks"]["tracks"] if t["left"]]
    if not tracks:
        return _no_data(plt, _empty(doc))
    parts = [("work", "arbete", "work"), ("own_business", "eget företag", "own business"),
             ("studies", "studier", "studies"), ("dropped", "tillbaka till modul 2", "back to module 2"),
             ("closed", "avslutade", "closed"), ("other", "annat", "other")]
    labels = [f"{_wrap(t['label'] + ' (' + (t['name'] or t['municipality']) + ')')}\n{t['summary']}" for t in tracks]
    lines = max(label.count("\n") + 1 for label in labels)      # every bar gets room for the longest label
    fig, ax = plt.subplots(figsize=(7, 1.4 + (0.2 + 0.21 * lines) * len(tracks)))
    left = [0.0] * len(tracks)
    for key, sv, english in parts:
        values = [t[key] / t["left"] * 100 for t in tracks]
        ax.barh(labels, values, left=left, color=COLOURS[key], label=english if en else sv)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlim(0, 100)              # shares of a whole: the axis ends at 100 %
    ax.set_xticks(range(0, 101, 20))
    _numbers(ax.xaxis, doc)
    ax.set_xlabel("% of those who left the track in the period" if en else "% av dem som lämnat spåret under perioden")
    ax.invert_yaxis()
    ax.legend(loc="lower center", bbox_to_anchor=(0.45, 1.0), ncol=3, frameon=False)
    return _svg(fig)


@_drawn_once(("states_now", "by_state"))
def states_chart(doc: dict) -> str:
    plt = _pyplot()
    states = [s for s in doc["states_now"]["by_state"] if s["count"]]
    if not states:
        return _no_data(plt, _empty(doc))
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.4 * len(states)))
    ax.barh([_wrap(s["label"]) for s in states], [s["count"] for s in states], color=COLOURS["box"])
    for i, s in enumerate(states):
        ax.text(s["count"], i, f" {s['count']}", va="center")
    ax.invert_yaxis()
    ax.grid(axis="x", color="#eee")
    _numbers(ax.xaxis, doc)
    return _svg(fig)


def chart_ids(page: str) -> list[str]:
    """The chart figures in a rendered page (for tests and checks)."""
    return re.findall(r'<figure class="chart" id="([^"]+)"><svg', page)
