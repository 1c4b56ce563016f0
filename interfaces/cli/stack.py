"""`etablera stack up`: the production topology (compose.yaml's services) on loopback,
without containers. The launcher is etablera/stack/launcher.py; the settings are
stack/stack.env, shared with compose.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from etablera.interfaces.cli.common import common
from etablera.interfaces.cli.output import wording

WORDS = {
    "started": ("{name} startad, pid {pid} {url}", "{name} started, pid {pid} {url}"),
    "exited_at_start": ("{name} avslutades under starten (kod {code})", "{name} exited while starting (code {code})"),
    "not_ready": ("{name} blev inte redo på {seconds} s", "{name} was not ready within {seconds} s"),
    "step_failed": ("steget {name} misslyckades (kod {code}); stoppar", "the step {name} failed (code {code}); stopping"),
    "ready": ("redo: {url} (HAProxy), Prefect {prefect}; Ctrl-C stoppar allt",
              "ready: {url} (HAProxy), Prefect {prefect}; Ctrl-C stops everything"),
    "restarting": ("{name} dog ({how}); startar den igen om {seconds} s",
                   "{name} died ({how}); starting it again in {seconds} s"),
    "stopping": ("stoppar alla processer", "stopping every process"),
    "killing": ("{name} stoppade inte i tid; dödar den", "{name} did not stop in time; killing it"),
    "stopped": ("allt stoppat", "everything stopped"),
    "no_haproxy": ("haproxy saknas (apt-get install haproxy)", "haproxy is missing (apt-get install haproxy)"),
    "database_created": ("databasen {name} skapad", "database {name} created"),
    "databases_exist": ("databaserna finns redan: {names}", "the databases exist already: {names}"),
    "database_down": ("PostgreSQL svarar inte på {server}: {detail}", "PostgreSQL does not answer at {server}: {detail}"),
}

_w = wording(WORDS)


@click.group()
def stack():
    """The production topology without containers: what compose.yaml runs, as processes on
    loopback."""


@stack.command("up")
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The settings file (default: the package's stack/stack.env, the one compose.yaml reads); "
                   "the environment overrides any of its values.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="HAProxy's port [ETABLERA_STACK_PORT, 8080].")
@click.option("--web-ports", default=None, metavar="P1,P2",
              help="The two web replicas' ports [ETABLERA_STACK_WEB_PORTS, 8001,8002].")
@click.option("--prefect-port", type=click.IntRange(1, 65535), default=None,
              help="The Prefect server's port [ETABLERA_STACK_PREFECT_PORT, 4200].")
@click.option("--workers", type=click.IntRange(1, 16), default=None,
              help="Prefect workers in the work pool [ETABLERA_STACK_WORKERS, 2].")
@click.option("--no-prefect", is_flag=True, help="Leave out the Prefect server, the deployments and the workers.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/stack"),
              show_default=True, help="Where status.json (each process's pid) and HAProxy's admin socket are.")
@common(keep=False)
def up(options, env_file, port, web_ports, prefect_port, workers, no_prefect, run_dir):
    """Start the production topology on 127.0.0.1 and keep it running until Ctrl-C or SIGTERM.

    \b
    In order, from one set of settings (--env-file, the environment, these options):
      1. the databases on the PostgreSQL server $ETABLERA_STACK_SERVER
         (default postgresql+psycopg://postgres@127.0.0.1:5432): the application's
         (ETABLERA_STACK_DATABASE) and the Prefect server's, created if missing;
      2. `etablera migrate`, once;
      3. the Prefect server on its PostgreSQL database;
      4. two `etablera web` replicas, ETABLERA_ENV=production, each waited for until /readyz is 200;
      5. HAProxy (Debian's haproxy; stack/haproxy.cfg, as in compose.yaml): least connections,
         /readyz checked every 500 ms, a failed connection retried on the other replica;
      6. the deployments registered to the work pool ETABLERA_WORK_POOL, and the workers.
    A process that dies is started again, and the launcher says so. Ctrl-C or SIGTERM stops
    every process it started (each process group; SIGKILL after 15 s). Its status file
    RUN_DIR/status.json names each process's pid; HAProxy's admin socket is RUN_DIR/haproxy.sock
    (`echo "show stat" | socat - RUN_DIR/haproxy.sock`)."""
    from etablera.stack.launcher import Launcher
    from etablera.stack.settings import load
    from etablera.statemachine.errors import BadInput
    from etablera.statemachine.messages import Code
    ports = None
    if web_ports is not None:
        try:
            ports = tuple(int(p) for p in web_ports.split(",") if p.strip())
        except ValueError:
            raise BadInput("field_not_valid", field="web-ports", detail=Code(web_ports)) from None
    settings = load(env_file, port=port, web_ports=ports, prefect_port=prefect_port, workers=workers)
    _reachable(settings, options.lang)
    launcher = Launcher(settings, run_dir.resolve(), prefect=not no_prefect,
                        say=lambda key, **values: _w(key, options.lang, **values), lang=options.lang)
    sys.exit(launcher.up())


def _reachable(settings, lang: str) -> None:
    """The PostgreSQL server answers, or one line saying it does not (exit 1)."""
    from sqlalchemy import create_engine, text
    engine = create_engine(f"{settings.server}/postgres", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - the driver's many ways of saying "not there"
        shown = settings.server.split("@")[-1]
        click.echo(f"error: {_w('database_down', lang, server=shown, detail=type(exc.__cause__ or exc).__name__)}",
                   err=True)
        sys.exit(1)
    finally:
        engine.dispose()


@stack.command("databases")
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The settings file (default: the package's stack/stack.env).")
@common
def databases(options, env_file):
    """Create the application's and the Prefect server's databases on $ETABLERA_STACK_SERVER
    when missing (what `stack up` does first; compose.yaml's migrate step runs it before
    `etablera migrate`)."""
    from etablera.interfaces.cli.output import emit
    from etablera.stack.databases import ensure_databases
    from etablera.stack.settings import load
    settings = load(env_file)
    _reachable(settings, options.lang)
    created = ensure_databases(settings.server, [settings.database, settings.prefect_database])
    emit(options, {"created": created, "databases": [settings.database, settings.prefect_database]},
         lambda d: "\n".join(_w("database_created", options.lang, name=n) for n in d["created"])
         or _w("databases_exist", options.lang, names=", ".join(d["databases"])))
