"""The follow-up report (uppföljningsrapport): the figures the parties committed to follow,
per municipality, track and period, as one JSON-able document.

Every figure is computed by set-based SQL in the database (the same statements on SQLite
and PostgreSQL); Python only names and arranges the rows that come back. The heavy part
of the history, a case's stays in each stage with its days on hold left out, is kept in
the derived tables `report_visits` and `report_cases` (statemachine/report_facts.py),
which `build_report` first brings up to date.

Definitions (also written into the document, under "method"):
- period: `--from` and `--to` are Stockholm calendar dates, both included; without
  `--from` the period starts with the first case, without `--to` it ends today;
- a stay (visit) in a stage counts in the period it ended in and in the municipality the
  case was in when it left; its days are Stockholm calendar days, days on hold excluded;
- entries: registrations in the period, where registered; exits: the events that ended a
  case in the period, where the case was then; transfers count at both ends;
- percentiles: "linear between closest ranks" (the method of PostgreSQL's percentile_cont
  and of numpy's default): for n sorted values x1..xn, position h = 1 + p(n-1), value
  x⌊h⌋ + (h-⌊h⌋)(x⌊h⌋+1 - x⌊h⌋). Computed from the histogram of whole days with running
  counts (SUM OVER), so it is exact and the same on both databases;
- established: left for work, own business or studies; within the frame: on or before
  the case's establishment due date (two years from the permit, or the later reception,
  moved by time on hold);
- overdue: stages and measures whose due date has reached a step of the reminder ladder
  (config/reminders.toml), for cases that are running (not on hold, not ended).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from etablera.models.agreements import AgreementBook, AgreementError
from etablera.models.configuration import Config, ConfigError, get_config
from etablera.models.database import transaction
from etablera.models.followup import FOLLOWUP_DAYS, FOLLOWUP_STATUSES
from etablera.models.ladder import get_reminder_config
from etablera.models.timestamps import day_start, local_date, show, utcnow
from etablera.statemachine.errors import BadInput
from etablera.statemachine.process import (FOLLOWED_UP, OPEN_MEASURE_STATES, STAGE, STAGE_OF, STATE, STATES,
                                           TERMINAL, stage_label)
from etablera.reports.facts import refresh_in
from etablera.reports.sql import Dialect, day_number

REPORT_VERSION = 1
QUANTILES = (25, 50, 75, 90)
ESTABLISHED = FOLLOWED_UP          # left for work, own business or studies
EXIT_STATES = tuple(TERMINAL)
STAGES = tuple(STAGE)
# States whose stage clock runs (as the deadline check counts them), and open measures.
OPEN_MEASURES = OPEN_MEASURE_STATES
# How a stay in a local track ended, by the state it led to: an exit, dropped (back to module 2) or closed.
TRACK_ENDS = {**{s: STATE[s].exit for s in ESTABLISHED}, "module2.extended": "dropped", "closed": "closed"}
CURVE_MONTHS = 48
# A month on the establishment curve is 365.25 / 12 = 30.4375 days = 12175 / 400.
MONTH_NUM, MONTH_DEN = 400, 12175
BEGINNING = -1_000_000          # day number before any case
ALL = "*"                       # the whole selection, in grouped rows


@dataclass(frozen=True)
class Scope:
    """Which municipalities (none: the whole country) and which days (inclusive)."""
    municipalities: tuple[str, ...]
    start: date | None
    end: date
    today: date
    lang: str = "sv"
    config: Config = field(default_factory=get_config, compare=False)

    @property
    def first_day(self) -> int:
        return BEGINNING if self.start is None else day_number(self.start)

    @property
    def last_day(self) -> int:
        return day_number(self.end)

    def instants(self) -> tuple[datetime, datetime]:
        """The period as UTC instants [from, to): Stockholm midnights."""
        return day_start(self.start or date(1900, 1, 1)), day_start(self.end + timedelta(days=1))

    def where(self, column: str) -> str:
        """SQL: `AND column IN (...)` for the selected municipalities (bound as :m0...)."""
        if not self.municipalities:
            return ""
        return f" AND {column} IN ({', '.join(f':m{i}' for i in range(len(self.municipalities)))})"

    def params(self, **extra) -> dict:
        values = {f"m{i}": code for i, code in enumerate(self.municipalities)}
        values.update(first=self.first_day, last=self.last_day, today=day_number(self.today))
        values.update(extra)
        return values


def make_scope(municipalities=(), start: date | None = None, end: date | None = None, *,
               today: date | None = None, lang: str = "sv", config: Config | None = None) -> Scope:
    today = today or local_date(utcnow())
    end = end or today
    codes = tuple(dict.fromkeys(m.strip() for m in municipalities if m and m.strip()))
    for code in codes:
        if len(code) != 4 or not code.isdigit():
            raise BadInput("municipality_code_format", field="municipality")
    if start is not None and start > end:
        raise BadInput("period_reversed", field="from", start=start, end=end)
    return Scope(codes, start, end, today, lang, config or get_config())


def build_report(engine: Engine, scope: Scope, *, refresh: bool = True) -> dict:
    """The whole report as one JSON-able document."""
    with transaction(engine, write=refresh) as conn:
        refreshed = refresh_in(conn).cases if refresh else 0
        d = Dialect(conn.dialect.name)
        prepare(conn, scope)
        doc = {
            "report": "etablera.followup", "version": REPORT_VERSION, "generated_at": show(utcnow()),
            "lang": scope.lang, "title": _t(scope, "Uppföljning av etableringsprocessen",
                                             "Follow-up of the establishment process"),
            "period": {"from": scope.start.isoformat() if scope.start else None, "to": scope.end.isoformat(),
                       "today": scope.today.isoformat()},
            "scope": {"municipalities": [{"code": c, "name": scope.config.municipalities.get(c)}
                                         for c in scope.municipalities],
                      "national": not scope.municipalities},
            "states_now": states_now(conn, scope),
            "flow": flow(conn, d, scope),
            "time_in_stage": time_in_stage(conn, scope),
            "establishment": establishment(conn, scope),
            "tracks": track_outcomes(conn, scope),
            "target_groups": target_group_outcomes(conn, scope),
            "skips": skips(conn, scope),
            "overdue": overdue(conn, scope),
            "followups": followups(conn, scope),
            "method": method(scope),
            "refreshed_cases": refreshed,
        }
        for table in ("report_starters", "report_exits"):
            conn.execute(text(f"DROP TABLE {table}"))
    return doc


def prepare(conn: Connection, scope: Scope) -> None:
    """Two small temporary tables the sections read instead of scanning report_cases each:
    the period's starters and the period's exits, counted by every key a figure needs."""
    established = ", ".join(f"'{s}'" for s in ESTABLISHED)
    for table in ("report_starters", "report_exits"):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(text(f"""
        CREATE TEMPORARY TABLE report_starters AS
        SELECT start_municipality AS municipality, exit_state,
               CASE WHEN exit_state IN ({established}) THEN ((exit_day - permit_day) * {MONTH_NUM}) / {MONTH_DEN}
               END AS month,
               SUM(CASE WHEN exit_state IN ({established}) AND exit_day <= establishment_due_day THEN 1 ELSE 0 END)
                   AS within,
               SUM(CASE WHEN exit_state IS NULL AND establishment_due_day >= :today THEN 1 ELSE 0 END) AS still_open,
               COUNT(*) AS n
        FROM report_cases WHERE registered_day BETWEEN :first AND :last{scope.where('start_municipality')}
        GROUP BY start_municipality, exit_state,
                 CASE WHEN exit_state IN ({established}) THEN ((exit_day - permit_day) * {MONTH_NUM}) / {MONTH_DEN}
                 END"""),
        scope.params())
    conn.execute(text(f"""
        CREATE TEMPORARY TABLE report_exits AS
        SELECT exit_municipality AS municipality, exit_state, target_group, exit_day - permit_day AS days,
               COUNT(*) AS n
        FROM report_cases WHERE exit_day BETWEEN :first AND :last{scope.where('exit_municipality')}
        GROUP BY exit_municipality, exit_state, target_group, exit_day - permit_day"""), scope.params())


# --------------------------------------------------------------------------- helpers

def _t(scope: Scope, sv: str, en: str) -> str:
    return en if scope.lang == "en" else sv


def _state_label(name: str | None, lang: str) -> str | None:
    if name is None:
        return None
    state = STATE.get(name)
    return (state.en if lang == "en" else state.sv) if state else name


def _muni(scope: Scope, code: str) -> dict:
    return {"municipality": code, "name": scope.config.municipalities.get(code)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rows(conn: Connection, sql: str, params: dict) -> list:
    return conn.execute(text(sql), params).all()


def percentile_sql(source: str, ctes: str = "") -> str:
    """Statistics of a histogram `source` (columns k1, k2, value, n), per (k1, k2):
    count, mean, min, max and the QUANTILES, linear between closest ranks (see above)."""
    los = ",\n       ".join(f"({p} * (total - 1)) / 100 + 1 AS lo{p}, ({p} * (total - 1)) % 100 AS fr{p}"
                            for p in QUANTILES)
    picks = ",\n       ".join(
        f"MAX(CASE WHEN upto - n < lo{p} AND upto >= lo{p} THEN value END) AS a{p}, "
        f"MAX(CASE WHEN upto - n < lo{p} + 1 AND upto >= lo{p} + 1 THEN value END) AS b{p}, MAX(fr{p}) AS f{p}"
        for p in QUANTILES)
    values = ", ".join(f"CAST(a{p} + f{p} * (COALESCE(b{p}, a{p}) - a{p}) / 100.0 AS DOUBLE PRECISION) AS p{p}"
                       for p in QUANTILES)
    return f"""
