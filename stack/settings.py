"""The production topology's settings, read from one place for both ways of running it:
`stack/stack.env` (KEY=VALUE lines; compose.yaml reads the same file as its env_file),
then the environment, which overrides any of them, then the command line's options.

The PostgreSQL server's address is the only thing each topology adds: here
`ETABLERA_STACK_SERVER` (default the loopback server, user postgres, trust), in compose
the `postgres` service.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code

ENV_FILE = Path(__file__).with_name("stack.env")
HAPROXY_CONFIG = Path(__file__).with_name("haproxy.cfg")
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SERVER_VARIABLE = "ETABLERA_STACK_SERVER"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments skipped (the subset compose reads alike)."""
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BadInput("key_value_expected", field=f"{path.name}:{number}", pair=Code(line))
        values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class StackSettings:
    server: str                     # the PostgreSQL server, without a database
    database: str                   # the application's database on it
    prefect_database: str           # the Prefect server's
    port: int                       # HAProxy
    web_ports: tuple[int, ...]      # one per replica
    prefect_port: int
    work_pool: str
    workers: int
    threads: int
    values: dict = field(default_factory=dict)   # every variable of the file and its overrides
    host: str = "127.0.0.1"

    @property
    def database_url(self) -> str:
        return f"{self.server}/{self.database}"

    @property
    def prefect_database_url(self) -> str:
        """The Prefect server's database through asyncpg, the driver it runs on."""
        scheme, rest = self.server.split("://", 1)
        return f"postgresql+asyncpg://{rest}/{self.prefect_database}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def environment(self) -> dict[str, str]:
        """What every process of the stack gets on top of the launcher's environment. The
        reminders' links lead through HAProxy unless ETABLERA_BASE_URL is set."""
        return {"ETABLERA_BASE_URL": os.environ.get("ETABLERA_BASE_URL") or self.url.rstrip("/"),
                **self.values, "ETABLERA_DATABASE_URL": self.database_url,
                "ETABLERA_TRUSTED_PROXIES": self.host, "PREFECT_API_URL": self.api_url,
                "ETABLERA_WORK_POOL": self.work_pool}


def _port(value: str, name: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise BadInput("field_not_valid", field=name, detail=Code(value))
    return port


def load(env_file: Path | None = None, environ: Mapping[str, str] = os.environ, **options) -> StackSettings:
    """The settings: the file, then `environ` for any key the file has (and the server's),
    then the options given (None leaves a value as it is)."""
    values = read_env_file(env_file or ENV_FILE)
    values.update({key: environ[key] for key in values if key in environ})
    ports = tuple(_port(p.strip(), "ETABLERA_STACK_WEB_PORTS")
                  for p in values.get("ETABLERA_STACK_WEB_PORTS", "8001,8002").split(",") if p.strip())
    settings = StackSettings(
        server=environ.get(SERVER_VARIABLE, DEFAULT_SERVER).rstrip("/"),
        database=values.get("ETABLERA_STACK_DATABASE", "etablera_stack"),
        prefect_database=values.get("ETABLERA_STACK_PREFECT_DATABASE", "etablera_stack_prefect"),
        port=_port(values.get("ETABLERA_STACK_PORT", "8080"), "ETABLERA_STACK_PORT"),
        web_ports=ports,
        prefect_port=_port(values.get("ETABLERA_STACK_PREFECT_PORT", "4200"), "ETABLERA_STACK_PREFECT_PORT"),
        work_pool=values.get("ETABLERA_WORK_POOL", "etablera"),
        workers=int(values.get("ETABLERA_STACK_WORKERS", "2")),
        threads=int(values.get("ETABLERA_WEB_THREADS", "4")),
        values=values)
    settings = replace(settings, **{k: v for k, v in options.items() if v is not None})
    if len(settings.web_ports) != 2:        # stack/haproxy.cfg names two replicas, as compose.yaml runs two
        raise BadInput("field_not_valid", field="web-ports",
                       detail=Code("two ports: " + ",".join(map(str, settings.web_ports))))
    for name, value in (("ETABLERA_STACK_DATABASE", settings.database),
                        ("ETABLERA_STACK_PREFECT_DATABASE", settings.prefect_database)):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):     # it is put in CREATE DATABASE
            raise BadInput("field_not_valid", field=name, detail=Code(value))
    every = [settings.port, *settings.web_ports, settings.prefect_port]
    if len(set(every)) != len(every):
        raise BadInput("field_not_valid", field="port", detail=Code("one port each: " + ",".join(map(str, every))))
    return settings
