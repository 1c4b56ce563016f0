"""The `etablera` command. Imports nothing of Prefect: a case officer's command answers fast.

Exit codes: 0 done; 2 bad input (the message names the field, nothing written); 3 not
permitted in the current state, or a rule refused it; 4 the case changed concurrently
(safe to retry); 1 anything else.

A refusal is printed as one line on stderr, `error: field: text (hint)`, its text in the
language of --lang (else ETABLERA_LANG, else Swedish) and the hint naming the flag that
gives the field; with --json, stdout has {"error": {"code", "field", "message", "exit_code"}}.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from pathlib import Path

import click

from etablera.interfaces.cli.common import LazyGroup, common
from etablera.interfaces.cli.output import emit, fail, progress, wording
from etablera.models.configuration import ConfigError
from etablera.statemachine.errors import BadInput, ConcurrentChange, EtableraError
from etablera.statemachine.messages import Code, format_number

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
    "import": "etablera.interfaces.cli.importing:import_cases",
    "extract": "etablera.interfaces.cli.extract:extract_command",
    "backup": "etablera.interfaces.cli.backup:backup",
    "restore": "etablera.interfaces.cli.backup:restore",
    "gallring": "etablera.interfaces.cli.gallring:gallring",
    "stack": "etablera.interfaces.cli.stack:stack",
    "migrate": "etablera.interfaces.cli.migrate:migrate",
    "webhook": "etablera.interfaces.cli.webhooks:webhook",
}


# The words of `init` and `demo`, Swedish and English: the text follows --lang.
WORDS = {
    "database_ready": ("databasen är klar, version {revision}: {database}",
                       "database ready at revision {revision}: {database}"),
    "audit_key": ("granskningsnyckeln: {file}{created} (säkerhetskopiera den skild från databasen)",
                  "the audit key: {file}{created} (back it up apart from the database)"),
    "audit_key_created": (" (skapad nu)", " (created now)"),
    "cohort_progress": ("Skapar ärenden", "Creating cases"),
    "cohort": ("skapade {cases} ärenden med {events} händelser och {measures} insatser på {seconds} s",
               "created {cases} cases with {events} events and {measures} measures in {seconds} s"),
    "web": ("Webbgränssnitt: `etablera web`, sedan http://127.0.0.1:8000/", "Web interface: `etablera web`, then "
            "http://127.0.0.1:8000/"),
    "demo_users": ("demoanvändare (lösenord: {password}):", "demo users (password: {password}):"),
    "all_municipalities": ("alla kommuner", "all municipalities"),
    "demo_mailbox": ("påminnelser: {users} handläggare och samordnare har e-postadress (ID@example.org) och en "
                     "egen brevlåda, {mailbox}/ID.log; `etablera deadlines check` skickar dit",
                     "reminders: {users} officers and coordinators have an e-mail address (ID@example.org) and a "
                     "mailbox of their own, {mailbox}/ID.log; `etablera deadlines check` delivers there"),
}


_w = wording(WORDS)


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """etablera: the individual's module process for newcomers (nyanlända)."""


@cli.command()
@common
def init(options):
    """Create or upgrade the database (safe to run again)."""
    from etablera.cases.audit_key import ensure_key
    from etablera.models.database import database_url, get_engine, upgrade
    revision = upgrade(get_engine())
    key_file, created = ensure_key(get_engine())        # the audit key: the path only, never the key
    url = database_url()
    shown = url.split("@")[-1] if "@" in url else url
    emit(options, {"database": shown, "revision": revision, "audit_key_file": str(key_file),
                   "audit_key_created": created},
         lambda d: "\n".join([_w("database_ready", options.lang, revision=d["revision"], database=d["database"]),
                              _w("audit_key", options.lang, file=d["audit_key_file"],
                                 created=_w("audit_key_created", options.lang) if created else "")]))


@cli.group()
def config():
    """The effective configuration: each file from the first of $ETABLERA_CONFIG_DIR,
    ./config and the packaged defaults that has it."""


@config.command("show")
@common
def config_show(options):
    """Every section of the configuration and the file it came from."""
    from etablera.models.config_catalog import effective
    with _config_refused(options.as_json):
        doc = effective(options.lang)
    emit(options, doc, lambda d: _config_text(d, options.lang))


