"""A command that reads answers in little more than its imports: `case show`, `case list`
and `case history` import SQLAlchemy Core and the product's own small modules, never the
table-declaring ORM, the configuration's validators, the date library or the charts
(`python -X importtime` lists every module a run imports).

The first command after a configuration file changes validates it, and so imports
pydantic; the commands after it read the snapshot (models/snapshot.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

# On SQLite, the PostgreSQL dialect neither (the tables' PostgreSQL index options are read
# only by DDL: models/metadata.Index), nor argon2 (no password is checked).
NEVER = {"sqlmodel", "pydantic", "pydantic_core", "pendulum", "matplotlib", "prefect", "fastapi", "sqlalchemy.orm",
         "babel", "openpyxl", "structlog", "authlib", "jinja2", "sqlalchemy.dialects.postgresql", "argon2"}
# As the console script runs it (pyproject's [project.scripts]).
CODE = "import sys; from etablera.interfaces.cli.main import run; sys.argv[0] = 'etablera'; sys.exit(run())"


def _run(env: dict, *args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    flags = ["-X", "importtime"] if importtime else []
    done = subprocess.run([sys.executable, *flags, "-c", CODE, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _imported(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _forbidden(names: set[str]) -> set[str]:
    return {n for n in names if n in NEVER or n.split(".")[0] in NEVER
            or any(n.startswith(f"{never}.") for never in NEVER if "." in never)}


@pytest.fixture
def env(tmp_path, sqlite_url) -> dict:
    return {**os.environ, "ETABLERA_DATABASE_URL": sqlite_url, "ETABLERA_ACTOR": "handl01",
            "ETABLERA_CACHE_DIR": str(tmp_path / "snapshots")}


def test_reading_a_case_imports_no_orm_validator_or_date_library(env):
    registered = _run(env, "case", "register", "--person", "19900101-0017", "--municipality", "0180",
                      "--permit-date", "2025-01-02", "--json")
    case_id = str(json.loads(registered.stdout)["id"])
    for command in (("case", "show", case_id, "--json"), ("case", "list", "--json"),
                    ("case", "history", case_id, "--json"), ("case", "show", case_id)):
        done = _run(env, *command, importtime=True)
        imported = _imported(done.stderr)
        assert "sqlalchemy" in imported and "etablera.cases.queries" in imported, command    # the reading counted
        assert not _forbidden(imported), (command, sorted(_forbidden(imported)))
    assert json.loads(_run(env, "case", "show", case_id, "--json").stdout)["id"] == int(case_id)


def test_a_changed_configuration_file_is_validated_again(env, tmp_path):
    """The snapshot is named by the files it was made from: a changed label is read at the
    next command (and validated: pydantic imported once), then read from the new snapshot."""
    config = tmp_path / "config"
    config.mkdir()
    original = (ROOT / "config" / "municipalities.toml").read_text(encoding="utf-8")
    (config / "municipalities.toml").write_text(original, encoding="utf-8")
    env = {**env, "ETABLERA_CONFIG_DIR": str(config)}
    registered = _run(env, "case", "register", "--person", "19900101-0017", "--municipality", "0180",
                      "--permit-date", "2025-01-02", "--json")
    case_id = str(json.loads(registered.stdout)["id"])
    first = json.loads(_run(env, "case", "show", case_id, "--json").stdout)
    assert first["municipality_name"] == "Stockholm"

    (config / "municipalities.toml").write_text(original.replace('"0180" = "Stockholm"', '"0180" = "Stockholms stad"'),
                                                encoding="utf-8")
    changed = _run(env, "case", "show", case_id, "--json", importtime=True)
    assert json.loads(changed.stdout)["municipality_name"] == "Stockholms stad"
    assert "pydantic" in _imported(changed.stderr)          # validated, as a changed file must be
    again = _run(env, "case", "show", case_id, "--json", importtime=True)
    assert json.loads(again.stdout)["municipality_name"] == "Stockholms stad"
    assert not _forbidden(_imported(again.stderr))

    (config / "municipalities.toml").write_text(original.replace('[municipalities]', '[municipalities]\n"01" = 3'),
                                                encoding="utf-8")
    broken = subprocess.run([sys.executable, "-c", CODE, "case", "show", case_id], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert broken.returncode != 0 and "municipalities.toml" in broken.stderr      # a broken file is never skipped


def test_the_command_closes_its_connections_before_it_leaves_without_collecting(env, tmp_path):
    """The console script skips the interpreter's last garbage collection (gc.freeze), so it
    closes its connections itself first: SQLite's log is checkpointed and removed as at
    any last close, what was written is there for the next command, and a refusal keeps
    its exit code."""
    database = tmp_path / "own.sqlite3"            # no connection of this process on it
    env = {**env, "ETABLERA_DATABASE_URL": f"sqlite:///{database}"}
    _run(env, "init")
    registered = _run(env, "case", "register", "--person", "19900101-0017", "--municipality", "0180",
                      "--permit-date", "2025-01-02", "--json")
    case_id = json.loads(registered.stdout)["id"]
    assert not database.with_name("own.sqlite3-wal").exists()       # closed, not left to the exit
    assert json.loads(_run(env, "case", "show", str(case_id), "--json").stdout)["id"] == case_id
    refused = subprocess.run([sys.executable, "-c", CODE, "case", "show", "999999", "--json"], capture_output=True,
                             text=True, env=env, cwd=ROOT, timeout=120)
    assert refused.returncode == 2 and json.loads(refused.stdout)["error"]["field"] == "id"
    assert not database.with_name("own.sqlite3-wal").exists()