WITH {ctes + ',' if ctes else ''} src AS ({source}),
cum AS (
    SELECT k1, k2, value, n,
           CAST(SUM(n) OVER (PARTITION BY k1, k2 ORDER BY value ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto,
           CAST(SUM(n) OVER (PARTITION BY k1, k2) AS BIGINT) AS total
    FROM src
),
ranked AS (SELECT cum.*, {los} FROM cum),
picked AS (
    SELECT k1, k2, MAX(total) AS total, CAST(SUM(value * n) AS DOUBLE PRECISION) AS value_sum, MIN(value) AS low, MAX(value) AS high,
       {picks}
    FROM ranked GROUP BY k1, k2
)
SELECT k1, k2, total, value_sum / total AS mean, low, high, {values} FROM picked
"""


def _stats(row) -> dict:
    n = row.total
    out = {"n": n, "mean": round(row.mean, 2), "min": row.low, "max": row.high}
    out.update({("median" if p == 50 else f"p{p}"): round(getattr(row, f"p{p}"), 2) for p in QUANTILES})
    return out


def empty_stats() -> dict:
    out = {"n": 0, "mean": None, "min": None, "max": None}
    out.update({("median" if p == 50 else f"p{p}"): None for p in QUANTILES})
    return out


# --------------------------------------------------------------------------- sections

def states_now(conn: Connection, scope: Scope) -> dict:
    """How many cases are in each state now, by municipality (where they are now)."""
    rows = _rows(conn, f"SELECT municipality, state, COUNT(*) FROM cases WHERE 1 = 1{scope.where('municipality')} "
                       "GROUP BY municipality, state", scope.params())
    totals = {s.name: 0 for s in STATES}
    per: dict[str, dict[str, int]] = {}
    for muni, state, n in rows:
        totals[state] = totals.get(state, 0) + n
        per.setdefault(muni, {})[state] = n
    for code in scope.municipalities:
        per.setdefault(code, {})
    return {
        "total": sum(totals.values()),
        "active": sum(n for s, n in totals.items() if s not in TERMINAL),
        "by_state": [{"state": s, "label": _state_label(s, scope.lang), "count": n} for s, n in totals.items()],
        "by_municipality": [{**_muni(scope, code), "total": sum(states.values()),
                             "active": sum(n for s, n in states.items() if s not in TERMINAL),
                             "by_state": {s.name: states.get(s.name, 0) for s in STATES}}
                            for code, states in sorted(per.items())],
    }


def flow(conn: Connection, d: Dialect, scope: Scope) -> dict:
    """Entries (registrations), exits by outcome and transfers in the period."""
    params = scope.params()
    entries = _rows(conn, "SELECT municipality, CAST(SUM(n) AS BIGINT) FROM report_starters "
                          "GROUP BY municipality", {})
    exits = _rows(conn, "SELECT municipality, exit_state, CAST(SUM(n) AS BIGINT) FROM report_exits "
                        "GROUP BY municipality, exit_state", {})
    start, end = scope.instants()
    origin = d.json_text("data", "from_municipality")
    transfers = _rows(conn, f"SELECT municipality, {origin}, COUNT(*) FROM audit_events "
                            "WHERE trigger = 'transfer' AND at >= :start AND at < :end "
                            f"GROUP BY municipality, {origin}",
                      {**params, "start": _bind_instant(conn, start), "end": _bind_instant(conn, end)})
    per: dict[str, dict] = {}

    def entry(code):
        return per.setdefault(code, {"entries": 0, "transfers_in": 0, "transfers_out": 0,
                                     "exits": {s: 0 for s in EXIT_STATES}})
    for code in scope.municipalities:
        entry(code)
    for code, n in entries:
        entry(code)["entries"] += n
    for code, state, n in exits:
        entry(code)["exits"][state] += n
    chosen = set(scope.municipalities)
    for to, origin_code, n in transfers:
        if to == origin_code:
            continue
        if not chosen or to in chosen:
            entry(to)["transfers_in"] += n
        if origin_code and (not chosen or origin_code in chosen):
            entry(origin_code)["transfers_out"] += n
    total = {"entries": sum(p["entries"] for p in per.values()),
             "transfers_in": sum(p["transfers_in"] for p in per.values()),
             "transfers_out": sum(p["transfers_out"] for p in per.values()),
             "exits": {s: sum(p["exits"][s] for p in per.values()) for s in EXIT_STATES}}
    labels = {s: _state_label(s, scope.lang) for s in EXIT_STATES}
    return {**total, "exits_total": sum(total["exits"].values()), "exit_labels": labels,
            "by_municipality": [{**_muni(scope, code), **p, "exits_total": sum(p["exits"].values())}
                                for code, p in sorted(per.items())]}


def _bind_date(conn: Connection, day: date | None):
    if day is None or conn.dialect.name != "sqlite":
        return day
    return day.isoformat()


def _bind_instant(conn: Connection, moment: datetime):
    """An instant as the database stores it (see models.timestamps.UTCDateTime)."""
    if conn.dialect.name == "sqlite":
        return moment.astimezone(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def time_in_stage(conn: Connection, scope: Scope) -> dict:
    """Days in each stage (stays that ended in the period), days on hold excluded, with the
    distribution (stays per 30 days) for the charts. The histogram by whole days is built
    once, in a temporary table, and every figure is computed from it."""
    conn.execute(text("DROP TABLE IF EXISTS report_hist"))
    conn.execute(text(
        "CREATE TEMPORARY TABLE report_hist AS SELECT stage, municipality, days, COUNT(*) AS n, "
        "SUM(paused_days) AS paused, SUM(CASE WHEN paused_days > 0 THEN 1 ELSE 0 END) AS with_pause "
        f"FROM report_visits WHERE days IS NOT NULL AND end_day BETWEEN :first AND :last"
        f"{scope.where('municipality')} GROUP BY stage, municipality, days"), scope.params())
    source = (f"SELECT stage AS k1, municipality AS k2, days AS value, n FROM report_hist "
              f"UNION ALL SELECT stage, '{ALL}', days, CAST(SUM(n) AS BIGINT) FROM report_hist GROUP BY stage, days")
    rows = _rows(conn, percentile_sql(source), {})
    stats = {(r.k1, r.k2): _stats(r) for r in rows}
    buckets = _rows(conn, "SELECT stage, days / 30 AS bucket, CAST(SUM(n) AS BIGINT) FROM report_hist "
                          "GROUP BY stage, days / 30 ORDER BY stage, days / 30", {})
    paused = _rows(conn, "SELECT stage, CAST(SUM(paused) AS BIGINT), CAST(SUM(with_pause) AS BIGINT) "
                         "FROM report_hist GROUP BY stage", {})
    conn.execute(text("DROP TABLE report_hist"))
    paused_by = {stage: (days or 0, n or 0) for stage, days, n in paused}
    munis = sorted({k2 for (_, k2) in stats if k2 != ALL} | set(scope.municipalities))
    out = []
    for stage in STAGES:
        out.append({
            "stage": stage, "label": stage_label(stage, scope.lang),
            **stats.get((stage, ALL), empty_stats()),
            "paused_days_excluded": paused_by.get(stage, (0, 0))[0],
            "stays_with_pause": paused_by.get(stage, (0, 0))[1],
            "histogram_30_days": [{"from_day": b * 30, "count": n} for s, b, n in buckets if s == stage],
            "by_municipality": [{**_muni(scope, m), **stats.get((stage, m), empty_stats())} for m in munis],
        })
    return {"unit": "days", "stages": out}


def establishment(conn: Connection, scope: Scope) -> dict:
    """The period's starters (registered in the period, where registered): how many are
    established, within the frame, by months since the permit; and the days from permit
    to establishment for those established in the period."""
    established = ", ".join(f"'{s}'" for s in ESTABLISHED)
    by_exit = ",\n               ".join(f"CAST(SUM(CASE WHEN exit_state = '{s}' THEN n ELSE 0 END) AS BIGINT) "
                                     f"AS {STATE[s].exit}" for s in ESTABLISHED)
    cohort = _rows(conn, f"""
        SELECT municipality AS start_municipality, CAST(SUM(n) AS BIGINT) AS starters,
               CAST(SUM(CASE WHEN exit_state IN ({established}) THEN n ELSE 0 END) AS BIGINT) AS established,
               CAST(SUM(within) AS BIGINT) AS within,
               CAST(SUM(still_open) AS BIGINT) AS open,
               {by_exit}
        FROM report_starters GROUP BY municipality""", {})
    curve = _rows(conn, f"""
        WITH RECURSIVE months(m) AS (SELECT 0 UNION ALL SELECT m + 1 FROM months WHERE m < {CURVE_MONTHS}),
        done AS (SELECT month, SUM(n) AS n FROM report_starters WHERE month IS NOT NULL GROUP BY month),
        base AS (SELECT COALESCE(SUM(n), 0) AS starters FROM report_starters)
        SELECT months.m, CAST(COALESCE(SUM(done.n), 0) AS BIGINT) AS established,
               CAST(MAX(base.starters) AS BIGINT) AS starters
        FROM months CROSS JOIN base LEFT JOIN done ON done.month <= months.m
        GROUP BY months.m ORDER BY months.m""", {})
    source = (f"SELECT 'permit' AS k1, municipality AS k2, days AS value, CAST(SUM(n) AS BIGINT) AS n "
              f"FROM report_exits WHERE exit_state IN ({established}) GROUP BY municipality, days "
              f"UNION ALL SELECT 'permit', '{ALL}', days, CAST(SUM(n) AS BIGINT) FROM report_exits "
              f"WHERE exit_state IN ({established}) GROUP BY days")
    times = {r.k2: _stats(r) for r in _rows(conn, percentile_sql(source), {})}
    keys = ("starters", "established", "within", "open", "work", "own_business", "studies")
    per = {row.start_municipality: {k: getattr(row, k) or 0 for k in keys} for row in cohort}
    for code in scope.municipalities:
        per.setdefault(code, {k: 0 for k in keys})
    total = {k: sum(p[k] for p in per.values()) for k in keys}

    def shaped(p):
        return {"starters": p["starters"], "established": p["established"],
                "established_within_two_years": p["within"],
                "share_within_two_years": _share(p["within"], p["starters"]),
                "still_within_frame": p["open"],
                "by_outcome": {"work": p["work"], "own_business": p["own_business"], "studies": p["studies"]}}
    munis = sorted(set(per) | {k for k in times if k != ALL})
    return {
        **shaped(total),
        "days_from_permit": times.get(ALL, empty_stats()),
        "curve": [{"months": m, "established": n, "share": _share(n, s)} for m, n, s in curve],
        "by_municipality": [{**_muni(scope, code), **shaped(per.get(code, {k: 0 for k in keys})),
                             "days_from_permit": times.get(code, empty_stats())} for code in munis],
    }


def track_outcomes(conn: Connection, scope: Scope) -> dict:
    """Per local job track: stays that ended in the period by where they led, and the
    stays going on now ("2 of 3 in work")."""
    ended = _rows(conn, "SELECT municipality, track, end_state, COUNT(*) FROM report_visits "
                        "WHERE stage = 'module3' AND end_day BETWEEN :first AND :last"
                        f"{scope.where('municipality')} GROUP BY municipality, track, end_state", scope.params())
    ongoing = _rows(conn, "SELECT municipality, track, COUNT(*) FROM report_visits "
                          f"WHERE stage = 'module3' AND end_day IS NULL{scope.where('municipality')} "
                          "GROUP BY municipality, track", scope.params())
    per: dict[tuple[str, str], dict] = {}

    def entry(muni, track):
        return per.setdefault((muni, track or "?"), {"left": 0, "work": 0, "own_business": 0, "studies": 0,
                                                    "dropped": 0, "closed": 0, "other": 0, "ongoing": 0})
    for muni, track, end_state, n in ended:
        e = entry(muni, track)
        e["left"] += n
        key = TRACK_ENDS.get(end_state, "other")
        e[key] += n
    for muni, track, n in ongoing:
        entry(muni, track)["ongoing"] += n
    labels = _track_labels(scope.lang)
    rows = []
    for (muni, track), e in sorted(per.items()):
        in_work = e["work"]
        rows.append({**_muni(scope, muni), "track": track, "label": labels.get(track, track), **e,
                     "established": e["work"] + e["own_business"] + e["studies"],
                     "share_work": _share(in_work, e["left"]),
                     "summary": (f"{in_work} of {e['left']} in work" if scope.lang == "en"
                                 else f"{in_work} av {e['left']} i arbete")})
    return {"tracks": rows}


def _track_labels(lang: str) -> dict[str, str]:
    try:
        book = AgreementBook.load()
    except (ConfigError, AgreementError):     # labels only: a broken agreement file must not stop the report
        return {}
    return {t.id: t.label(lang) for a in book.agreements for t in a.tracks}


def target_group_outcomes(conn: Connection, scope: Scope) -> dict:
    """Exits in the period by target group and outcome (where the case was at the exit)."""
    rows = _rows(conn, "SELECT target_group, exit_state, CAST(SUM(n) AS BIGINT) FROM report_exits "
                       "GROUP BY target_group, exit_state", {})
    per: dict[str, dict[str, int]] = {g.code: {s: 0 for s in EXIT_STATES} for g in scope.config.target_groups}
    for group, state, n in rows:
        per.setdefault(group, {s: 0 for s in EXIT_STATES})[state] += n
    labels = {g.code: g.label(scope.lang) for g in scope.config.target_groups}
    return {"groups": [{"target_group": g, "label": labels.get(g, g), "exits": e, "exits_total": sum(e.values()),
                        "established": sum(e[s] for s in ESTABLISHED),
                        "share_established": _share(sum(e[s] for s in ESTABLISHED), sum(e.values()))}
                       for g, e in sorted(per.items())]}


def skips(conn: Connection, scope: Scope) -> dict:
    """Skipped modules in the period, by module and reason (where the case was then)."""
    base = ("FROM report_visits WHERE skipped <> '[]' AND end_day BETWEEN :first AND :last"
            f"{scope.where('municipality')}")
    parts = " UNION ALL ".join(
        f"SELECT '{module}' AS module, municipality, reason, CAST(SUM(n) AS BIGINT) AS n FROM grouped "
        f"WHERE skipped LIKE '%\"{module}\"%' GROUP BY municipality, reason"
        for module in ("module2", "module3"))
    rows = _rows(conn, f"WITH grouped AS (SELECT municipality, skipped, reason, COUNT(*) AS n {base} "
                       f"GROUP BY municipality, skipped, reason) {parts}", scope.params())
    labels = scope.config.reasons.get("skip", {})
    by_module: dict[str, int] = {"module2": 0, "module3": 0}
    by_reason: dict[tuple[str, str], int] = {}
    per: dict[str, dict[str, int]] = {code: {"module2": 0, "module3": 0} for code in scope.municipalities}
    for module, muni, reason, n in rows:
        by_module[module] += n
        by_reason[(module, reason or "?")] = by_reason.get((module, reason or "?"), 0) + n
        per.setdefault(muni, {"module2": 0, "module3": 0})[module] += n
    return {
        "by_module": [{"module": m, "label": stage_label(m, scope.lang), "count": n} for m, n in by_module.items()],
        "by_reason": [{"module": m, "reason": r, "label": labels[r](scope.lang) if r in labels else r, "count": n}
                      for (m, r), n in sorted(by_reason.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))],
        "by_municipality": [{**_muni(scope, code), **counts} for code, counts in sorted(per.items())],
    }


def overdue(conn: Connection, scope: Scope) -> dict:
    """Stages and measures whose due date has reached a step of the reminder ladder now."""
    d = Dialect(conn.dialect.name)
    levels = _ladder_levels(scope.today)
    running = ", ".join(f"'{s}'" for s in STAGE_OF)
    stage_of = " ".join(f"WHEN '{s}' THEN '{stage}'" for s, stage in STAGE_OF.items())
    params = scope.params()
    for i, (_, after, upto, _) in enumerate(levels):
        params[f"after{i}"], params[f"upto{i}"] = _bind_date(conn, after), _bind_date(conn, upto)

    def level_case(column: str) -> str:
        whens = " ".join(f"WHEN {column} <= :upto{i}" + (f" AND {column} > :after{i}" if after else "")
                         + f" THEN '{step}'" for i, (step, after, _, _) in enumerate(levels))
        return f"CASE {whens} END"
    # The windows are contiguous: a due date has reached some step iff it is on or before
    # the latest window's end. One index range, no OR.
    params["reach"] = _bind_date(conn, max(upto for _, _, upto, _ in levels))
    reached = "due <= :reach"
    stages = _rows(conn, f"SELECT municipality, CASE state {stage_of} END AS stage, {level_case('due')} AS level, "
                         f"COUNT(*) FROM cases{d.indexed_by('ix_cases_due_report')} "
                         f"WHERE due IS NOT NULL AND ({reached}) AND state IN ({running})"
                         f"{scope.where('municipality')} GROUP BY municipality, CASE state {stage_of} END, "
                         f"{level_case('due')}", params)
    open_states = ", ".join(f"'{s}'" for s in OPEN_MEASURES)
    m_reached = "m.due <= :reach"
    measures = _rows(conn, f"SELECT c.municipality, m.type, {level_case('m.due')} AS level, COUNT(*) "
                           f"FROM measures m{d.indexed_by('ix_measures_open_due_case')} "
                           f"JOIN cases c{d.indexed_by('ix_cases_report')} ON c.id = m.case_id "
                           f"WHERE m.state IN ({open_states}) AND ({m_reached}) AND c.state IN ({running})"
                           f"{scope.where('c.municipality')} GROUP BY c.municipality, m.type, "
                           f"{level_case('m.due')}", params)
    overdue_steps = {step for step, _, _, is_overdue in levels if is_overdue}
    step_labels = {"warning": ("Snart förfallen", "Due soon"), "overdue": ("Försenad", "Overdue"),
                   "escalation": ("Eskalerad", "Escalated")}

    def shaped(rows, what_key):
        by_level = {step: 0 for step, *_ in levels}
        per: dict[str, dict] = {code: {step: 0 for step, *_ in levels} for code in scope.municipalities}
        by_what: dict[str, dict[str, int]] = {}
        for muni, what, level, n in rows:
            by_level[level] += n
            per.setdefault(muni, {step: 0 for step, *_ in levels})[level] += n
            by_what.setdefault(what, {step: 0 for step, *_ in levels})[level] += n
        def late(v):
            return sum(n for s, n in v.items() if s in overdue_steps)
        return {"overdue": late(by_level), "by_level": by_level,
                what_key: [{"key": k, "overdue": late(v), "by_level": v} for k, v in sorted(by_what.items())],
                "by_municipality": [{**_muni(scope, code), "overdue": late(v), "by_level": v}
                                    for code, v in sorted(per.items())]}
    stage_part = shaped(stages, "by_stage")
    for row in stage_part["by_stage"]:
        row["label"] = stage_label(row["key"], scope.lang)
    measure_part = shaped(measures, "by_type")
    for row in measure_part["by_type"]:
        kind = scope.config.measure_types.get(row["key"])
        row["label"] = kind.label(scope.lang) if kind else row["key"]
    return {"levels": [{"step": step, "label": step_labels.get(step, (step, step))[scope.lang == "en"],
                        "overdue": is_overdue} for step, _, _, is_overdue in levels],
            "stages": stage_part, "measures": measure_part}


def _ladder_levels(today: date) -> list[tuple[str, date | None, date, bool]]:
    """(step, due after, due up to, counts as overdue) per rung of the stage ladder."""
    try:
        ladder = get_reminder_config().ladder("stage")
    except ConfigError:                       # no usable ladder: overdue is "due on or before today"
        return [("overdue", None, today, True)]
    windows = ladder.windows(today)
    return [(w.step, w.after, w.upto, rung.offset.n >= 0) for w, rung in zip(windows, ladder.rungs)]


def followups(conn: Connection, scope: Scope) -> dict:
    """Follow-ups after exit whose day (90, 180, 360 days after) fell in the period: how
    many were due, how many recorded, and where the people were."""
    established = ", ".join(f"'{s}'" for s in ESTABLISHED)
    days = " UNION ALL ".join(f"SELECT {d} AS d" for d in FOLLOWUP_DAYS)
    due = _rows(conn, f"""
        WITH days AS ({days})
        SELECT days.d, COUNT(*) FROM report_cases c CROSS JOIN days
        WHERE c.exit_state IN ({established}) AND c.exit_day BETWEEN :first - days.d AND :last - days.d
          AND c.exit_day <= :today - days.d{scope.where('c.exit_municipality')}
        GROUP BY days.d""", scope.params())
    recorded = _rows(conn, f"""
        SELECT f.day, f.status, COUNT(*) FROM followups f JOIN report_cases c ON c.case_id = f.case_id
        WHERE c.exit_state IN ({established}) AND c.exit_day BETWEEN :first - f.day AND :last - f.day
          AND c.exit_day <= :today - f.day{scope.where('c.exit_municipality')}
        GROUP BY f.day, f.status""", scope.params())
    rows = [(d, None, n) for d, n in due] + [(d, status, n) for d, status, n in recorded]
    per = {d: {"due": 0, "recorded": 0, "by_status": {s: 0 for s in FOLLOWUP_STATUSES}} for d in FOLLOWUP_DAYS}
    for d, status, n in rows:
        if status is None:
            per[d]["due"] += n
        else:
            per[d]["recorded"] += n
            per[d]["by_status"][status] = per[d]["by_status"].get(status, 0) + n
    labels = {"work": ("Arbete", "Work"), "own_business": ("Eget företagande", "Own business"),
              "studies": ("Reguljära studier", "Regular studies"), "unemployed": ("Utan arbete", "Unemployed"),
              "unknown": ("Okänt", "Unknown")}
    return {"status_labels": {s: labels[s][scope.lang == "en"] for s in FOLLOWUP_STATUSES},
            "days": [{"day": d, **v, "missing": v["due"] - v["recorded"],
                      "share_recorded": _share(v["recorded"], v["due"]),
                      "share_still_established": _share(sum(v["by_status"][s] for s in ("work", "own_business",
                                                                                         "studies")),
                                                        v["recorded"])}
                     for d, v in per.items()]}


def method(scope: Scope) -> dict:
    en = scope.lang == "en"
    return {
        "percentiles": ("linear between closest ranks (as PostgreSQL percentile_cont), on whole days"
                        if en else "linjär mellan närmaste rangplatser (som PostgreSQL percentile_cont), i hela dagar"),
        "days": ("Stockholm calendar days; days on hold (vilande) are not counted" if en
                 else "kalenderdagar (Stockholm); vilande dagar räknas inte"),
        "where": ("a stay counts where the case was when it left the stage; an exit where the case was at the exit"
                  if en else "en vistelse räknas där ärendet var när steget lämnades; ett avslut där ärendet var då"),
        "period": ("stays and exits that ended in the period; starters registered in the period" if en
                   else "vistelser och avslut som slutade under perioden; startande inskrivna under perioden"),
        "within_two_years": ("established on or before the establishment due date (two years from the permit or "
                             "later reception, moved by time on hold)" if en
                             else "etablerad senast etableringsdatumet (två år från uppehållstillstånd eller senare "
                                  "mottagande, flyttat med vilande tid)"),
        "curve_month": "365.25/12 days",
    }