@config.command("schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of stdout (the repository keeps config/schema.json).")
@click.option("--file", "name", default=None, help="One file's schema only, e.g. measures.toml or 'agreements/*.toml'.")
@common
def config_schema(options, output, name):
    """The JSON Schema of every configuration file (for editors), from the models that read them.
    It is JSON whatever --json says; --lang gives the language of a refusal."""
    from etablera.models.config_catalog import FILES, file_schema, json_schema
    if name is not None and name not in FILES:
        raise BadInput("unknown_choice", field="file", choices=[Code(f) for f in FILES])
    text = json.dumps(json_schema() if name is None else file_schema(name), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def _config_refused(as_json: bool):
    """A broken configuration file: exit 2, one line per problem naming the file and the key
    path (with --json one document: {"error": {..., "issues": [...]}})."""
    try:
        yield
    except ConfigError as exc:
        lines = [str(i) for i in exc.issues] or [str(exc)]
        if as_json:
            click.echo(json.dumps({"error": {"code": "configuration_error", "exit_code": 2, "field": exc.field,
                                             "message": "\n".join(lines),
                                             "issues": [i.as_dict() for i in exc.issues]}}, ensure_ascii=False))
        for line in lines:
            click.echo(f"error: {line}", err=True)
        sys.exit(2)


def _config_text(d: dict, lang: str) -> str:
    from etablera.models.config_files import DEFAULT_DIR, shown

    def src(section: str) -> str:
        source = d["sources"].get(section)
        return f" [{shown(source) if source and not source.startswith('$') else source or 'inbyggt standardvärde'}]"

    packaged = DEFAULT_DIR.resolve()
    out = ["Konfiguration (sökordning): " + " → ".join(
               shown(p) + (" (paketets standard)" if Path(p).resolve() == packaged else "") for p in d["search_path"]),
           "", "Målgrupper" + src("target_groups") + ":"]
    out += [f"  {g['code']}: {g[lang]} ({g['min_age']}–{g['max_age']} år)" for g in d["target_groups"]]
    out += ["", "Insatstyper (typisk längd)" + src("measure_types") + ":"]
    out += [f"  {code:<24} {m[lang]} ({m['duration']})" for code, m in d["measure_types"].items()]
    for category, codes in d["reasons"].items():
        out += ["", f"Skäl ({category}){src('reasons')}:"] + [f"  {code:<24} {l[lang]}" for code, l in codes.items()]
    out += ["", "Tidsramar" + src("time_frames") + ":"]
    out += [f"  {stage:<20} " + ", ".join(f"{g}: {f}" for g, f in frames.items())
            for stage, frames in d["time_frames"]["stages"].items()]
    out.append(f"  {'etablering':<20} {d['time_frames']['establishment']}")
    out += ["", "Nationella snabbspår" + src("fast_tracks") + ":"]
    out += [f"  {code:<24} {t[lang]}" for code, t in d["fast_tracks"].items()]
    out += ["", f"Kommuner: {len(d['municipalities'])}, län: {len(d['counties'])}{src('municipalities')}",
            f"AF-kontor: {', '.join(d['af_offices']) or '-'}{src('af_offices')}",
            f"Poäng per vecka (spårens kurser): {d['components']['points']['points_per_week']}{src('components')}",
            "Statsbidrag: " + "; ".join(f"{b['min']}–{b['max'] if b['max'] is not None else ''}: {b['amount']} kr"
                                        for b in d["grant"]["bands"]) + src("grant"),
            f"Överenskommelser: {', '.join(d['agreements']['files']) or '-'}{src('agreements')}"]
    r = d["reminders"]
    for subject, rungs in r["ladders"].items():
        out += ["", f"Påminnelsetrappa ({subject}){src('reminders')}:"]
        out += [f"  {x['step']:<12} {x['at']:<18} till {', '.join(x['to'])}" for x in rungs]
    overridden = {key: src(key) if key in d["sources"] else "" for key in
                  ("reminders.delivery.default_url", "reminders.report.folder")}
    out += ["", f"Utskick: standardkanal {r['delivery']['default_url']}{overridden['reminders.delivery.default_url']}, "
                f"högst {r['delivery']['max_attempts']} försök",
            f"Schema: {r['schedule']['cron']} ({r['schedule']['timezone']})"
            + (", endast arbetsdagar" if r["schedule"]["working_days_only"] else ""),
            f"Månadsrapport: {r['report']['cron']} ({r['report']['timezone']}), "
            f"till {r['report']['folder']}/ÅÅÅÅ-MM/{overridden['reminders.report.folder']}"]
    return "\n".join(out)


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
        from etablera.demo.bulk import write_cohort
        with progress(options, _w("cohort_progress", options.lang)) as advance:
            stats = write_cohort(engine, cases, seed=seed, progress=advance)
        emit(options, stats, lambda d: _w("cohort", options.lang, cases=d["cases"], events=d["events"],
                                          measures=d["measures"],
                                          seconds=format_number(d["seconds"], options.lang, digits=1)))
    if walkthrough or cases:
        from etablera.access.accounts import add_demo_users
        mailbox = cohort.register_recipients(engine, cohort.default_mailbox(engine))
        # Beside the one JSON document on stdout (--json), the logins go to stderr.
        click.echo(f"\n{_w('web', options.lang)} — {_demo_users(add_demo_users(engine), options.lang)}",
                   err=options.as_json)
        click.echo(_w("demo_mailbox", options.lang, **mailbox), err=options.as_json)


def _demo_users(doc: dict, lang: str) -> str:
    """The demo logins (access.accounts.add_demo_users) in `lang`."""
    return "\n".join([_w("demo_users", lang, password=doc["password"])]
                     + [f"  {u['id']:<16} {u['role']:<12} {u['organisation']:<6} "
                        f"{u['municipality'] or u['office'] or _w('all_municipalities', lang)}" for u in doc["users"]])


def run() -> None:
    """The console script `etablera`: `main`, then out without the interpreter's last
    garbage collection.

    Leaving, Python collects every object the command made or imported; for SQLAlchemy's
    objects alone that is about 40 ms, a fifth of `etablera case show`. The connections
    are closed first (`dispose_engines`), and then every object still alive is set aside
    from collection (`gc.freeze`), so the collection at exit finds nothing to do. The
    process's memory goes back to the system as with any exit; what a command wrote is
    committed before it returns. Only the console script does this: a test or a program that
    calls `main` goes on collecting as usual."""
    try:
        main()
    finally:
        database = sys.modules.get("etablera.models.database")     # not imported by every command
        if database is not None:
            database.dispose_engines()
        gc.freeze()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    lang = _lang(args)
    try:
        cli.main(args=args, prog_name="etablera", standalone_mode=False)
    except EtableraError as exc:
        _refuse(exc, args, as_json, lang)
    except ConfigError as exc:      # a broken file is bad input: exit 2, naming the file and the key path
        _refuse(BadInput("configuration_error", field=exc.field, detail=Code(str(exc))), args, as_json, lang)
    except click.exceptions.Abort:
        _refuse(EtableraError("aborted"), args, as_json, lang)
    except click.UsageError as exc:
        _refuse(_usage(exc), args, as_json, lang)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - sorted below; sqlalchemy is imported only if it was used
        _database_error(exc, args, as_json, lang)


def _lang(args: list[str]) -> str:
    """The language of every line printed: --lang (also before the command fails to parse),
    else ETABLERA_LANG, else Swedish."""
    lang = os.environ.get("ETABLERA_LANG", "sv")
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            lang = args[i + 1]
        elif arg.startswith("--lang="):
            lang = arg.split("=", 1)[1]
    return lang if lang in ("sv", "en") else "sv"


def _usage(exc: click.UsageError) -> BadInput:
    """click's refusal of the command line as a catalogue code (click's own words are
    English): an unknown option or command, a missing one, a value of the wrong kind."""
    import re
    param = getattr(exc, "param", None)
    field = getattr(param, "name", None)
    if isinstance(exc, click.NoSuchOption):
        return BadInput("usage_no_such_option", option=Code(exc.option_name))
    if param is not None:
        option = Code(max(param.opts, key=len) if isinstance(param, click.Option) else param.human_readable_name)
        if isinstance(exc, click.MissingParameter):
            return BadInput("usage_missing", field=field, option=option)
        if isinstance(exc, click.BadParameter) and isinstance(param.type, click.Choice):
            return BadInput("usage_bad_choice", field=field, option=option,
                            choices=[Code(str(c)) for c in param.type.choices])
        if isinstance(exc, click.BadParameter):
            return BadInput("usage_bad_value", field=field, option=option)
    command = re.match(r"No such command '(.+)'", exc.format_message())
    if command:
        return BadInput("usage_no_such_command", command=Code(command.group(1)))
    return BadInput("usage_error", field=field, detail=Code(exc.format_message()))


def _refuse(exc: EtableraError, args: list[str], as_json: bool, lang: str) -> None:
    """The refusal in `lang`, with the CLI's hint (the flag that gives the field)."""
    from etablera.interfaces.cli.hints import command_for, hint
    try:
        shown = hint(exc, command_for(cli, args), lang)
    except Exception:  # noqa: BLE001 - a hint never hides the refusal
        shown = None
    fail(exc, as_json, lang, shown)


def _database_error(exc: Exception, args: list[str], as_json: bool, lang: str) -> None:
    from etablera.models.outage import outage
    found = outage(exc)
    if found is not None:
        # The log's line says what is wrong (never the driver's text: it can quote a row);
        # the user's line says it in their language.
        import logging
        logging.getLogger("etablera.cli").error(found.log_line)
        _refuse(EtableraError(found.code), args, as_json, lang)
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
        detail = str(getattr(exc, "orig", ""))
        if isinstance(exc, OperationalError) and "locked" in detail:
            _refuse(ConcurrentChange("database_busy"), args, as_json, lang)
        if isinstance(exc, (OperationalError, ProgrammingError)) and ("no such table" in detail
                                                                       or "does not exist" in detail):
            _refuse(EtableraError("database_not_initialised"), args, as_json, lang)
        if isinstance(exc, DBAPIError):
            # Constraint messages can quote the row (an identity number): name only the kind.
            _refuse(EtableraError("database_refused", kind=type(exc.orig).__name__), args, as_json, lang)
    if os.environ.get("ETABLERA_DEBUG"):
        raise exc
    _refuse(EtableraError("unexpected_error", kind=type(exc).__name__), args, as_json, lang)


if __name__ == "__main__":
    main()
