"""The `etablera` command. Imports nothing of Prefect: a case officer's command answers fast.

Exit codes: 0 done; 2 bad input (the message names the field, nothing written); 3 not
permitted in the current state, or a rule refused it; 4 the case changed concurrently
(safe to retry); 1 anything else.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import emit, fail
from etablera.models.configuration import ConfigError, get_config
from etablera.statemachine.errors import EtableraError

# Command groups by name and where they live: imported only when used, so a case
# officer's `etablera case show` loads the case commands and nothing else.
LAZY_COMMANDS = {
    "case": "etablera.interfaces.cli.cases:case",
    "measure": "etablera.interfaces.cli.measures:measure",
    "audit": "etablera.interfaces.cli.audit:audit",
    "agreement": "etablera.interfaces.cli.agreements:agreement",
    "grant": "etablera.interfaces.cli.agreements:grant",
    "track": "etablera.interfaces.cli.tracks:track",
    "deadlines": "etablera.interfaces.cli.deadlines:deadlines",
    "reminders": "etablera.interfaces.cli.deadlines:reminders_group",
    "officer": "etablera.interfaces.cli.deadlines:officer",
    "serve": "etablera.interfaces.cli.deadlines:serve",
    "report": "etablera.interfaces.cli.report:report",
    "followup": "etablera.interfaces.cli.report:followup",
    "web": "etablera.interfaces.cli.web:web",
    "user": "etablera.interfaces.cli.web:user",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attribute = LAZY_COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """etablera: the individual's module process for newcomers (nyanlända)."""


@cli.command()
@common
def init(options):
    """Create or upgrade the database (safe to run again)."""
    from etablera.models.database import database_url, get_engine, upgrade
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
    from etablera.models.ladder import get_reminder_config
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
                + (", endast arbetsdagar" if r["schedule"]["working_days_only"] else ""),
                f"Månadsrapport: {r['report']['cron']} ({r['report']['timezone']}), "
                f"till {r['report']['folder']}/ÅÅÅÅ-MM/"]
        return "\n".join(out)
    emit(options, doc, text)


@cli.group()
def process():
    """The process itself, generated from its table."""


@process.command()
@common
def diagram(options):
    """The process as a mermaid stateDiagram-v2."""
    from etablera.statemachine.diagram import mermaid
    text = mermaid(options.lang)
    emit(options, {"mermaid": text}, lambda d: d["mermaid"].rstrip())


@process.command()
@common
def docs(options):
    """The process as Markdown: states, triggers and the data each needs."""
    from etablera.statemachine.docs import markdown
    text = markdown(options.lang)
    emit(options, {"markdown": text}, lambda d: d["markdown"].rstrip())


@cli.command()
@click.option("--cases", default=0, help="Create N synthetic cases (bulk).")
@click.option("--seed", default=1, show_default=True)
@click.option("--walkthrough", is_flag=True, help="Register a few cases and walk them through the process.")
@common
def demo(options, cases, seed, walkthrough):
    """Synthetic data: a walkthrough, or a cohort of N realistic cases."""
    from etablera.models.database import get_engine
    from etablera.demo import cohort
    engine = get_engine()
    if walkthrough:
        cohort.walkthrough(engine, echo=click.echo, lang=options.lang)
    if cases:
        stats = cohort.generate(engine, cases, seed=seed)
        emit(options, stats, lambda d: f"created {d['cases']} cases with {d['events']} events and "
                                       f"{d['measures']} measures in {d['seconds']:.1f} s")
    if walkthrough or cases:
        from etablera.access.accounts import add_demo_users, demo_users_text
        # Beside the one JSON document on stdout (--json), the logins go to stderr.
        click.echo(f"\nWeb interface: `etablera web`, then http://127.0.0.1:8000/ — "
                   f"{demo_users_text(add_demo_users(engine))}", err=options.as_json)


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
    except Exception as exc:  # noqa: BLE001 - sorted below; sqlalchemy is imported only if it was used
        _database_error(exc, as_json)


def _database_error(exc: Exception, as_json: bool) -> None:
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
        detail = str(getattr(exc, "orig", ""))
        if isinstance(exc, OperationalError) and "locked" in detail:
            fail("the database is busy with another change; nothing was written, try again", 4, as_json)
        if isinstance(exc, (OperationalError, ProgrammingError)) and ("no such table" in detail
                                                                       or "does not exist" in detail):
            fail("the database has no tables yet: run `etablera init`", 1, as_json)
        if isinstance(exc, DBAPIError):
            # Constraint messages can quote the row (an identity number): name only the kind.
            fail(f"database refused the change ({type(exc.orig).__name__}); nothing was written", 1, as_json)
    if os.environ.get("ETABLERA_DEBUG"):
        raise exc
    fail(f"unexpected error ({type(exc).__name__}); set ETABLERA_DEBUG=1 for details", 1, as_json)


if __name__ == "__main__":
    main()
