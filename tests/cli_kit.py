"""Running `etablera` in-process (fast) and counting what a command wrote."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass

from sqlalchemy import create_engine, text

TABLES = ("cases", "audit_events", "measures")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def doc(self):
        return json.loads(self.out)

    @property
    def both(self) -> str:
        return self.out + self.err


def etablera(*args: str) -> Result:
    """`etablera ARGS` in this process (the environment decides the database and actor)."""
    from etablera.interfaces.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def ok(*args: str) -> dict | list:
    """Run with --json, assert exit 0, return the document."""
    result = etablera(*args, "--json")
    assert result.code == 0, (args, result)
    return result.doc


def counts(url: str, tables=TABLES) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    finally:
        engine.dispose()


def register(person: str, municipality: str = "0581", at: str = "2025-03-03T10:00", permit: str = "2025-01-15",
             *extra: str) -> dict:
    return ok("case", "register", "--person", person, "--municipality", municipality, "--permit-date", permit,
              "--at", at, *extra)


def advance(case_id: int, trigger: str, *extra: str) -> dict:
    return ok("case", "advance", str(case_id), trigger, *extra)


def person_forms(person: str) -> list[str]:
    """The ways an identity number could leak into a message."""
    digits = person.replace("-", "").replace("+", "")
    return [digits, digits[2:], person, person[2:], digits[:8] + "-" + digits[8:]]
