"""The `etablera` command. Imports nothing of Prefect: a case officer's command answers fast.

Exit codes: 0 done; 2 bad input (the message names the field, nothing written); 3 not
permitted in the current state, or a rule refused it; 4 the case changed concurrently
(safe to retry); 1 anything else.
"""

from __future__ import annotations

import os
import sys

import click
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from interfaces.cli.agreements import agreement, grant
from interfaces.cli.audit import audit
from interfaces.cli.cases import case
from interfaces.cli.common import common
from interfaces.cli.deadlines import deadlines, officer, reminders_group, serve
from interfaces.cli.measures import measure
from interfaces.cli.output import emit, fail
from interfaces.cli.tracks import track
from models.configuration import ConfigError, get_config
from statemachine.errors import EtableraError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """etablera: the individual's module process for newcomers (nyanlända)."""


@cli.command()
@common
def init(options):
    """Create or upgrade the database (safe to run again)."""
    from models.database import database_url, get_engine, upgrade
    revision = upgrade(get_engine())
    url = database_url()
    shown = url.split("@")[-1] if "@" in url else url
    emit(options, {"database": shown, "revision": revision}, lambda d: f"database ready at revision {d['revision']}: {d['database']}")


@cli.group()
def config():
    """The effective configuration."""


@config.command("show")
@common
def config_show(options):
    """Measure types, reason codes, target groups, fast tracks and time frames."""
    from models.ladder import get_reminder_config
    doc = get_config().as_dict(options.lang)
    doc["reminders"] = get_reminder_config().as_dict()

    def text(d):
        lang = options.lang
        out = [f"Konfiguration: {d['directory']}", "", "Målgrupper:"]
        out += [f"  {g['code']}: {g[lang]} ({g['min_age']}–{g['max_age']} år)" for g in d["target_groups"]]
        out += ["", "Insatstyper (typisk längd):"]
        out += [f"  {code:<24} {m[lang]} ({m['duration']})" for code, m in d["measure_types"].items()]
        for category, codes in d["reasons"].items():
            out += ["", f"Skäl ({category}):"] + [f"  {code:<24} {l[lang]}" for code, l in codes.items()]
        out += ["", "Tidsramar:"] + [f"  {stage:<20} " + ", ".join(f"{g}: {f}" for g, f in frames.items())
                                    for stage, frames in d["time_frames"]["stages"].items()]
        out.append(f"  {'etablering':<20} {d['time_frames']['establishment']}")
        out += ["", "Nationella snabbspår:"] + [f"  {code:<24} {t[lang]}" for code, t in d["fast_tracks"].items()]
        r = d["reminders"]
        for subject, rungs in r["ladders"].items():
            out += ["", f"Påminnelsetrappa ({subject}):"] + [f"  {x['step']:<12} {x['at']:<18} till {', '.join(x['to'])}"
                                                             for x in rungs]
        out += ["", f"Utskick: standardkanal {r['delivery']['default_url']}, högst {r['delivery']['max_attempts']} försök",
                f"Schema: {r['schedule']['cron']} ({r['schedule']['timezone']})"
                + (", endast arbetsdagar" if r["schedule"]["working_days_only"] else "")]
        return "\n".join(out)
    emit(options, doc, text)


@cli.group()
def process():
    """The process itself, generated from its table."""


@process.command()
@common
def diagram(options):
    """The process as a mermaid stateDiagram-v2."""
    from statemachine.diagram import mermaid
    text = mermaid(options.lang)
    emit(options, {"mermaid": text}, lambda d: d["mermaid"].rstrip())


@process.command()
@common
def docs(options):
    """The process as Markdown: states, triggers and the data each needs."""
    from statemachine.docs import markdown
    text = markdown(options.lang)
    emit(options, {"markdown": text}, lambda d: d["markdown"].rstrip())


@cli.command()
@click.option("--cases", default=0, help="Create N synthetic cases (bulk).")
@click.option("--seed", default=1, show_default=True)
@click.option("--walkthrough", is_flag=True, help="Register a few cases and walk them through the process.")
@common
def demo(options, cases, seed, walkthrough):
    """Synthetic data: a walkthrough, or a cohort of N realistic cases."""
    from models.database import get_engine
    from statemachine import cohort
    engine = get_engine()
    if walkthrough:
        cohort.walkthrough(engine, echo=click.echo, lang=options.lang)
    if cases:
        stats = cohort.generate(engine, cases, seed=seed)
        emit(options, stats, lambda d: f"created {d['cases']} cases with {d['events']} events and "
                                       f"{d['measures']} measures in {d['seconds']:.1f} s")


cli.add_command(case)
cli.add_command(measure)
cli.add_command(audit)
cli.add_command(agreement)
cli.add_command(grant)
cli.add_command(track)
cli.add_command(deadlines)
cli.add_command(reminders_group)
cli.add_command(officer)
cli.add_command(serve)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        cli.main(args=args, prog_name="etablera", standalone_mode=False)
    except EtableraError as exc:
        fail(str(exc), exc.exit_code, as_json, getattr(exc, "field", None))
    except ConfigError as exc:
        fail(f"configuration: {exc}", 1, as_json)
    except click.exceptions.Abort:
        fail("aborted", 1, as_json)
    except click.UsageError as exc:
        fail(exc.format_message(), 2, as_json)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OperationalError as exc:
        if "locked" in str(exc.orig):
            fail("the database is busy with another change; nothing was written, try again", 4, as_json)
        if "no such table" in str(exc.orig):
            fail("the database has no tables yet: run `etablera init`", 1, as_json)
        fail(f"database error: {exc.orig}", 1, as_json)
    except ProgrammingError as exc:
        if "does not exist" in str(exc.orig):
            fail("the database has no tables yet: run `etablera init`", 1, as_json)
        fail(f"database error: {exc.orig}", 1, as_json)
    except DBAPIError as exc:
        # Constraint messages can quote the row (an identity number): name only the kind.
        fail(f"database refused the change ({type(exc.orig).__name__}); nothing was written", 1, as_json)
    except Exception as exc:  # noqa: BLE001 - a bug: one line, no data; the trace on request
        if os.environ.get("ETABLERA_DEBUG"):
            raise
        fail(f"unexpected error ({type(exc).__name__}); set ETABLERA_DEBUG=1 for details", 1, as_json)


if __name__ == "__main__":
    main()
